//! Recurring to-dos: RFC 5545 recurrence rules expanded as wall-clock times,
//! then placed in an IANA time zone by the rule of RFC 5545 §3.3.5
//! ([`place`]).
//!
//! The expander is hand-written rather than taken from the `rrule` crate:
//! a to-do recurs at most daily, so a period (day, week, month, year) only
//! ever yields a sorted list of days at the start's time of day, and the whole
//! of RFC 5545 §3.3.10 for that case is "list the period's days, keep those
//! every BY part allows, then apply BYSETPOS" — shorter than adapting `rrule`.
//! It also lets this module keep RFC semantics `rrule` does not give
//! (DTSTART is always the first occurrence and counts toward COUNT, even when
//! the rule would not produce it), never let a library place times in a zone
//! (`rrule` has open DST bugs), and bound every call in iterations and
//! wall time.

pub mod rule;
pub mod zone;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

pub use rule::Rule;
use rule::{Frequency, Until, WeekdayNum};
pub use zone::place;

/// The most occurrences one call returns, whatever `limit` asks for.
pub const MAX_OCCURRENCES: usize = 1000;
/// The most periods (days, weeks, months or years of the rule) one call
/// examines before giving up with [`Exhausted`].
pub const MAX_PERIODS: usize = 100_000;
/// The longest one call searches before giving up with [`Exhausted`].
pub const MAX_SEARCH_TIME: Duration = Duration::from_millis(50);
/// Series end with this year: iCalendar dates have four-digit years.
pub const LAST_YEAR: i32 = 9999;
/// How many periods are examined between two looks at the clock.
const PERIODS_PER_CLOCK_CHECK: usize = 256;

/// The search limits were hit before the requested occurrences were found
/// and before the series was seen to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rule finds no occurrence within the search limits")]
pub struct Exhausted;

/// One occurrence: its wall-clock time and, when the series has a zone, its instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Occurrence {
    pub local: NaiveDateTime,
    pub utc: Option<DateTime<Utc>>,
}

/// A series: a rule, the first occurrence (DTSTART, wall clock), the zone it
/// lives in (None = floating or a date), and exception dates (wall clock; an
/// EXDATE equal to a generated local time removes it).
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub rule: &'a Rule,
    pub start: NaiveDateTime,
    pub zone: Option<Tz>,
    pub exceptions: &'a [NaiveDateTime],
}

impl Series<'_> {
    /// Occurrences with local time > `after` (or all from the start when
    /// `None`) and ≤ `until` (when given), at most `limit` of them (capped at
    /// [`MAX_OCCURRENCES`]), in order of local time.
    ///
    /// Semantics (RFC 5545 §3.3.10, §3.8.5.3):
    /// * `start` (DTSTART) is always the first occurrence, even when the rule
    ///   would not produce it, and it counts toward COUNT; the rule's own
    ///   occurrences before it are dropped;
    /// * COUNT counts from `start` whatever `after` is, and exceptions still
    ///   count toward it (they are removed from the set COUNT produced);
    /// * UNTIL is inclusive. A date bounds the local date, a local date-time
    ///   the wall clock; a UTC date-time bounds the occurrence's instant when
    ///   the series has a zone and otherwise the wall clock read as UTC;
    /// * every occurrence is at `start`'s time of day; dates the rule names
    ///   but the calendar lacks (February 30, BYMONTHDAY=31 in June) are
    ///   skipped, never moved;
    /// * a series ends with the year [`LAST_YEAR`].
    ///
    /// The search ends, with `Ok`, when the page is full or it passes
    /// COUNT, UNTIL, `until` or the year 9999. If it examines
    /// [`MAX_PERIODS`] periods or runs for [`MAX_SEARCH_TIME`] first, the call
    /// fails with [`Exhausted`] — even if it had found some occurrences, so a
    /// cut-off page is never mistaken for the end of the series. Asking for
    /// fewer occurrences, or passing `until`, keeps a sparse rule within the
    /// limits.
    ///
    /// So a rule that never matches (again) ends quickly either way:
    /// `FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30` reaches the year 9999 within
    /// about 8,000 periods (a few milliseconds, even unoptimized) and returns
    /// `Ok` with DTSTART alone, or nothing after it;
    /// `FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30` would need some 2.9 million
    /// periods and returns [`Exhausted`] unless `until` or UNTIL stops it.
    pub fn occurrences(
        &self,
        after: Option<NaiveDateTime>,
        until: Option<NaiveDateTime>,
        limit: usize,
    ) -> Result<Vec<Occurrence>, Exhausted> {
        let mut page = Page {
            series: self,
            after,
            until,
            limit: limit.min(MAX_OCCURRENCES),
            exceptions: self.exceptions.iter().copied().collect(),
            counted: 0,
            found: Vec::new(),
        };
        if page.limit == 0 {
            return Ok(page.found);
        }
        let plan = Plan::new(self.rule, self.start);

        // Without COUNT nothing before `after` matters, so start at the period
        // holding it; with COUNT every occurrence from the start is counted.
        let first = match (self.rule.count(), after) {
            (None, Some(after)) => plan.period_index_at(after.date()),
            _ => 0,
        };
        if first == 0 && page.offer(self.start).is_break() {
            return Ok(page.found);
        }

        let started = Instant::now();
        for (examined, k) in (first..).enumerate() {
            if examined >= MAX_PERIODS
                || (examined % PERIODS_PER_CLOCK_CHECK == PERIODS_PER_CLOCK_CHECK - 1
                    && started.elapsed() > MAX_SEARCH_TIME)
            {
                return Err(Exhausted);
            }
            let Some((period_start, days)) = plan.period(k) else {
                break; // past the year 9999
            };
            if page.past_end_before(period_start.and_time(self.start.time())) {
                break;
            }
            for day in days {
                let local = day.and_time(self.start.time());
                // Before DTSTART, or DTSTART itself (already offered).
                if local <= self.start {
                    continue;
                }
                if page.offer(local).is_break() {
                    return Ok(page.found);
                }
            }
        }
        Ok(page.found)
    }

    /// The first occurrence strictly after `after`, if any.
    pub fn next_after(&self, after: NaiveDateTime) -> Result<Option<Occurrence>, Exhausted> {
        Ok(self.occurrences(Some(after), None, 1)?.into_iter().next())
    }

    fn place(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.zone.map(|zone| place(local, zone))
    }

    /// Whether `local` is past the rule's UNTIL.
    fn past_rule_until(&self, local: NaiveDateTime) -> bool {
        match self.rule.until() {
            None => false,
            Some(Until::Date(day)) => local.date() > day,
            Some(Until::Local(t)) => local > t,
            Some(Until::Utc(t)) => self.place(local).unwrap_or_else(|| local.and_utc()) > t,
        }
    }
}

