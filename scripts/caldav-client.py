#!/usr/bin/env python3
"""End-to-end check of Capstone's CalDAV server with a real third-party client: the Python
`caldav` library (version pinned in scripts/caldav-requirements.txt), against a running
Capstone. `scripts/caldav-check` starts one on a fresh database, makes the two accounts and
their projects, and runs this with the environment below.

Environment (all required but the names):
  CALDAV_BASE_URL                        the server, e.g. http://127.0.0.1:8080
  CALDAV_USER, CALDAV_PASSWORD           the first account (email and password)
  CALDAV_USER_ID, CALDAV_CALENDAR_ID     its user id and its only project's id
  CALDAV_CALENDAR_NAME                   that project's name (default "Inbox")
  CALDAV_OTHER_USER, CALDAV_OTHER_PASSWORD, CALDAV_OTHER_USER_ID, CALDAV_OTHER_CALENDAR_ID,
  CALDAV_OTHER_CALENDAR_NAME (default "Bob's list")
                                         a second account and its only project

Each check prints "ok"/"FAIL"; the last line is "N passed, N failed"; exit status 1 on any
failure. Checks run in order and share state (a task is created, edited, completed, synced,
deleted), as a user's client would. The first part is the protocol; the second what the
real server does beyond it: what the client writes is what the REST API (/api/v1) shows,
and the other way round.
"""

import base64
import datetime as dt
import json
import os
import sys
import threading
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zoneinfo

import caldav
import icalendar
from caldav.elements import dav, ical
from caldav.lib import error
from lxml import etree


def setting(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"caldav-client.py: {name} is not set (see the docstring)")
    return value


BASE = setting("CALDAV_BASE_URL").rstrip("/")
USER, PASSWORD = setting("CALDAV_USER"), setting("CALDAV_PASSWORD")
USER_ID, CAL_ID = int(setting("CALDAV_USER_ID")), int(setting("CALDAV_CALENDAR_ID"))
CAL_NAME = setting("CALDAV_CALENDAR_NAME", "Inbox")
OTHER, OTHER_PASSWORD = setting("CALDAV_OTHER_USER"), setting("CALDAV_OTHER_PASSWORD")
OTHER_ID = int(setting("CALDAV_OTHER_USER_ID"))
OTHER_CAL_ID = int(setting("CALDAV_OTHER_CALENDAR_ID"))
OTHER_CAL_NAME = setting("CALDAV_OTHER_CALENDAR_NAME", "Bob's list")

PRINCIPAL = f"/dav/principals/{USER_ID}/"
HOME = f"/dav/calendars/{USER_ID}/"
CAL = f"/dav/calendars/{USER_ID}/{CAL_ID}/"
OTHER_CAL = f"/dav/calendars/{OTHER_ID}/{OTHER_CAL_ID}/"
SYNC_PREFIX = "http://capstone/ns/sync/"
NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
LONDON = zoneinfo.ZoneInfo("Europe/London")

state = {}
checks = []


def check(fn):
    checks.append(fn)
    return fn


def client(url=BASE + "/dav/", user=USER, password=PASSWORD):
    return caldav.DAVClient(url=url, username=user, password=password)


def raw(method, path, body="", headers=None, user=USER, password=PASSWORD):
    """A bare HTTP request (for answers the library turns into exceptions, and the API)."""
    req = urllib.request.Request(BASE + path, data=body.encode() if body else None,
                                 method=method)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def api(method, path, payload=None, user=USER, password=PASSWORD, expect=None):
    """The REST API with HTTP Basic: (status, parsed JSON or None)."""
    body = json.dumps(payload) if payload is not None else ""
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    code, text, _ = raw(method, "/api/v1" + path, body, headers, user, password)
    data = json.loads(text) if text.strip() else None
    if expect is not None:
        assert code == expect, (method, path, code, text)
    return code, data


def api_tasks(project=CAL_ID, user=USER, password=PASSWORD, **query):
    """Every task of a project, as the API lists them, by UID."""
    params = urllib.parse.urlencode({"project": project, "limit": 100, **query}, doseq=True)
    _, page = api("GET", f"/tasks?{params}", user=user, password=password, expect=200)
    assert page["next_cursor"] is None, "more than 100 tasks"
    return {t["uid"]: t for t in page["items"]}


def calendar():
    return state["cal"]


def uids(objs):
    return sorted(o.icalendar_component["UID"] for o in objs)


def ics(todo_lines, components=()):
    """A VCALENDAR with one VTODO (`todo_lines`, UID and all) and other components."""
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Capstone tests//caldav-client.py//EN",
            *components,
            "BEGIN:VTODO",
            *todo_lines,
            "END:VTODO",
            "END:VCALENDAR",
            "",
        ]
    )


