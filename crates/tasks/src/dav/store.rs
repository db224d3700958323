//! The storage contract: what the CalDAV layer needs from the tasks app.
//!
//! The DAV layer ([`super::router`]) is generic over [`CalendarStore`]; it never touches the
//! database. Everything here is deliberately small: a calendar is a project, an object is one
//! task serialised as an iCalendar `VCALENDAR` holding one `VTODO` (plus any `VTIMEZONE`s).
//!
//! # What an implementation must get right
//!
//! * **ETags** ([`ObjectInfo::etag`]) are opaque strings *without* quotes; the DAV layer adds
//!   them. They must change whenever the bytes returned by [`CalendarStore::get`] change and
//!   must be strong (byte-for-byte) validators (RFC 9110 §8.8.3). Only characters allowed in
//!   an `etagc` (visible ASCII but `"`; no spaces) may appear.
//! * **Names** ([`ObjectInfo::name`]) are the last path segment, unescaped (the layer does the
//!   percent-encoding), e.g. `"{uid}.ics"`. A client chooses the name on `PUT`; the store keeps
//!   whatever name it was given and must return the same one later (clients key on it).
//! * **PUT and the ETag** (RFC 4791 §5.3.4): return `Some(etag)` in [`Put`] only if a `GET`
//!   right now would return exactly the bytes that were `PUT`. A store that re-serialises
//!   the task (the usual case when tasks live in SQL rows) returns `None`, and the client
//!   re-fetches the object.
//! * **Sync tokens** ([`CalendarInfo::sync_token`], [`CalendarStore::changes_since`],
//!   RFC 6578): a per-calendar, strictly increasing `u64` that moves on every create, update
//!   or delete of a member (and ideally on a change of the calendar's name or colour, since it
//!   doubles as the CalendarServer `getctag`). `changes_since(t)` returns every member changed
//!   or removed after `t`; `t = 0` means "from the beginning" (tombstones for `0` are
//!   harmless: the layer drops them on an initial sync). A token greater than the current one,
//!   or older than the oldest tombstone kept, is `Err(PreconditionFailed)`, which the client
//!   sees as `DAV:valid-sync-token` and answers with a full resync. With a `limit`, return at
//!   most that many entries, oldest change first, set [`Changes::truncated`], and set
//!   [`Changes::token`] to the token *of the last entry returned*, so that
//!   `changes_since(token)` continues exactly after it.
//! * **Ownership**: every method takes the authenticated [`Principal`]; a calendar or object
//!   of another user is `NotFound`, never `Forbidden` (Capstone never confirms that someone
//!   else's resource exists).

use std::future::Future;

/// The authenticated user, as returned by [`CalendarStore::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    /// `DAV:displayname` of the principal.
    pub display_name: String,
    /// Published as `mailto:` in `CALDAV:calendar-user-address-set`.
    pub email: String,
    /// Signed in with a read-only credential (an API key of scope `read`): the store shows
    /// every calendar as not writable and refuses writes (`Forbidden`).
    pub read_only: bool,
}

/// One project, seen as a calendar collection of VTODOs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarInfo {
    pub id: i64,
    /// `DAV:displayname`.
    pub name: String,
    /// `CALDAV:calendar-description`.
    pub description: Option<String>,
    /// `"#RRGGBB"`, published as Apple's `calendar-color`.
    pub color: Option<String>,
    /// Current sync token (see the module docs); also the `getctag`.
    pub sync_token: u64,
    /// Whether this user may create, change and delete tasks in it (drives
    /// `DAV:current-user-privilege-set`; the store still enforces it on writes).
    pub writable: bool,
}

/// A member of a calendar: its name (last path segment, unescaped) and its ETag (no quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub name: String,
    pub etag: String,
}

/// Outcome of [`CalendarStore::put`]. The ETag is `Some` only when the stored bytes are exactly
/// the bytes received (RFC 4791 §5.3.4); otherwise the client re-fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    Created(Option<String>),
    Updated(Option<String>),
}