/// The occurrences gathered by one call, and the bounds they are checked against.
struct Page<'s, 'a> {
    series: &'s Series<'a>,
    after: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    limit: usize,
    exceptions: HashSet<NaiveDateTime>,
    /// Occurrences of the series so far, from DTSTART on, for COUNT.
    counted: u64,
    found: Vec<Occurrence>,
}

impl Page<'_, '_> {
    /// Takes the next occurrence of the series, in order; `Break` once the
    /// series or the page has ended.
    fn offer(&mut self, local: NaiveDateTime) -> std::ops::ControlFlow<()> {
        use std::ops::ControlFlow::{Break, Continue};
        let series = self.series;
        if series
            .rule
            .count()
            .is_some_and(|count| self.counted >= u64::from(count))
        {
            return Break(());
        }
        // DTSTART is the first instance whatever UNTIL says (RFC 5545 §3.8.5.3:
        // "The "DTSTART" property defines the first instance").
        if local != series.start && series.past_rule_until(local) {
            return Break(());
        }
        if self.until.is_some_and(|until| local > until) {
            return Break(());
        }
        self.counted += 1;
        // Excluded dates were still generated, so they counted above.
        if self.after.is_some_and(|after| local <= after) || self.exceptions.contains(&local) {
            return Continue(());
        }
        self.found.push(Occurrence {
            local,
            utc: series.place(local),
        });
        if self.found.len() >= self.limit {
            Break(())
        } else {
            Continue(())
        }
    }

    /// Whether every occurrence at or after `local` is past an end: the
    /// caller's `until` or the rule's UNTIL. For a UTC UNTIL the check looks
    /// two days earlier, as no zone's offset swings by more than a day.
    fn past_end_before(&self, local: NaiveDateTime) -> bool {
        if self.until.is_some_and(|until| local > until) {
            return true;
        }
        local
            .checked_sub_days(Days::new(2))
            .is_some_and(|earlier| self.series.past_rule_until(earlier))
    }
}

/// The rule with what it leaves out filled in from DTSTART, and the periods
/// it walks.
struct Plan<'a> {
    rule: &'a Rule,
    /// The first day of period 0, the period holding DTSTART.
    first_day: NaiveDate,
    by_month: Vec<u32>,
    by_month_day: Vec<i8>,
    by_day: Vec<WeekdayNum>,
    /// Whether BYDAY ordinals count within the month (MONTHLY, or YEARLY
    /// with BYMONTH) rather than within the year.
    ordinals_in_month: bool,
}