def todo_ics(uid, summary, extra=""):
    return ics([f"UID:{uid}", "DTSTAMP:20261201T090000Z", f"SUMMARY:{summary}",
                *[line for line in extra.split("\n") if line]])


def load(url, c=None):
    return caldav.Todo(client=c or state["client"], url=url, parent=calendar()).load()


def sync_report(path, token, limit=None, user=USER, password=PASSWORD):
    """A sync-collection REPORT by hand: (hrefs changed, hrefs removed, token, truncated)."""
    limit_xml = f"<limit><nresults>{limit}</nresults></limit>" if limit else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token>'
        f"<sync-level>1</sync-level>{limit_xml}<prop><getetag/></prop></sync-collection>"
    )
    code, text, _ = raw("REPORT", path, body, {"Depth": "0", "Content-Type": "application/xml"},
                        user, password)
    assert code == 207, (code, text)
    root = etree.fromstring(text.encode())
    changed, removed, truncated = [], [], False
    for response in root.iterfind("D:response", NS):
        href = response.findtext("D:href", namespaces=NS)
        status = response.findtext("D:status", namespaces=NS) or ""
        if "507" in status:
            assert href.rstrip("/") == path.rstrip("/"), href
            truncated = True
        elif "404" in status:
            removed.append(href)
        else:
            changed.append(href)
    return changed, removed, root.findtext("D:sync-token", namespaces=NS), truncated


# --- discovery ---------------------------------------------------------------------------


@check
def discovery_from_dav_root():
    c = client()
    p = c.principal()
    assert p.url.path == PRINCIPAL, p.url
    assert p.calendar_home_set.url.path == HOME, p.calendar_home_set.url
    addresses = p.calendar_user_address_set()
    assert f"mailto:{USER}" in addresses, addresses
    state["client"], state["principal"] = c, p


@check
def discovery_from_well_known():
    # PROPFIND /.well-known/caldav → 307 → /dav/, body kept → current-user-principal.
    p = client(BASE + "/.well-known/caldav").principal()
    assert p.url.path == PRINCIPAL, p.url
    assert [c.url.path for c in p.calendars()] == [CAL]


@check
def list_calendars():
    cals = state["principal"].calendars()
    assert len(cals) == 1, cals
    cal = cals[0]
    assert cal.get_display_name() == CAL_NAME
    assert cal.get_supported_components() == ["VTODO"], cal.get_supported_components()
    state["cal"] = cal


@check
def options_advertise_calendar_access():
    c = state["client"]
    assert c.check_dav_support(), "no DAV header"
    assert c.check_cdav_support(), "no calendar-access"


@check
def initial_sync_of_empty_calendar():
    objs = calendar().objects_by_sync_token(disable_fallback=True)
    assert list(objs) == [], list(objs)
    assert objs.sync_token.startswith(SYNC_PREFIX), objs.sync_token
    state["token0"] = objs.sync_token


# --- create, list, fetch -----------------------------------------------------------------


@check
def save_todo_with_due_rrule_valarm():
    uid = f"milk-{uuid.uuid4()}@example.com"
    text = todo_ics(
        uid,
        "Buy milk",
        "DTSTART:20261201T080000Z\nDUE:20261201T180000Z\nRRULE:FREQ=WEEKLY;COUNT=10\n"
        "PRIORITY:1\nBEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:Milk!\n"
        "TRIGGER:-PT15M\nEND:VALARM",
    )
    t = calendar().save_todo(text)
    # The library names the resource after the UID; '@' travels percent-encoded.
    assert t.url.path.startswith(CAL), t.url
    assert uid.split("@")[0] in t.url.path
    state["milk_uid"], state["milk_url"] = uid, t.url


@check
def save_second_todo():
    uid = str(uuid.uuid4())
    t = calendar().save_todo(todo_ics(uid, "Pay rent", "DUE;VALUE=DATE:20270301"))
    state["rent_uid"], state["rent_url"] = uid, t.url


@check
def list_todos():
    pending = calendar().todos()
    assert uids(pending) == sorted([state["milk_uid"], state["rent_uid"]]), uids(pending)
    assert len(calendar().todos(include_completed=True)) == 2


@check
def fetch_by_url():
    t = load(state["milk_url"])
    data = t.data
    for needle in ("BEGIN:VALARM", "TRIGGER:-PT15M", "RRULE:FREQ=WEEKLY;COUNT=10", "DUE:"):
        assert needle in data, (needle, data)
    assert t.etag and t.etag.startswith('"'), t.etag


@check
def fetch_by_uid():
    # calendar-query with a prop-filter/text-match on UID.
    t = calendar().todo_by_uid(state["rent_uid"])
    assert "Pay rent" in t.data