/// Failures a store reports; each maps to one HTTP answer (see [`super`] docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// 404. Also for anything belonging to another user.
    #[error("not found")]
    NotFound,
    /// 412: `If-Match`/`If-None-Match` did not hold; in `changes_since`, an unknown or
    /// expired sync token (→ 403 `DAV:valid-sync-token`).
    #[error("precondition failed")]
    PreconditionFailed,
    /// 403: the user may see but not change this (read-only project, or a calendar property
    /// the store does not let clients change).
    #[error("forbidden")]
    Forbidden,
    /// 400 with `CALDAV:valid-calendar-data`: the iCalendar body was rejected; the text
    /// (e.g. "line 7: DUE before DTSTART") is shown to the user by some clients.
    #[error("invalid calendar data: {0}")]
    Invalid(String),
    /// 409 with `CALDAV:no-uid-conflict`: the UID is already used by another object of this
    /// calendar, whose *name* is the payload (RFC 4791 §5.3.2.1).
    #[error("UID already used by {0}")]
    Conflict(String),
    /// 500.
    #[error("internal error")]
    Internal,
}

/// Answer of [`CalendarStore::changes_since`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The token to hand to the client: the calendar's current token, or when
    /// `truncated`, the token of the last change returned.
    pub token: u64,
    /// Members created or changed since the token (their current ETag).
    pub changed: Vec<ObjectInfo>,
    /// Names of members deleted since the token.
    pub removed: Vec<String>,
    /// `true` when `limit` cut the list short (→ 507 on the collection, RFC 6578 §3.6).
    pub truncated: bool,
}

/// A change to a calendar's own properties (PROPPATCH, RFC 4918 §9.2). `None` = unchanged;
/// `Some(None)` = removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    /// Normalised to `"#RRGGBB"` (an Apple `#RRGGBBAA` loses its alpha).
    pub color: Option<Option<String>>,
}

/// The storage behind the CalDAV endpoint. Implement it on a cheap `Clone` handle (an `Arc`
/// or a connection pool).
pub trait CalendarStore: Clone + Send + Sync + 'static {
    /// The request's credentials (HTTP Basic: an email with its password, or with an API
    /// key as an app password) → the principal (`None` answers 401). Called on every
    /// request.
    fn authenticate(
        &self,
        parts: &axum::http::request::Parts,
    ) -> impl Future<Output = Option<Principal>> + Send;

    /// The user's projects, in display order.
    fn calendars(
        &self,
        who: &Principal,
    ) -> impl Future<Output = Result<Vec<CalendarInfo>, StoreError>> + Send;

    /// One project; `NotFound` for someone else's.
    fn calendar(
        &self,
        who: &Principal,
        id: i64,
    ) -> impl Future<Output = Result<CalendarInfo, StoreError>> + Send;

    /// All members of a calendar (names and ETags, no bodies).
    fn objects(
        &self,
        who: &Principal,
        calendar: i64,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, StoreError>> + Send;

    /// One member with its iCalendar text.
    fn get(
        &self,
        who: &Principal,
        calendar: i64,
        name: &str,
    ) -> impl Future<Output = Result<(ObjectInfo, String), StoreError>> + Send;

    /// Several members with their text; names that do not exist are left out.
    fn get_many(
        &self,
        who: &Principal,
        calendar: i64,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<(ObjectInfo, String)>, StoreError>> + Send;

    /// Create or replace a member. `if_match`: the ETag (unquoted) the current version must
    /// have, or `"*"` for "must exist"; `if_none_match_any`: it must not exist. A failed check
    /// is `PreconditionFailed`. The check and the write must be atomic.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        who: &Principal,
        calendar: i64,
        name: &str,
        ics: &str,
        if_match: Option<&str>,
        if_none_match_any: bool,
    ) -> impl Future<Output = Result<Put, StoreError>> + Send;

    /// Delete a member (`if_match` as in [`Self::put`]).
    fn delete(
        &self,
        who: &Principal,
        calendar: i64,
        name: &str,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Changes after `token` (see the module docs for the exact semantics).
    fn changes_since(
        &self,
        who: &Principal,
        calendar: i64,
        token: u64,
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Changes, StoreError>> + Send;

    /// Optional: rename / recolour / describe a project from the client (PROPPATCH).
    /// The default refuses, which clients see as 403 on each property.
    fn update_calendar(
        &self,
        who: &Principal,
        calendar: i64,
        patch: CalendarPatch,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (who, calendar, patch);
        async { Err(StoreError::Forbidden) }
    }
}