impl<'a> Plan<'a> {
    fn new(rule: &'a Rule, start: NaiveDateTime) -> Self {
        let start_day = start.date();
        let mut by_month: Vec<u32> = rule.by_month().iter().map(|&m| u32::from(m)).collect();
        let mut by_month_day = rule.by_month_day().to_vec();
        let mut by_day = rule.by_day().to_vec();
        // "Information, not contained in the rule, necessary to determine the
        // various recurrence instance start time and dates are derived from
        // the Start Time ("DTSTART")" (RFC 5545 §3.3.10): a rule naming no day
        // recurs on DTSTART's day of the year, month or week.
        if rule.by_year_day().is_empty() && by_month_day.is_empty() && by_day.is_empty() {
            match rule.freq() {
                Frequency::Yearly => {
                    if by_month.is_empty() {
                        by_month.push(start_day.month());
                    }
                    by_month_day.push(start_day.day() as i8);
                }
                Frequency::Monthly => by_month_day.push(start_day.day() as i8),
                Frequency::Weekly => by_day.push(WeekdayNum {
                    ordinal: None,
                    weekday: start_day.weekday(),
                }),
                Frequency::Daily => {}
            }
        }
        let first_day = match rule.freq() {
            Frequency::Daily => start_day,
            Frequency::Weekly => {
                let into_week = start_day.weekday().days_since(rule.week_start());
                start_day - Days::new(u64::from(into_week))
            }
            Frequency::Monthly => start_day.with_day(1).expect("day 1 exists"),
            Frequency::Yearly => start_day.with_ordinal(1).expect("day 1 exists"),
        };
        Plan {
            rule,
            first_day,
            by_month,
            by_month_day,
            by_day,
            ordinals_in_month: rule.freq() == Frequency::Monthly || !rule.by_month().is_empty(),
        }
    }

    /// Period `k` (0 holds DTSTART; each is INTERVAL periods after the
    /// previous one): its first day and its occurrence days, sorted. `None`
    /// once past the year [`LAST_YEAR`].
    fn period(&self, k: u64) -> Option<(NaiveDate, Vec<NaiveDate>)> {
        let step = k.checked_mul(u64::from(self.rule.interval()))?;
        let (first, candidates): (NaiveDate, Vec<NaiveDate>) = match self.rule.freq() {
            Frequency::Daily => {
                let day = self.first_day.checked_add_days(Days::new(step))?;
                (day, vec![day])
            }
            Frequency::Weekly => {
                let day = self
                    .first_day
                    .checked_add_days(Days::new(step.checked_mul(7)?))?;
                (day, day.iter_days().take(7).collect())
            }
            Frequency::Monthly => {
                let months = month_number(self.first_day) + i64::try_from(step).ok()?;
                let year = i32::try_from(months.div_euclid(12)).ok()?;
                let month = months.rem_euclid(12) as u32 + 1;
                let day = NaiveDate::from_ymd_opt(year.min(LAST_YEAR + 1), month, 1)?;
                // BYMONTH only narrows a MONTHLY rule: skip other months whole.
                if self.by_month.is_empty() || self.by_month.contains(&month) {
                    (day, self.days_of_month(day))
                } else {
                    (day, Vec::new())
                }
            }
            Frequency::Yearly => {
                let year = i64::from(self.first_day.year()) + i64::try_from(step).ok()?;
                let year = i32::try_from(year.min(i64::from(LAST_YEAR) + 1)).ok()?;
                let day = NaiveDate::from_ymd_opt(year, 1, 1)?;
                let year_days = self.rule.by_year_day();
                let days = if !year_days.is_empty() {
                    // BYYEARDAY expands a YEARLY period: just those days.
                    let len = if day.leap_year() { 366 } else { 365 };
                    let mut days: Vec<NaiveDate> = year_days
                        .iter()
                        .filter_map(|&n| {
                            let ordinal = if n > 0 { n } else { len + n + 1 };
                            u32::try_from(ordinal)
                                .ok()
                                .and_then(|o| day.with_ordinal(o))
                        })
                        .collect();
                    days.sort();
                    days.dedup();
                    days
                } else {
                    // Only the months that can match, to spare scanning the year.
                    let months: Vec<u32> = if self.by_month.is_empty() {
                        (1..=12).collect()
                    } else {
                        self.by_month.clone()
                    };
                    months
                        .into_iter()
                        .filter_map(|m| NaiveDate::from_ymd_opt(year, m, 1))
                        .flat_map(|first| self.days_of_month(first))
                        .collect()
                };
                (day, days)
            }
        };
        if first.year() > LAST_YEAR {
            return None;
        }
        let matching: Vec<NaiveDate> = candidates
            .into_iter()
            .filter(|&day| self.matches(day) && day.year() <= LAST_YEAR)
            .collect();
        Some((first, self.select_positions(matching)))
    }

    /// The candidate days of the month starting on `first`, sorted: the
    /// BYMONTHDAY days when there are some (BYMONTHDAY expands MONTHLY and
    /// YEARLY periods, RFC 5545 §3.3.10), else every day. Listing only those
    /// keeps a sparse rule cheap to search.
    fn days_of_month(&self, first: NaiveDate) -> Vec<NaiveDate> {
        let len = days_in_month(first.year(), first.month());
        if self.by_month_day.is_empty() {
            return first.iter_days().take(len as usize).collect();
        }
        let mut days: Vec<NaiveDate> = self
            .by_month_day
            .iter()
            .filter_map(|&n| {
                let day = if n > 0 {
                    i64::from(n)
                } else {
                    i64::from(len) + i64::from(n) + 1
                };
                // Day 30 of February and the like do not exist: skipped.
                u32::try_from(day).ok().and_then(|d| first.with_day(d))
            })
            .collect();
        days.sort();
        days.dedup();
        days
    }