@check
def multiget():
    objs = calendar().multiget([state["milk_url"], state["rent_url"]])
    got = sorted(str(o.icalendar_component["SUMMARY"]) for o in objs)
    assert got == ["Buy milk", "Pay rent"], got


@check
def search_by_time_range():
    # VTODO time-range (RFC 4791 §9.9): milk is due 2026-12-01, rent 2027-03-01.
    found = calendar().search(
        todo=True, start=dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
        end=dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc),
    )
    assert state["milk_uid"] in uids(found), uids(found)
    assert state["rent_uid"] not in uids(found), uids(found)


# --- edit, conflicts, complete -----------------------------------------------------------


@check
def edit_and_save_with_if_match():
    mine = load(state["milk_url"])
    stale = load(state["milk_url"])
    mine.icalendar_component["SUMMARY"] = "Buy oat milk"
    mine.save()  # If-Match: the ETag from the GET
    again = load(state["milk_url"])
    assert "Buy oat milk" in again.data
    assert again.etag != stale.etag
    # A second writer with the old ETag gets 412.
    stale.icalendar_component["SUMMARY"] = "Buy goat milk"
    try:
        stale.save()
    except error.ETagMismatchError:
        pass
    else:
        raise AssertionError("stale If-Match was accepted")
    assert "Buy oat milk" in calendar().todo_by_uid(state["milk_uid"]).data


@check
def create_only_refuses_existing():
    # save(no_overwrite=True) sends If-None-Match: * → 412 → ConsistencyError.
    t = calendar().todo_by_uid(state["rent_uid"])
    try:
        t.save(no_overwrite=True)
    except (error.ConsistencyError, error.PutError):
        pass
    else:
        raise AssertionError("If-None-Match: * overwrote an existing task")


@check
def complete_recurring_todo():
    cal = calendar()
    t = cal.todo_by_uid(state["milk_uid"])
    t.complete(handle_rrule=True)  # "safe" mode: a completed copy + the master moves on
    pending = cal.todos()
    assert state["milk_uid"] in uids(pending), uids(pending)
    everything = cal.todos(include_completed=True)
    assert len(everything) == 3, uids(everything)
    # The master moved on: one occurrence fewer, a later start; the copy is completed.
    master = cal.todo_by_uid(state["milk_uid"])
    assert "RRULE:FREQ=WEEKLY;COUNT=9" in master.data, master.data
    assert "DTSTART:20261201T080000Z" not in master.data, master.data
    copies = [o for o in everything if o.icalendar_component["UID"] not in
              (state["milk_uid"], state["rent_uid"])]
    assert len(copies) == 1 and "STATUS:COMPLETED" in copies[0].data, copies


@check
def complete_simple_todo():
    cal = calendar()
    t = cal.todo_by_uid(state["rent_uid"])
    t.complete()
    assert state["rent_uid"] not in uids(cal.todos())
    done = cal.todo_by_uid(state["rent_uid"])
    assert "STATUS:COMPLETED" in done.data and "COMPLETED:" in done.data


# --- sync ----------------------------------------------------------------------------------


@check
def full_sync():
    objs = calendar().objects_by_sync_token(load_objects=True, disable_fallback=True)
    assert len(list(objs)) == 3, list(objs)
    assert all(o.data and "BEGIN:VTODO" in o.data for o in objs)
    assert objs.sync_token.startswith(SYNC_PREFIX)
    state["full"] = objs


@check
def incremental_sync_sees_changes_and_deletions():
    cal = calendar()
    before = cal.objects_by_sync_token(disable_fallback=True).sync_token
    new = cal.save_todo(todo_ics(str(uuid.uuid4()), "Water plants"))
    rent = cal.todo_by_uid(state["rent_uid"])
    rent.delete(if_match=True)
    objs = cal.objects_by_sync_token(sync_token=before, load_objects=True, disable_fallback=True)
    changed = [o.url.canonical() for o in objs if o.url.canonical() not in objs.deleted_urls]
    assert new.url.canonical() in changed, changed
    assert rent.url.canonical() in objs.deleted_urls, objs.deleted_urls
    assert objs.sync_token != before
    # Nothing happened since: an empty answer, same token.
    idle = cal.objects_by_sync_token(sync_token=objs.sync_token, disable_fallback=True)
    assert list(idle) == [] and idle.sync_token == objs.sync_token
    # The collection object from the full sync catches up in one call.
    updated, deleted = state["full"].sync()
    assert new.url.canonical() in [o.url.canonical() for o in updated], updated
    assert rent.url.canonical() in [o.url.canonical() for o in deleted], deleted
    state["plants_url"] = new.url


@check
def sync_from_the_empty_calendars_token():
    # The token of the empty calendar: everything there is now is news; rent, made and
    # deleted since, is at most reported removed.
    objs = calendar().objects_by_sync_token(sync_token=state["token0"], disable_fallback=True)
    live = uids(calendar().todos(include_completed=True))
    assert len(list(objs)) == len(live), (list(objs), live)
    assert state["rent_url"].canonical() not in [o.url.canonical() for o in objs]


