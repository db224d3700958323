//! Placing a wall-clock time in an IANA time zone.

use chrono::{DateTime, Days, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant at which the wall-clock time `local` happens in `zone`.
///
/// This is the rule of RFC 5545 §3.3.5 ("DATE-TIME", form #3, local time with
/// time zone reference), the only one this crate uses:
///
/// * an **ambiguous** local time (it happens twice, in the hour the clocks go
///   back) is the **first** of the two instants, i.e. the one still using the
///   offset from before the change ("the first occurrence of the referenced
///   time");
/// * a local time that **does not exist** (it falls in the gap the clocks jump
///   over) moves **forward by the length of the gap**, i.e. it is read with the
///   offset from before the change ("interpreted using the UTC offset before
///   the gap in local times"). America/New_York 2027-03-14 02:30 becomes
///   03:30 EDT (07:30Z); Australia/Lord_Howe, whose gap is 30 minutes, turns
///   02:15 on its spring-forward day into 02:45.
///
/// The gap is measured from the zone's offsets a day before and a day after the
/// local time (the method of ECMAScript Temporal's "compatible"
/// disambiguation), so it works for any gap length, from Lord Howe's
/// 30 minutes to Samoa's skipped day (Pacific/Apia, 2011-12-30).
pub fn place(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.to_utc(),
        // chrono-tz lists the earlier instant first, but don't rely on it.
        chrono::LocalResult::Ambiguous(a, b) => a.to_utc().min(b.to_utc()),
        chrono::LocalResult::None => {
            let offset_at = |t: NaiveDateTime| -> i64 {
                i64::from(zone.offset_from_utc_datetime(&t).fix().local_minus_utc())
            };
            // `local` read as UTC is within a day of the transition instant,
            // so these are the offsets on either side of it.
            let day_before = local.checked_sub_days(Days::new(1)).unwrap_or(local);
            let day_after = local.checked_add_days(Days::new(1)).unwrap_or(local);
            let before = offset_at(day_before);
            let gap = offset_at(day_after) - before;
            debug_assert!(gap > 0, "a gap in local time needs a growing offset");
            // `local + gap` read with the new offset is the same instant as
            // `local` read with the old one: `local - before`.
            (local - TimeDelta::seconds(before)).and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Timelike};
    use chrono_tz::{America, Australia, Europe, Pacific};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    // Expected instants below come from the tz database (2025b, the version
    // both chrono-tz 0.10.4 and this machine's `zdump` use).

    #[test]
    fn ordinary_times_use_the_offset_in_force() {
        assert_eq!(
            place(at(2027, 1, 15, 9, 0), Tz::Europe__London),
            utc("2027-01-15T09:00:00Z")
        );
        assert_eq!(
            place(at(2027, 7, 15, 9, 0), Europe::London),
            utc("2027-07-15T08:00:00Z")
        );
    }

    #[test]
    fn new_york_gap_moves_forward_an_hour() {
        // 2027-03-14 07:00Z: 02:00 EST -> 03:00 EDT.
        let t = place(at(2027, 3, 14, 2, 30), America::New_York);
        assert_eq!(t, utc("2027-03-14T07:30:00Z"));
        assert_eq!(t.with_timezone(&America::New_York).hour(), 3);
        assert_eq!(t.with_timezone(&America::New_York).minute(), 30);
        // The first instant of the gap and the last one.
        assert_eq!(
            place(at(2027, 3, 14, 2, 0), America::New_York),
            utc("2027-03-14T07:00:00Z")
        );
        assert_eq!(
            place(at(2027, 3, 14, 2, 59), America::New_York),
            utc("2027-03-14T07:59:00Z")
        );
    }

    #[test]
    fn new_york_ambiguous_hour_is_the_first() {
        // 2027-11-07 06:00Z: 02:00 EDT -> 01:00 EST; 01:30 happens at 05:30Z
        // (EDT) and again at 06:30Z (EST).
        assert_eq!(
            place(at(2027, 11, 7, 1, 30), America::New_York),
            utc("2027-11-07T05:30:00Z")
        );
        assert_eq!(
            place(at(2027, 11, 7, 2, 0), America::New_York),
            utc("2027-11-07T07:00:00Z")
        );
    }

    #[test]
    fn auckland_southern_hemisphere() {
        // 2027-09-25 14:00Z: 02:00 NZST -> 03:00 NZDT (gap).
        assert_eq!(
            place(at(2027, 9, 26, 2, 30), Pacific::Auckland),
            utc("2027-09-25T14:30:00Z")
        );
        // 2027-04-03 14:00Z: 03:00 NZDT -> 02:00 NZST; 02:30 is ambiguous and
        // the first is NZDT (+13).
        assert_eq!(
            place(at(2027, 4, 4, 2, 30), Pacific::Auckland),
            utc("2027-04-03T13:30:00Z")
        );
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // 2027-10-02 15:30Z: 02:00 +10:30 -> 02:30 +11.
        let t = place(at(2027, 10, 3, 2, 15), Australia::Lord_Howe);
        assert_eq!(t, utc("2027-10-02T15:45:00Z"));
        let wall = t.with_timezone(&Australia::Lord_Howe).naive_local();
        assert_eq!(wall, at(2027, 10, 3, 2, 45));
    }

    #[test]
    fn lord_howe_half_hour_overlap_is_the_first() {
        // 2027-04-03 15:00Z: 02:00 +11 -> 01:30 +10:30; 01:45 happens at
        // 14:45Z (+11) and 15:15Z (+10:30).
        assert_eq!(
            place(at(2027, 4, 4, 1, 45), Australia::Lord_Howe),
            utc("2027-04-03T14:45:00Z")
        );
    }

    #[test]
    fn samoa_skipped_day_moves_forward_a_whole_day() {
        // 2011-12-30 10:00Z: Thursday 24:00 -10 -> Saturday 00:00 +14, so
        // Friday 2011-12-30 never happened in Apia.
        let t = place(at(2011, 12, 30, 9, 0), Pacific::Apia);
        assert_eq!(t, utc("2011-12-30T19:00:00Z"));
        let wall = t.with_timezone(&Pacific::Apia).naive_local();
        assert_eq!(wall, at(2011, 12, 31, 9, 0));
    }
}