    /// Whether every BY part allows `day`. Each one narrows the period's days;
    /// for a to-do, where the time of day is fixed, this is the RFC's table
    /// of "expand" and "limit" (RFC 5545 §3.3.10, p. 44) applied to days.
    fn matches(&self, day: NaiveDate) -> bool {
        let rule = self.rule;
        let month_len = days_in_month(day.year(), day.month()) as i32;
        let year_len = if day.leap_year() { 366 } else { 365 };
        let (d, yd) = (day.day() as i32, day.ordinal() as i32);
        // `n` counted from the front (n > 0) or the back (n < 0) of 1..=len.
        let hits = |n: i32, pos: i32, len: i32| n == pos || n == pos - len - 1;

        (self.by_month.is_empty() || self.by_month.contains(&day.month()))
            && (rule.by_year_day().is_empty()
                || rule
                    .by_year_day()
                    .iter()
                    .any(|&n| hits(n.into(), yd, year_len)))
            && (self.by_month_day.is_empty()
                || self
                    .by_month_day
                    .iter()
                    .any(|&n| hits(n.into(), d, month_len)))
            && (self.by_day.is_empty()
                || self.by_day.iter().any(|wd| {
                    wd.weekday == day.weekday()
                        && wd.ordinal.is_none_or(|n| {
                            // The n-th such weekday of the month or year.
                            let (pos, len) = if self.ordinals_in_month {
                                (d, month_len)
                            } else {
                                (yd, year_len)
                            };
                            let (from_front, from_back) = ((pos - 1) / 7 + 1, (len - pos) / 7 + 1);
                            i32::from(n) == from_front || i32::from(n) == -from_back
                        })
                }))
    }

    /// BYSETPOS: keep the n-th of the period's days (from the end when n < 0).
    fn select_positions(&self, days: Vec<NaiveDate>) -> Vec<NaiveDate> {
        let positions = self.rule.by_set_pos();
        if positions.is_empty() {
            return days;
        }
        let len = days.len() as i64;
        let mut picked: Vec<NaiveDate> = positions
            .iter()
            .filter_map(|&n| {
                let index = if n > 0 {
                    i64::from(n) - 1
                } else {
                    len + i64::from(n)
                };
                usize::try_from(index)
                    .ok()
                    .and_then(|i| days.get(i).copied())
            })
            .collect();
        picked.sort();
        picked.dedup();
        picked
    }

    /// The index of the last period starting on or before `day`: where a
    /// search for occurrences after `day` can begin.
    fn period_index_at(&self, day: NaiveDate) -> u64 {
        let periods = match self.rule.freq() {
            Frequency::Daily => (day - self.first_day).num_days(),
            Frequency::Weekly => (day - self.first_day).num_days().div_euclid(7),
            Frequency::Monthly => month_number(day) - month_number(self.first_day),
            Frequency::Yearly => i64::from(day.year() - self.first_day.year()),
        };
        u64::try_from(periods).unwrap_or(0) / u64::from(self.rule.interval())
    }
}