@check
def bogus_sync_token_is_refused():
    try:
        calendar().objects_by_sync_token(sync_token=SYNC_PREFIX + "999999", disable_fallback=True)
    except error.DAVError as e:
        assert "valid-sync-token" in str(getattr(e, "preconditions", "")) or "403" in str(e), e
    else:
        raise AssertionError("a token from the future was accepted")


@check
def sync_with_dav_limit():
    # The library sends no DAV:limit; send the REPORT by hand (RFC 6578 §3.7).
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level>'
        "<limit><nresults>1</nresults></limit><prop><getetag/></prop></sync-collection>"
    )
    r = state["client"].report(str(calendar().url), body, depth=0)
    assert r.status == 207, r.status
    root = etree.fromstring(r.raw.encode() if isinstance(r.raw, str) else r.raw)
    statuses = [s.text for s in root.iterfind("D:response/D:status", NS)]
    assert any("507" in s for s in statuses), statuses
    assert len(root.findall("D:response/D:propstat", NS)) == 1
    assert root.findtext("D:sync-token", namespaces=NS).startswith(SYNC_PREFIX)


@check
def paged_sync_with_dav_limit_walks_everything():
    # Pages of one (507 + a token to go on with) add up to the unpaged answer.
    whole, _, _, truncated = sync_report(CAL, "")
    assert not truncated and len(whole) >= 3, whole
    seen, token, pages = [], "", 0
    while True:
        changed, removed, token, truncated = sync_report(CAL, token, limit=1)
        assert len(changed) + len(removed) <= 1, (changed, removed)
        seen += changed
        pages += 1
        assert pages <= 50, "paging does not end"
        if not truncated:
            break
    assert sorted(seen) == sorted(whole), (seen, whole)
    assert pages >= len(whole), pages


# --- delete, properties, refusals --------------------------------------------------------


@check
def delete_todo():
    t = load(state["plants_url"])
    t.delete(if_match=True)
    try:
        load(state["plants_url"])
    except error.NotFoundError:
        pass
    else:
        raise AssertionError("deleted task still readable")


@check
def delete_with_stale_etag_is_refused():
    t = calendar().todo_by_uid(state["milk_uid"])
    try:
        t.delete(if_match='"not-the-etag"')
    except error.ETagMismatchError:
        pass
    else:
        raise AssertionError("DELETE with a wrong If-Match went through")


@check
def proppatch_name_and_color():
    cal = calendar()
    cal.set_properties([dav.DisplayName("Groceries"), ical.CalendarColor("#FF8800FF")])
    props = cal.get_properties([dav.DisplayName(), ical.CalendarColor()])
    assert props[dav.DisplayName.tag] == "Groceries", props
    assert props[ical.CalendarColor.tag] == "#FF8800", props
    # The project itself changed.
    _, project = api("GET", f"/projects/{CAL_ID}", expect=200)
    assert project["name"] == "Groceries" and project["colour"] == "#ff8800", project
    cal.set_properties([dav.DisplayName(CAL_NAME)])


@check
def vevent_is_refused():
    try:
        calendar().save_event(
            dtstart=dt.datetime(2026, 12, 24, 18, tzinfo=dt.timezone.utc),
            dtend=dt.datetime(2026, 12, 24, 20, tzinfo=dt.timezone.utc),
            summary="Party",
        )
    except error.AuthorizationError as e:  # 403
        assert "Forbidden" in str(e), e
    else:
        raise AssertionError("a VEVENT was stored in a task list")
    event = todo_ics("party", "Party").replace("VTODO", "VEVENT")
    code, text, _ = raw("PUT", CAL + "party.ics", event, {"Content-Type": "text/calendar"})
    assert code == 403 and "supported-calendar-component" in text, (code, text)


@check
def invalid_ics_is_refused_with_a_reason():
    url = calendar().url.join("broken.ics")
    r = state["client"].put(
        str(url), "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nEND:VCALENDAR\r\n",
        {"Content-Type": "text/calendar; charset=utf-8"},
    )
    assert r.status == 400, r.status
    assert "valid-calendar-data" in r.raw and "line 4" in r.raw, r.raw


@check
def uid_conflict_is_409():
    url = calendar().url.join("other-name.ics")
    r = state["client"].put(
        str(url), todo_ics(state["milk_uid"], "dup"),
        {"Content-Type": "text/calendar; charset=utf-8"},
    )
    assert r.status == 409 and "no-uid-conflict" in r.raw, (r.status, r.raw)