fn month_number(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 12 + i64::from(day.month0())
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if NaiveDate::from_ymd_opt(year, 1, 1).is_some_and(|d| d.leap_year()) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Australia, Europe, Pacific};

    fn at(text: &str) -> NaiveDateTime {
        text.parse().unwrap()
    }

    fn rule(text: &str) -> Rule {
        text.parse().unwrap()
    }

    fn series<'a>(rule: &'a Rule, start: &str, zone: Option<Tz>) -> Series<'a> {
        Series {
            rule,
            start: at(start),
            zone,
            exceptions: &[],
        }
    }

    /// The local dates of the first `limit` occurrences after `after`.
    fn dates(rule_text: &str, start: &str, after: Option<&str>, limit: usize) -> Vec<String> {
        let rule = rule(rule_text);
        series(&rule, start, None)
            .occurrences(after.map(at), None, limit)
            .unwrap()
            .iter()
            .map(|o| o.local.format("%Y-%m-%d").to_string())
            .collect()
    }

    /// `(local, utc)` pairs, formatted, for a zoned series.
    fn placed(rule_text: &str, start: &str, zone: Tz, until: &str) -> Vec<(String, String)> {
        let rule = rule(rule_text);
        series(&rule, start, Some(zone))
            .occurrences(None, Some(at(until)), 100)
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o.local.format("%Y-%m-%dT%H:%M").to_string(),
                    o.utc.unwrap().format("%Y-%m-%dT%H:%MZ").to_string(),
                )
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|&(l, u)| (l.to_owned(), u.to_owned()))
            .collect()
    }

    // Zone transitions used below (tz 2025b, checked with `zdump -v`):
    // Europe/London      2027-03-28 01:00Z GMT->BST, 2027-10-31 01:00Z BST->GMT
    // America/New_York   2027-03-14 07:00Z EST->EDT, 2027-11-07 06:00Z EDT->EST
    // Pacific/Auckland   2027-04-03 14:00Z NZDT->NZST, 2027-09-25 14:00Z NZST->NZDT
    // Australia/Lord_Howe 2027-04-03 15:00Z +11->+1030, 2027-10-02 15:30Z +1030->+11

    #[test]
    fn london_daily_keeps_the_wall_clock_across_both_changes() {
        let spring = placed(
            "FREQ=DAILY",
            "2027-03-26T09:00:00",
            Europe::London,
            "2027-03-30T23:59:59",
        );
        let expected = [
            ("2027-03-26T09:00", "2027-03-26T09:00Z"),
            ("2027-03-27T09:00", "2027-03-27T09:00Z"),
            ("2027-03-28T09:00", "2027-03-28T08:00Z"),
            ("2027-03-29T09:00", "2027-03-29T08:00Z"),
            ("2027-03-30T09:00", "2027-03-30T08:00Z"),
        ];
        assert_eq!(spring, pairs(&expected));

        let autumn = placed(
            "FREQ=DAILY",
            "2027-10-29T09:00:00",
            Europe::London,
            "2027-11-01T23:59:59",
        );
        let expected = [
            ("2027-10-29T09:00", "2027-10-29T08:00Z"),
            ("2027-10-30T09:00", "2027-10-30T08:00Z"),
            ("2027-10-31T09:00", "2027-10-31T09:00Z"),
            ("2027-11-01T09:00", "2027-11-01T09:00Z"),
        ];
        assert_eq!(autumn, pairs(&expected));
    }

    #[test]
    fn london_issue_example_serializes_as_documented() {
        let rule = rule("FREQ=DAILY");
        let next = series(&rule, "2027-01-04T09:00:00", Some(Europe::London))
            .next_after(at("2027-03-28T09:00:00"))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_string(&next).unwrap(),
            r#"{"local":"2027-03-29T09:00:00","utc":"2027-03-29T08:00:00Z"}"#
        );
        let floating = series(&rule, "2027-01-04T09:00:00", None)
            .next_after(at("2027-03-28T09:00:00"))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_string(&floating).unwrap(),
            r#"{"local":"2027-03-29T09:00:00","utc":null}"#
        );
    }

    #[test]
    fn new_york_gap_moves_forward_and_overlap_takes_the_first() {
        let spring = placed(
            "FREQ=DAILY",
            "2027-03-13T02:30:00",
            America::New_York,
            "2027-03-15T23:59:59",
        );
        let expected = [
            ("2027-03-13T02:30", "2027-03-13T07:30Z"), // EST
            ("2027-03-14T02:30", "2027-03-14T07:30Z"), // gap: 03:30 EDT
            ("2027-03-15T02:30", "2027-03-15T06:30Z"), // EDT
        ];
        assert_eq!(spring, pairs(&expected));

        let autumn = placed(
            "FREQ=DAILY",
            "2027-11-06T01:30:00",
            America::New_York,
            "2027-11-08T23:59:59",
        );
        let expected = [
            ("2027-11-06T01:30", "2027-11-06T05:30Z"), // EDT
            ("2027-11-07T01:30", "2027-11-07T05:30Z"), // twice: the first, EDT
            ("2027-11-08T01:30", "2027-11-08T06:30Z"), // EST
        ];
        assert_eq!(autumn, pairs(&expected));
    }

    #[test]
    fn auckland_weekly_across_southern_hemisphere_changes() {
        // Sundays at 02:30; DST ends 2027-04-04 (03:00 NZDT -> 02:00 NZST) and
        // starts 2027-09-26 (02:00 NZST -> 03:00 NZDT).
        let autumn = placed(
            "FREQ=WEEKLY",
            "2027-03-28T02:30:00",
            Pacific::Auckland,
            "2027-04-11T23:59:59",
        );
        let expected = [
            ("2027-03-28T02:30", "2027-03-27T13:30Z"), // NZDT +13
            ("2027-04-04T02:30", "2027-04-03T13:30Z"), // twice: the first, +13
            ("2027-04-11T02:30", "2027-04-10T14:30Z"), // NZST +12
        ];
        assert_eq!(autumn, pairs(&expected));

        let spring = placed(
            "FREQ=WEEKLY;BYDAY=SU",
            "2027-09-19T02:30:00",
            Pacific::Auckland,
            "2027-10-03T23:59:59",
        );
        let expected = [
            ("2027-09-19T02:30", "2027-09-18T14:30Z"), // NZST +12
            ("2027-09-26T02:30", "2027-09-25T14:30Z"), // gap: 03:30 NZDT
            ("2027-10-03T02:30", "2027-10-02T13:30Z"), // NZDT +13
        ];
        assert_eq!(spring, pairs(&expected));
    }

    #[test]
    fn lord_howe_half_hour_changes() {
        // Spring forward 2027-10-03 02:00 +10:30 -> 02:30 +11: 02:15 is 02:45.
        let spring = placed(
            "FREQ=DAILY",
            "2027-10-02T02:15:00",
            Australia::Lord_Howe,
            "2027-10-04T23:59:59",
        );
        let expected = [
            ("2027-10-02T02:15", "2027-10-01T15:45Z"), // +10:30
            ("2027-10-03T02:15", "2027-10-02T15:45Z"), // gap: 02:45 +11
            ("2027-10-04T02:15", "2027-10-03T15:15Z"), // +11
        ];
        assert_eq!(spring, pairs(&expected));

        // Fall back 2027-04-04 02:00 +11 -> 01:30 +10:30: 01:45 happens twice.
        let autumn = placed(
            "FREQ=DAILY",
            "2027-04-03T01:45:00",
            Australia::Lord_Howe,
            "2027-04-05T23:59:59",
        );
        let expected = [
            ("2027-04-03T01:45", "2027-04-02T14:45Z"), // +11
            ("2027-04-04T01:45", "2027-04-03T14:45Z"), // twice: the first, +11
            ("2027-04-05T01:45", "2027-04-04T15:15Z"), // +10:30
        ];
        assert_eq!(autumn, pairs(&expected));
    }

    // Expected dates below were cross-checked with python-dateutil 2.9's
    // rrule (which, unlike RFC 5545, leaves out a DTSTART the rule does not
    // produce; these starts are all produced by their rules, or skipped with
    // `after`).

    #[test]
    fn last_friday_of_the_month() {
        assert_eq!(
            dates("FREQ=MONTHLY;BYDAY=-1FR", "2027-01-29T10:00:00", None, 7),
            [
                "2027-01-29",
                "2027-02-26",
                "2027-03-26",
                "2027-04-30",
                "2027-05-28",
                "2027-06-25",
                "2027-07-30"
            ]
        );
    }

    #[test]
    fn day_31_skips_short_months() {
        let expected = [
            "2027-01-31",
            "2027-03-31",
            "2027-05-31",
            "2027-07-31",
            "2027-08-31",
            "2027-10-31",
            "2027-12-31",
            "2028-01-31",
        ];
        let start = "2027-01-31T10:00:00";
        assert_eq!(
            dates("FREQ=MONTHLY;BYMONTHDAY=31", start, None, 8),
            expected
        );
        // The same when the day comes from DTSTART (RFC 5545 §3.3.10: invalid
        // dates are ignored, not moved).
        assert_eq!(dates("FREQ=MONTHLY", start, None, 8), expected);
        // The last day of each month instead.
        assert_eq!(
            dates("FREQ=MONTHLY;BYMONTHDAY=-1", start, None, 4),
            ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]
        );
    }

    #[test]
    fn last_workday_of_the_month() {
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                "2027-01-29T10:00:00",
                None,
                8
            ),
            [
                "2027-01-29",
                "2027-02-26",
                "2027-03-31",
                "2027-04-30",
                "2027-05-31",
                "2027-06-30",
                "2027-07-30",
                "2027-08-31"
            ]
        );
    }

    #[test]
    fn leap_day_every_leap_year() {
        let expected = ["2028-02-29", "2032-02-29", "2036-02-29", "2040-02-29"];
        let start = "2028-02-29T10:00:00";
        assert_eq!(
            dates("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", start, None, 4),
            expected
        );
        assert_eq!(dates("FREQ=YEARLY", start, None, 4), expected);
    }

    #[test]
    fn every_other_monday_and_thursday_five_times() {
        let found = dates(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5",
            "2027-01-04T10:00:00",
            None,
            100,
        );
        assert_eq!(
            found,
            [
                "2027-01-04",
                "2027-01-07",
                "2027-01-18",
                "2027-01-21",
                "2027-02-01"
            ]
        );
    }

    #[test]
    fn week_start_changes_which_weeks_are_skipped() {
        // The example of RFC 5545 §3.3.10 (WKST).
        let start = "1997-08-05T09:00:00";
        assert_eq!(
            dates(
                "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
                start,
                None,
                10
            ),
            ["1997-08-05", "1997-08-10", "1997-08-19", "1997-08-24"]
        );
        assert_eq!(
            dates(
                "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
                start,
                None,
                10
            ),
            ["1997-08-05", "1997-08-17", "1997-08-19", "1997-08-31"]
        );
    }

    #[test]
    fn more_rules_agree_with_dateutil() {
        let start = "2027-01-01T09:00:00";
        let after = Some(start);
        let cases: [(&str, &[&str]); 7] = [
            (
                "FREQ=YEARLY;BYDAY=20MO",
                &["2027-05-17", "2028-05-15", "2029-05-14", "2030-05-20"],
            ),
            (
                "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                &["2027-03-28", "2028-03-26", "2029-03-25", "2030-03-31"],
            ),
            (
                "FREQ=YEARLY;BYYEARDAY=-1,100",
                &["2027-04-10", "2027-12-31", "2028-04-09", "2028-12-31"],
            ),
            (
                "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
                &["2027-08-13", "2028-10-13", "2029-04-13", "2029-07-13"],
            ),
            (
                "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO,-1MO",
                &["2027-01-04", "2027-01-25", "2027-03-01", "2027-03-29"],
            ),
            (
                "FREQ=YEARLY;BYMONTH=1,7;BYDAY=1SU,-1SA;BYSETPOS=1,-1",
                &["2027-01-03", "2027-07-31", "2028-01-02", "2028-07-29"],
            ),
            (
                "FREQ=WEEKLY;BYMONTH=2;BYDAY=MO",
                &["2027-02-01", "2027-02-08", "2027-02-15", "2027-02-22"],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(dates(text, start, after, 4), expected, "{text}");
        }
        assert_eq!(
            dates("FREQ=DAILY;BYMONTH=1;BYDAY=SA,SU", start, after, 6),
            [
                "2027-01-02",
                "2027-01-03",
                "2027-01-09",
                "2027-01-10",
                "2027-01-16",
                "2027-01-17"
            ]
        );
    }

    #[test]
    fn dtstart_is_the_first_occurrence_and_counts() {
        // 2027-01-01 is a Friday but not the last one of January.
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
                "2027-01-01T10:00:00",
                None,
                10
            ),
            ["2027-01-01", "2027-01-29", "2027-02-26"]
        );
        // A DTSTART the rule does produce is not repeated.
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
                "2027-01-29T10:00:00",
                None,
                10
            ),
            ["2027-01-29", "2027-02-26", "2027-03-26"]
        );
    }

    #[test]
    fn until_as_a_date_includes_that_whole_day() {
        assert_eq!(
            dates(
                "FREQ=DAILY;UNTIL=20270105",
                "2027-01-01T09:00:00",
                None,
                100
            ),
            [
                "2027-01-01",
                "2027-01-02",
                "2027-01-03",
                "2027-01-04",
                "2027-01-05"
            ]
        );
    }

    #[test]
    fn until_as_a_local_date_time_bounds_the_wall_clock() {
        let start = "2027-01-01T09:00:00";
        assert_eq!(
            dates("FREQ=DAILY;UNTIL=20270103T090000", start, None, 100).len(),
            3
        );
        assert_eq!(
            dates("FREQ=DAILY;UNTIL=20270103T085959", start, None, 100).len(),
            2
        );
    }

    #[test]
    fn until_in_utc_bounds_the_instant() {
        // 09:00 London is 08:00Z from 2027-03-28 on.
        let start = "2027-03-26T09:00:00";
        let last = |text: &str, zone: Option<Tz>| {
            let rule = rule(text);
            let found = series(&rule, start, zone)
                .occurrences(None, None, 100)
                .unwrap();
            found.last().unwrap().local.format("%m-%d").to_string()
        };
        let london = Some(Europe::London);
        assert_eq!(last("FREQ=DAILY;UNTIL=20270329T080000Z", london), "03-29");
        assert_eq!(last("FREQ=DAILY;UNTIL=20270329T075959Z", london), "03-28");
        // Floating: the wall clock is read as UTC.
        assert_eq!(last("FREQ=DAILY;UNTIL=20270329T080000Z", None), "03-28");
        assert_eq!(last("FREQ=DAILY;UNTIL=20270329T090000Z", None), "03-29");
    }

    #[test]
    fn exceptions_are_removed_but_still_count() {
        let rule = rule("FREQ=DAILY;COUNT=5");
        let exceptions = [at("2027-01-02T09:00:00"), at("2027-01-01T09:00:00")];
        let found = Series {
            exceptions: &exceptions,
            ..series(&rule, "2027-01-01T09:00:00", None)
        }
        .occurrences(None, None, 100)
        .unwrap();
        let days: Vec<_> = found
            .iter()
            .map(|o| o.local.format("%d").to_string())
            .collect();
        assert_eq!(days, ["03", "04", "05"]);

        // Only an exact wall-clock match removes an occurrence.
        let other_time = [at("2027-01-02T10:00:00")];
        let found = Series {
            exceptions: &other_time,
            ..series(&rule, "2027-01-01T09:00:00", None)
        }
        .occurrences(None, None, 100)
        .unwrap();
        assert_eq!(found.len(), 5);
    }

    #[test]
    fn paging_with_after_continues_the_same_series() {
        let text = "FREQ=WEEKLY;BYDAY=TU,FR;COUNT=10";
        let start = "2027-01-05T08:00:00";
        let rule = rule(text);
        let s = series(&rule, start, Some(Europe::London));
        let all = s.occurrences(None, None, 100).unwrap();
        assert_eq!(all.len(), 10);

        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = s.occurrences(after, None, 4).unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.local);
            paged.extend(page);
        }
        assert_eq!(paged, all);

        // COUNT still counts from the start: after the 7th only 3 remain.
        let rest = s.occurrences(Some(all[6].local), None, 100).unwrap();
        assert_eq!(rest, all[7..]);
        assert_eq!(s.next_after(all[9].local).unwrap(), None);
        assert_eq!(
            s.next_after(at("2026-01-01T00:00:00")).unwrap(),
            Some(all[0])
        );
        // Between two occurrences.
        let between = all[3].local + chrono::TimeDelta::hours(1);
        assert_eq!(s.next_after(between).unwrap(), Some(all[4]));
    }

    #[test]
    fn skipping_ahead_without_count_matches_counting_from_the_start() {
        // Without COUNT the search starts at the period holding `after`; with
        // a COUNT too large to matter it walks from DTSTART. Both must agree.
        let rules = [
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=DAILY;BYDAY=SA,SU;BYMONTH=2,8",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU",
            "FREQ=WEEKLY;INTERVAL=3",
            "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR",
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "FREQ=YEARLY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29",
            "FREQ=YEARLY;INTERVAL=2;BYDAY=20MO",
        ];
        let afters = [
            "2026-12-31T00:00:00",
            "2027-01-06T09:00:00",
            "2031-06-15T12:00:00",
            "2034-02-28T23:59:59",
            "2036-02-29T09:00:00",
        ];
        for text in rules {
            let open = rule(text);
            let counted = rule(&format!("{text};COUNT=4000000000"));
            for after in afters {
                let a = series(&open, "2027-01-06T09:00:00", None)
                    .occurrences(Some(at(after)), None, 5)
                    .unwrap();
                let b = series(&counted, "2027-01-06T09:00:00", None)
                    .occurrences(Some(at(after)), None, 5)
                    .unwrap();
                assert_eq!(a, b, "{text} after {after}");
                assert_eq!(a.len(), 5, "{text} after {after}");
                assert!(a[0].local > at(after));
            }
        }
    }

    #[test]
    fn until_argument_is_an_inclusive_window_end() {
        let rule = rule("FREQ=DAILY");
        let s = series(&rule, "2027-01-01T09:00:00", None);
        let found = s
            .occurrences(
                Some(at("2027-01-10T09:00:00")),
                Some(at("2027-01-13T09:00:00")),
                100,
            )
            .unwrap();
        let days: Vec<_> = found
            .iter()
            .map(|o| o.local.format("%d").to_string())
            .collect();
        assert_eq!(days, ["11", "12", "13"]);
        assert!(
            s.occurrences(
                Some(at("2027-01-10T09:00:00")),
                Some(at("2027-01-05T00:00:00")),
                100
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn a_rule_that_never_matches_ends_quickly() {
        let started = Instant::now();
        // Yearly: the search stops at the year 9999 (a few thousand periods),
        // so the series is just its DTSTART.
        let never = rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30");
        let s = series(&never, "2027-01-01T09:00:00", Some(Europe::London));
        let found = s.occurrences(None, None, 10).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].local, at("2027-01-01T09:00:00"));
        assert_eq!(s.next_after(at("2027-01-01T09:00:00")).unwrap(), None);

        // Daily: 9999 is too far for the search limits, so it gives up...
        let never_daily = rule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30");
        let s = series(&never_daily, "2027-01-01T09:00:00", None);
        assert_eq!(s.next_after(at("2027-01-01T09:00:00")), Err(Exhausted));
        assert_eq!(
            Exhausted.to_string(),
            "the rule finds no occurrence within the search limits"
        );
        // ...unless a window or UNTIL ends the search first.
        assert_eq!(
            s.occurrences(None, Some(at("2030-01-01T00:00:00")), 10),
            Ok(vec![Occurrence {
                local: at("2027-01-01T09:00:00"),
                utc: None
            }])
        );
        let bounded = rule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20500101T000000Z");
        let s = series(&bounded, "2027-01-01T09:00:00", Some(Pacific::Auckland));
        assert_eq!(s.next_after(at("2027-01-01T09:00:00")), Ok(None));

        // Generous: the limits themselves are 100,000 periods or 50 ms a call.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn huge_expansions_are_capped() {
        let rule = rule("FREQ=DAILY");
        let s = series(&rule, "2027-01-01T09:00:00", Some(America::New_York));
        let found = s.occurrences(None, None, usize::MAX).unwrap();
        assert_eq!(found.len(), MAX_OCCURRENCES);
        assert_eq!(found.last().unwrap().local, at("2029-09-26T09:00:00"));
        assert!(s.occurrences(None, None, 0).unwrap().is_empty());
    }

    #[test]
    fn series_end_with_the_year_9999() {
        let found = dates("FREQ=YEARLY", "9990-06-01T09:00:00", None, 100);
        assert_eq!(found.len(), 10);
        assert_eq!(found.last().unwrap(), "9999-06-01");
        let rule = rule("FREQ=DAILY;INTERVAL=1000");
        let s = series(&rule, "2027-01-01T09:00:00", None);
        let last = at("9999-10-15T09:00:00");
        assert_eq!(
            s.occurrences(Some(at("9999-01-01T00:00:00")), None, 10),
            Ok(vec![Occurrence {
                local: last,
                utc: None
            }])
        );
        assert_eq!(s.next_after(last), Ok(None));
    }
}