@check
def mkcalendar_is_refused():
    try:
        state["principal"].make_calendar(name="New project", cal_id="new")
    except error.DAVError:
        pass
    else:
        raise AssertionError("MKCALENDAR created a project")


@check
def wrong_credentials_are_an_auth_error():
    for user, password in ((USER, "wrong"), ("nobody@example.com", "secret")):
        try:
            client(user=user, password=password).principal()
        except error.AuthorizationError:
            pass
        else:
            raise AssertionError(f"{user}/{password} was let in")


# --- the real server: the client and the API see the same tasks --------------------------

LONDON_VTIMEZONE = [
    "BEGIN:VTIMEZONE", "TZID:Europe/London",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0100", "TZNAME:BST",
    "DTSTART:19700329T010000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0000", "TZNAME:GMT",
    "DTSTART:19701025T020000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
]
# What clients add and expect back untouched (Apple Reminders' order, Thunderbird's
# generation counter).
X_LINES = ["X-APPLE-SORT-ORDER:735141893", "X-MOZ-GENERATION:3"]


@check
def client_task_appears_in_the_api():
    # A weekly task due 09:00 London time, a reminder 30 minutes before it, two labels,
    # client X- properties, and a subtask that names it with RELATED-TO.
    uid = f"garden-{uuid.uuid4()}"
    todo = [
        f"UID:{uid}", "DTSTAMP:20261203T100000Z", "SUMMARY:Water the garden",
        "DUE;TZID=Europe/London:20270301T090000", "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "CATEGORIES:Home,Garden", *X_LINES,
        "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Garden",
        "TRIGGER;RELATED=END:-PT30M", "END:VALARM",
    ]
    parent = calendar().save_todo(ics(todo, LONDON_VTIMEZONE))
    sub_uid = f"seeds-{uuid.uuid4()}"
    sub = calendar().save_todo(ics([
        f"UID:{sub_uid}", "DTSTAMP:20261203T100000Z", "SUMMARY:Buy seeds",
        f"RELATED-TO:{uid}",
    ]))
    tasks = api_tasks()
    assert uid in tasks and sub_uid in tasks, sorted(tasks)
    t = tasks[uid]
    assert t["title"] == "Water the garden", t
    assert t["due"]["kind"] == "zoned", t["due"]
    assert t["due"]["local"] == "2027-03-01T09:00:00" and t["due"]["zone"] == "Europe/London", t
    assert t["due"]["utc"] == "2027-03-01T09:00:00Z", t["due"]  # GMT in March, before BST
    assert t["recurrence"]["rrule"] == "FREQ=WEEKLY;BYDAY=MO", t["recurrence"]
    assert len(t["reminders"]) == 1, t["reminders"]
    r = t["reminders"][0]
    assert r["relative_to"] == "due" and r["offset_minutes"] == -30, r
    assert r["next_at"] == "2027-03-01T08:30:00Z", r
    assert sorted(t["labels"]) == ["Garden", "Home"], t["labels"]
    assert tasks[sub_uid]["parent_id"] == t["id"], tasks[sub_uid]
    state.update(garden_uid=uid, garden_url=parent.url, garden_id=t["id"],
                 seeds_uid=sub_uid, seeds_url=sub.url, seeds_id=tasks[sub_uid]["id"])


def served(url):
    """The bytes the server sends for a task (the library's `.data` is re-serialised)."""
    code, text, headers = raw("GET", urllib.parse.urlsplit(str(url)).path)
    assert code == 200, (code, text)
    assert headers["Content-Type"].startswith("text/calendar"), headers["Content-Type"]
    return text


@check
def client_x_properties_come_back_unchanged():
    data = served(state["garden_url"])
    for line in X_LINES + ["DUE;TZID=Europe/London:20270301T090000"]:
        assert line + "\r\n" in data, (line, data)
    # The VTIMEZONE the client sent is kept too. (Not byte for byte here: the library
    # itself re-serialises the parent when it adds RELATED-TO;RELTYPE=CHILD to it on
    # saving the subtask, and writes BYDAY before BYMONTH.)
    zones = [c for c in icalendar.Calendar.from_ical(data).walk("VTIMEZONE")]
    assert [str(z["TZID"]) for z in zones] == ["Europe/London"], zones
    assert sorted(str(p.name) for p in zones[0].subcomponents) == ["DAYLIGHT", "STANDARD"]
    sub = served(state["seeds_url"])
    assert f"RELATED-TO;RELTYPE=PARENT:{state['garden_uid']}\r\n" in sub, sub
    # An edit made in the app keeps them too.
    api("PATCH", f"/tasks/{state['garden_id']}", {"title": "Water the whole garden"},
        expect=200)
    data = served(state["garden_url"])
    assert "SUMMARY:Water the whole garden\r\n" in data, data
    for line in X_LINES:
        assert line + "\r\n" in data, (line, data)


@check
def subtask_saved_before_its_parent_is_linked_when_the_parent_comes():
    # Clients upload in their own order (DAVx5 by local id, a batch after offline edits):
    # a subtask may arrive before its parent.
    parent_uid, child_uid = f"trip-{uuid.uuid4()}", f"passport-{uuid.uuid4()}"
    child = ics([f"UID:{child_uid}", "DTSTAMP:20261203T100000Z", "SUMMARY:Renew passport",
                 f"RELATED-TO;RELTYPE=PARENT:{parent_uid}"])
    code, _, _ = raw("PUT", CAL + f"{child_uid}.ics", child, {"Content-Type": "text/calendar"})
    assert code == 201, code
    parent = ics([f"UID:{parent_uid}", "DTSTAMP:20261203T100000Z", "SUMMARY:Plan the trip"])
    code, _, _ = raw("PUT", CAL + f"{parent_uid}.ics", parent, {"Content-Type": "text/calendar"})
    assert code == 201, code
    tasks = api_tasks()
    assert tasks[child_uid]["parent_id"] == tasks[parent_uid]["id"], tasks[child_uid]
    # The subtask's text still names its parent, once.
    data = served(BASE + CAL + f"{child_uid}.ics")
    assert data.count("RELATED-TO") == 1, data
    assert f"RELATED-TO;RELTYPE=PARENT:{parent_uid}\r\n" in data, data


@check
def uid_made_again_under_another_name_after_a_delete():
    # Deleted, then made again with the same UID under a new name (a client that names
    # resources its own way re-uploading): a client still holding the old name must learn
    # that it is gone.
    uid = f"again-{uuid.uuid4()}"
    code, _, _ = raw("PUT", CAL + "first-name.ics", todo_ics(uid, "Again"),
                     {"Content-Type": "text/calendar"})
    assert code == 201, code
    before = calendar().objects_by_sync_token(disable_fallback=True).sync_token
    code, _, _ = raw("DELETE", CAL + "first-name.ics")
    assert code == 204, code
    code, _, _ = raw("PUT", CAL + "second-name.ics", todo_ics(uid, "Again"),
                     {"Content-Type": "text/calendar"})
    assert code == 201, code
    try:
        objs = calendar().objects_by_sync_token(sync_token=before, disable_fallback=True)
    except error.DAVError as e:
        assert "valid-sync-token" in str(getattr(e, "preconditions", "")) or "403" in str(e), e
    else:
        gone = [urllib.parse.urlsplit(u).path for u in map(str, objs.deleted_urls)]
        assert CAL + "first-name.ics" in gone, (gone, list(objs))
    assert calendar().todo_by_uid(uid).url.path == CAL + "second-name.ics"


@check
def api_task_appears_to_the_client():
    before = calendar().objects_by_sync_token(disable_fallback=True).sync_token
    _, made = api("POST", f"/projects/{CAL_ID}/tasks", {
        "title": "Call the plumber",
        "due": {"kind": "zoned", "local": "2027-01-11T10:30:00", "zone": "Europe/Paris"},
        "recurrence": {"rrule": "FREQ=MONTHLY;BYMONTHDAY=11"},
        "reminders": [{"relative_to": "due", "offset_minutes": -60}],
        "labels": ["House"],
    }, expect=201)
    objs = calendar().objects_by_sync_token(sync_token=before, load_objects=True,
                                            disable_fallback=True)
    found = [o for o in objs if o.icalendar_component["UID"] == made["uid"]]
    assert len(found) == 1, [o.url for o in objs]
    todo = found[0].icalendar_component
    assert str(todo["SUMMARY"]) == "Call the plumber"
    due = todo["DUE"].dt
    assert due.replace(tzinfo=None) == dt.datetime(2027, 1, 11, 10, 30), due
    assert due.utcoffset() == dt.timedelta(hours=1), due  # Paris in winter
    assert str(todo["DUE"].params.get("TZID")) == "Europe/Paris", todo["DUE"].params
    assert todo["RRULE"].to_ical() == b"FREQ=MONTHLY;BYMONTHDAY=11", todo["RRULE"]
    alarms = [c for c in todo.subcomponents if c.name == "VALARM"]
    assert len(alarms) == 1, alarms
    trigger = alarms[0]["TRIGGER"]
    assert trigger.dt == dt.timedelta(minutes=-60), trigger.dt
    assert trigger.params.get("RELATED") == "END", trigger.params
    assert str(alarms[0]["ACTION"]) == "DISPLAY"
    assert [str(c) for c in todo["CATEGORIES"].cats] == ["House"], todo["CATEGORIES"]
    state.update(plumber_id=made["id"], plumber_uid=made["uid"], plumber_url=found[0].url)


@check
def client_edit_keeps_what_only_the_api_has():
    # A deadline, a reminder before it (no VALARM form), and a reminder's late policy: a
    # client that only renames the task must not lose them.
    api("PATCH", f"/tasks/{state['plumber_id']}", {
        "deadline": "2027-01-15",
        "reminders": [
            {"relative_to": "due", "offset_minutes": -60, "late_policy": "drop",
             "late_limit_minutes": 5},
            {"relative_to": "deadline", "offset_minutes": -1440},
        ],
    }, expect=200)
    t = load(state["plumber_url"])
    t.icalendar_component["SUMMARY"] = "Call the plumber again"
    t.save()
    _, task = api("GET", f"/tasks/{state['plumber_id']}", expect=200)
    assert task["title"] == "Call the plumber again", task
    assert task["deadline"] == "2027-01-15", task
    assert task["recurrence"]["rrule"] == "FREQ=MONTHLY;BYMONTHDAY=11", task
    kept = sorted((r["relative_to"], r["offset_minutes"], r["late_policy"],
                   r["late_limit_minutes"]) for r in task["reminders"])
    assert kept == [("deadline", -1440, "send", 60), ("due", -60, "drop", 5)], kept


@check
def completing_in_the_client_is_recorded():
    # A simple task: completed, with its time.
    seeds = load(state["seeds_url"])
    seeds.complete()
    _, task = api("GET", f"/tasks/{state['seeds_id']}", expect=200)
    assert task["status"] == "completed" and task["completed_at"], task
    # And reopened.
    seeds = load(state["seeds_url"])
    seeds.uncomplete()
    _, task = api("GET", f"/tasks/{state['seeds_id']}", expect=200)
    assert task["status"] == "needs_action" and task["completed_at"] is None, task
    # The weekly one: the occurrence is done, and the task moves on to the next Monday.
    garden = load(state["garden_url"])
    garden.complete()
    _, task = api("GET", f"/tasks/{state['garden_id']}", expect=200)
    assert task["status"] == "needs_action", task
    assert task["due"]["local"] == "2027-03-08T09:00:00", task["due"]
    _, activity = api("GET", f"/projects/{CAL_ID}/activity?limit=100", expect=200)
    done = [a["task_id"] for a in activity["items"] if a["action"] == "completed"]
    assert state["seeds_id"] in done and state["garden_id"] in done, activity["items"][:5]
    # And the client sees the next occurrence, open, at the same wall-clock time.
    again = load(state["garden_url"]).icalendar_component
    assert str(again["STATUS"]) == "NEEDS-ACTION", again
    assert again["DUE"].dt == dt.datetime(2027, 3, 8, 9, 0, tzinfo=LONDON), again["DUE"].dt


@check
def deleting_in_the_client_puts_the_task_in_the_trash():
    load(state["plumber_url"]).delete()
    _, trash = api("GET", "/trash", expect=200)
    trashed = [t for t in trash["tasks"] if t["uid"] == state["plumber_uid"]]
    assert len(trashed) == 1 and trashed[0]["deleted_at"], trash["tasks"]
    # Restored in the app, it is back for the client.
    api("POST", f"/tasks/{state['plumber_id']}/restore", expect=200)
    assert "Call the plumber again" in calendar().todo_by_uid(state["plumber_uid"]).data


@check
def task_moved_away_in_the_api_leaves_the_calendar():
    # Moved to another project, a task must disappear from the old calendar's sync
    # (as removed, or by a token that is no longer valid, which makes clients resync).
    _, other = api("POST", "/projects", {"name": "Someday"}, expect=201)
    before = calendar().objects_by_sync_token(disable_fallback=True).sync_token
    api("PATCH", f"/tasks/{state['plumber_id']}", {"project_id": other["id"]}, expect=200)
    try:
        objs = calendar().objects_by_sync_token(sync_token=before, disable_fallback=True)
    except error.DAVError as e:
        assert "valid-sync-token" in str(getattr(e, "preconditions", "")) or "403" in str(e), e
    else:
        assert state["plumber_url"].canonical() in objs.deleted_urls, (
            list(objs), objs.deleted_urls)
    assert state["plumber_uid"] not in uids(calendar().todos(include_completed=True))
    api("PATCH", f"/tasks/{state['plumber_id']}", {"project_id": CAL_ID}, expect=200)
    api("DELETE", f"/projects/{other['id']}", expect=204)


# --- credentials and other users ---------------------------------------------------------


@check
def api_key_as_the_password():
    _, key = api("POST", "/me/api-keys", {"name": "caldav-client.py", "scope": "write"},
                 expect=201)
    c = client(password=key["key"])
    cal = c.principal().calendars()[0]
    assert cal.url.path == CAL, cal.url
    uid = str(uuid.uuid4())
    cal.save_todo(todo_ics(uid, "Made with an app password"))
    assert "Made with an app password" in cal.todo_by_uid(uid).data
    assert api_tasks()[uid]["title"] == "Made with an app password"
    # A read-only key reads (PROPFIND, REPORT, GET are reads) and may not write.
    _, read = api("POST", "/me/api-keys", {"name": "caldav-client.py, read"}, expect=201)
    cal = client(password=read["key"]).principal().calendars()[0]
    assert uid in uids(cal.todos()), uids(cal.todos())
    code, _, _ = raw("PUT", CAL + "read-only.ics", todo_ics("ro", "no"),
                     {"Content-Type": "text/calendar"}, password=read["key"])
    assert code == 403, code
    # A key is an app password of its own account only.
    code, _, _ = raw("PROPFIND", "/dav/", "", {"Depth": "0"}, user=OTHER, password=key["key"])
    assert code == 401, code


@check
def other_users_calendar_and_task_are_404():
    # Bob's own task, made with his client.
    bob = client(user=OTHER, password=OTHER_PASSWORD).principal()
    assert [x.get_display_name() for x in bob.calendars()] == [OTHER_CAL_NAME]
    bob_cal = bob.calendars()[0]
    assert bob_cal.url.path == OTHER_CAL, bob_cal.url
    bob_uid = f"bob-{uuid.uuid4()}"
    bob_task = bob_cal.save_todo(todo_ics(bob_uid, "Bob's secret"))
    bob_path = bob_task.url.path
    bob_id = api_tasks(OTHER_CAL_ID, OTHER, OTHER_PASSWORD)[bob_uid]["id"]

    c = state["client"]
    other = caldav.Calendar(client=c, url=BASE + OTHER_CAL)
    for attempt in (other.get_display_name, lambda: other.objects_by_sync_token(
            disable_fallback=True)):
        try:
            attempt()
        except error.NotFoundError:
            pass
        else:
            raise AssertionError("alice can see bob's calendar")
    try:
        caldav.Todo(client=c, url=BASE + bob_path, parent=other).load()
    except error.NotFoundError:
        pass
    else:
        raise AssertionError("alice can read bob's task")
    for method, path, body in (
        ("PUT", bob_path, todo_ics(bob_uid, "sneaky")),
        ("PUT", OTHER_CAL + "new.ics", todo_ics("x", "sneaky")),
        ("DELETE", bob_path, ""),
        ("PROPFIND", bob_path, ""),
        ("PROPFIND", f"/dav/principals/{OTHER_ID}/", ""),
        ("PROPFIND", f"/dav/calendars/{OTHER_ID}/", ""),
        ("REPORT", OTHER_CAL, '<?xml version="1.0"?><sync-collection xmlns="DAV:">'
         "<sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"),
    ):
        code, text, _ = raw(method, path, body, {"Depth": "0", "Content-Type": "text/calendar"})
        assert code == 404, (method, path, code, text)
    assert api("GET", f"/tasks/{bob_id}")[0] == 404
    assert api("GET", f"/projects/{OTHER_CAL_ID}")[0] == 404
    # Untouched, and a UID of his is no conflict in alice's calendar.
    assert "Bob's secret" in bob_cal.todo_by_uid(bob_uid).data
    code, _, _ = raw("PUT", CAL + "same-uid-as-bob.ics", todo_ics(bob_uid, "Mine"),
                     {"Content-Type": "text/calendar"})
    assert code == 201, code
    # Bob sees his own, and not alice's.
    assert bob_uid in uids(bob_cal.todos())
    assert state["milk_uid"] not in uids(bob_cal.todos())


@check
def concurrent_clients_all_get_their_tasks_saved():
    # Several devices (or one client's parallel connections) saving at once. On SQLite a
    # write transaction that had read first failed at once with "database is locked" when
    # another had just committed: one PUT in five was a 500.
    results = []

    def device(n):
        cal = client().calendar(url=BASE + CAL)
        for i in range(5):
            uid = f"burst-{n}-{i}-{uuid.uuid4()}"
            try:
                cal.save_todo(todo_ics(uid, f"Burst {n}.{i}", "DUE:20270105T100000Z\n"
                                       "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:-PT5M\n"
                                       "END:VALARM"))
                results.append(uid)
            except Exception as e:  # noqa: BLE001 - counted below
                results.append(e)

    threads = [threading.Thread(target=device, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = [r for r in results if not isinstance(r, str)]
    assert not failures, failures[:3]
    listed = api_tasks()
    assert all(uid in listed for uid in results), "a saved task is missing from the API"


def main():
    passed = failed = 0
    for fn in checks:
        try:
            fn()
        except Exception:  # noqa: BLE001 - report and go on
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
        sys.stdout.flush()
    print(f"caldav {caldav.__version__} against {BASE}:")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
