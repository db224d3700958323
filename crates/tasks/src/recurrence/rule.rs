//! A parsed, validated RFC 5545 recurrence rule (§3.3.10 "RECUR").
//!
//! Only what a to-do needs: it recurs at most once a day, at the start's time
//! of day. Supported parts: FREQ (DAILY, WEEKLY, MONTHLY, YEARLY), INTERVAL,
//! COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYYEARDAY, BYSETPOS and WKST.
//! Refused with a message: FREQ=SECONDLY/MINUTELY/HOURLY, BYHOUR, BYMINUTE,
//! BYSECOND (they would recur within a day) and BYWEEKNO (week-numbered
//! years are rarely wanted for a to-do and are the most intricate part of the
//! RFC). Anything else is an unknown part, also an error.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};

/// The longest rule text accepted, in characters.
pub const MAX_RULE_LEN: usize = 500;
/// The largest INTERVAL accepted.
pub const MAX_INTERVAL: u16 = 1000;

/// Why a rule text was refused. Its `Display` is a short message for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the rule is longer than {MAX_RULE_LEN} characters")]
    TooLong,
    #[error("the rule is empty")]
    Empty,
    #[error("`{0}` is not a NAME=VALUE part")]
    Malformed(String),
    #[error("`{0}` is not a recurrence rule part")]
    UnknownPart(String),
    #[error("{0} is given twice")]
    Repeated(&'static str),
    #[error("FREQ is missing")]
    MissingFreq,
    #[error("COUNT and UNTIL cannot both be given")]
    CountAndUntil,
    /// A supported part with a bad value, or used where the RFC forbids it.
    #[error("{part}: {message}")]
    Invalid { part: &'static str, message: String },
    /// A part the RFC defines that this app does not support.
    #[error("{part} is not supported: {reason}")]
    Unsupported {
        part: &'static str,
        reason: &'static str,
    },
}

fn invalid(part: &'static str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        part,
        message: message.into(),
    }
}

/// How often the rule's periods come round (the FREQ part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
        }
    }
}

/// One BYDAY entry: a weekday, with an ordinal (`2TU`, `-1FR`) or without
/// (`MO`, every Monday of the period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeekdayNum {
    /// `None` for every such weekday; `Some(n)`, n ≠ 0, for the n-th
    /// (counting from the end when negative) within the month or year.
    pub ordinal: Option<i8>,
    pub weekday: Weekday,
}

/// The end of a series given by UNTIL (inclusive, RFC 5545 §3.3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Until {
    /// `20270101`: up to and including that day (wall clock).
    Date(NaiveDate),
    /// `20270101T090000`: up to and including that wall-clock time.
    Local(NaiveDateTime),
    /// `20270101T090000Z`: up to and including that instant.
    Utc(DateTime<Utc>),
}

/// How a series ends, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    Count(u32),
    Until(Until),
}

/// A validated recurrence rule. Build it with [`str::parse`]; its `Display`
/// is the canonical text (parts in a fixed order, lists sorted and without
/// duplicates, INTERVAL=1 and WKST=MO left out), which parses back to an equal
/// rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    freq: Frequency,
    interval: u16,
    end: Option<End>,
    by_month: Vec<u8>,
    by_year_day: Vec<i16>,
    by_month_day: Vec<i8>,
    by_day: Vec<WeekdayNum>,
    by_set_pos: Vec<i16>,
    week_start: Weekday,
}

impl Rule {
    pub fn freq(&self) -> Frequency {
        self.freq
    }
    pub fn interval(&self) -> u16 {
        self.interval
    }
    pub fn count(&self) -> Option<u32> {
        match self.end {
            Some(End::Count(n)) => Some(n),
            _ => None,
        }
    }
    pub fn until(&self) -> Option<Until> {
        match self.end {
            Some(End::Until(u)) => Some(u),
            _ => None,
        }
    }
    /// BYMONTH, 1..=12, sorted.
    pub fn by_month(&self) -> &[u8] {
        &self.by_month
    }
    /// BYYEARDAY, ±1..=366, sorted.
    pub fn by_year_day(&self) -> &[i16] {
        &self.by_year_day
    }
    /// BYMONTHDAY, ±1..=31, sorted.
    pub fn by_month_day(&self) -> &[i8] {
        &self.by_month_day
    }
    /// BYDAY, sorted by ordinal then weekday.
    pub fn by_day(&self) -> &[WeekdayNum] {
        &self.by_day
    }
    /// BYSETPOS, ±1..=366, sorted.
    pub fn by_set_pos(&self) -> &[i16] {
        &self.by_set_pos
    }
    /// WKST, Monday unless given.
    pub fn week_start(&self) -> Weekday {
        self.week_start
    }
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

fn weekday_code(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize].0
}

fn parse_weekday(part: &'static str, text: &str) -> Result<Weekday, RuleError> {
    WEEKDAYS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(text))
        .map(|&(_, day)| day)
        .ok_or_else(|| invalid(part, format!("`{text}` is not a weekday (MO, TU, … SU)")))
}

/// A comma-separated list of signed integers, each with `1 <= |n| <= max`
/// (or `1..=max` when `signed` is false), sorted and deduplicated.
fn parse_numbers<T>(
    part: &'static str,
    value: &str,
    max: i32,
    signed: bool,
    what: &str,
) -> Result<Vec<T>, RuleError>
where
    T: TryFrom<i32> + Ord,
{
    let range = if signed {
        format!("±1–{max}")
    } else {
        format!("1–{max}")
    };
    let mut out = value
        .split(',')
        .map(|item| {
            let n: i32 = item
                .parse()
                .map_err(|_| invalid(part, format!("`{item}` is not a number")))?;
            if n == 0 || n.abs() > max || (!signed && n < 0) {
                return Err(invalid(part, format!("{n} is not {what} ({range})")));
            }
            T::try_from(n).map_err(|_| invalid(part, format!("{n} is out of range")))
        })
        .collect::<Result<Vec<T>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn parse_by_day(value: &str) -> Result<Vec<WeekdayNum>, RuleError> {
    let mut out = value
        .split(',')
        .map(|item| {
            // `[+|-][ordwk]weekday`, the weekday being the last two letters.
            let split = item
                .len()
                .checked_sub(2)
                .filter(|&i| item.is_char_boundary(i));
            let Some(split) = split else {
                return Err(invalid("BYDAY", format!("`{item}` is not a weekday")));
            };
            let (number, code) = item.split_at(split);
            let weekday = parse_weekday("BYDAY", code)?;
            let ordinal = if number.is_empty() {
                None
            } else {
                let n: i8 = number
                    .parse()
                    .map_err(|_| invalid("BYDAY", format!("`{item}` is not a weekday")))?;
                if n == 0 || n.abs() > 53 {
                    return Err(invalid(
                        "BYDAY",
                        format!("{item}: the ordinal must be ±1–53"),
                    ));
                }
                Some(n)
            };
            Ok(WeekdayNum { ordinal, weekday })
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|d| (d.ordinal, d.weekday.num_days_from_monday()));
    out.dedup();
    Ok(out)
}

fn parse_until(value: &str) -> Result<Until, RuleError> {
    let bad = || {
        invalid(
            "UNTIL",
            format!(
                "`{value}` is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally ending in Z)"
            ),
        )
    };
    // chrono's parser accepts a sign or fewer digits; the RFC's form does not.
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !value.is_ascii() {
        return Err(bad());
    }
    match value.len() {
        8 if digits(value) => NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(Until::Date)
            .map_err(|_| bad()),
        15 | 16 => {
            let (local, zulu) = match value.strip_suffix(['Z', 'z']) {
                Some(local) => (local, true),
                None => (value, false),
            };
            if local.len() != 15 || !digits(&local[..8]) || !digits(&local[9..]) {
                return Err(bad());
            }
            let t = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
            Ok(if zulu {
                Until::Utc(t.and_utc())
            } else {
                Until::Local(t)
            })
        }
        _ => Err(bad()),
    }
}

/// Stores a part's value; "MUST NOT occur more than once" (RFC 5545 §3.3.10).
fn set<T>(slot: &mut Option<T>, part: &'static str, value: T) -> Result<(), RuleError> {
    match slot.replace(value) {
        Some(_) => Err(RuleError::Repeated(part)),
        None => Ok(()),
    }
}

fn within_a_day(part: &'static str) -> RuleError {
    RuleError::Unsupported {
        part,
        reason: "a to-do recurs at most once a day, at its start's time",
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Checked before any other work, so a huge input costs nothing.
        if text.chars().nth(MAX_RULE_LEN).is_some() {
            return Err(RuleError::TooLong);
        }
        let text = text.trim();
        let text = match text.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &text[6..],
            _ => text,
        };
        if text.is_empty() {
            return Err(RuleError::Empty);
        }

        let mut freq = None;
        let mut interval = None;
        let mut count = None;
        let mut until = None;
        let mut by_month = None;
        let mut by_year_day = None;
        let mut by_month_day = None;
        let mut by_day = None;
        let mut by_set_pos = None;
        let mut week_start = None;

        // Rule part names and values are case-insensitive (RFC 5545 §3.1, §3.3.10).
        for piece in text.split(';').filter(|p| !p.trim().is_empty()) {
            let (name, value) = piece
                .split_once('=')
                .ok_or_else(|| RuleError::Malformed(piece.to_owned()))?;
            let name = name.trim().to_ascii_uppercase();
            let value = value.trim().to_ascii_uppercase();

            match name.as_str() {
                "FREQ" => {
                    let f = match value.as_str() {
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        "YEARLY" => Frequency::Yearly,
                        "SECONDLY" | "MINUTELY" | "HOURLY" => {
                            return Err(RuleError::Unsupported {
                                part: "FREQ",
                                reason: "a to-do recurs at most daily",
                            });
                        }
                        other => {
                            return Err(invalid(
                                "FREQ",
                                format!(
                                    "`{other}` is not a frequency (DAILY, WEEKLY, MONTHLY or YEARLY)"
                                ),
                            ));
                        }
                    };
                    set(&mut freq, "FREQ", f)?;
                }
                "INTERVAL" => {
                    let n: u16 = value
                        .parse()
                        .map_err(|_| invalid("INTERVAL", format!("`{value}` is not a number")))
                        .and_then(|n| {
                            if (1..=MAX_INTERVAL).contains(&n) {
                                Ok(n)
                            } else {
                                Err(invalid(
                                    "INTERVAL",
                                    format!("{n} is out of range (1–{MAX_INTERVAL})"),
                                ))
                            }
                        })?;
                    set(&mut interval, "INTERVAL", n)?;
                }
                "COUNT" => {
                    let n: u32 = value
                        .parse()
                        .map_err(|_| invalid("COUNT", format!("`{value}` is not a number")))?;
                    if n == 0 {
                        return Err(invalid("COUNT", "0 is out of range (at least 1)"));
                    }
                    set(&mut count, "COUNT", n)?;
                }
                "UNTIL" => set(&mut until, "UNTIL", parse_until(&value)?)?,
                "BYMONTH" => set(
                    &mut by_month,
                    "BYMONTH",
                    parse_numbers("BYMONTH", &value, 12, false, "a month")?,
                )?,
                "BYYEARDAY" => set(
                    &mut by_year_day,
                    "BYYEARDAY",
                    parse_numbers("BYYEARDAY", &value, 366, true, "a day of a year")?,
                )?,
                "BYMONTHDAY" => set(
                    &mut by_month_day,
                    "BYMONTHDAY",
                    parse_numbers("BYMONTHDAY", &value, 31, true, "a day of a month")?,
                )?,
                "BYDAY" => set(&mut by_day, "BYDAY", parse_by_day(&value)?)?,
                "BYSETPOS" => set(
                    &mut by_set_pos,
                    "BYSETPOS",
                    parse_numbers("BYSETPOS", &value, 366, true, "a position in a set")?,
                )?,
                "WKST" => set(&mut week_start, "WKST", parse_weekday("WKST", &value)?)?,
                "BYWEEKNO" => {
                    return Err(RuleError::Unsupported {
                        part: "BYWEEKNO",
                        reason: "use BYMONTH, BYMONTHDAY or BYDAY instead",
                    });
                }
                "BYHOUR" => return Err(within_a_day("BYHOUR")),
                "BYMINUTE" => return Err(within_a_day("BYMINUTE")),
                "BYSECOND" => return Err(within_a_day("BYSECOND")),
                _ => return Err(RuleError::UnknownPart(name)),
            }
        }

        let freq = freq.ok_or(RuleError::MissingFreq)?;
        let end = match (count, until) {
            (Some(_), Some(_)) => return Err(RuleError::CountAndUntil),
            (Some(n), None) => Some(End::Count(n)),
            (None, Some(u)) => Some(End::Until(u)),
            (None, None) => None,
        };
        let rule = Rule {
            freq,
            interval: interval.unwrap_or(1),
            end,
            by_month: by_month.unwrap_or_default(),
            by_year_day: by_year_day.unwrap_or_default(),
            by_month_day: by_month_day.unwrap_or_default(),
            by_day: by_day.unwrap_or_default(),
            by_set_pos: by_set_pos.unwrap_or_default(),
            week_start: week_start.unwrap_or(Weekday::Mon),
        };
        rule.check_combinations()?;
        Ok(rule)
    }
}

impl Rule {
    /// The restrictions RFC 5545 §3.3.10 places on combining parts.
    fn check_combinations(&self) -> Result<(), RuleError> {
        let freq = self.freq;
        if !self.by_year_day.is_empty() && freq != Frequency::Yearly {
            // "MUST NOT be specified when the FREQ rule part is set to DAILY,
            // WEEKLY, or MONTHLY."
            return Err(invalid(
                "BYYEARDAY",
                format!("not allowed with FREQ={}", freq.as_str()),
            ));
        }
        if !self.by_month_day.is_empty() && freq == Frequency::Weekly {
            // "MUST NOT be specified when the FREQ rule part is set to WEEKLY."
            return Err(invalid("BYMONTHDAY", "not allowed with FREQ=WEEKLY"));
        }
        for day in &self.by_day {
            let Some(n) = day.ordinal else { continue };
            let code = weekday_code(day.weekday);
            // "MUST NOT be specified with a numeric value when the FREQ rule
            // part is not set to MONTHLY or YEARLY."
            if matches!(freq, Frequency::Daily | Frequency::Weekly) {
                return Err(invalid(
                    "BYDAY",
                    format!("{n}{code}: an ordinal is only allowed with FREQ=MONTHLY or YEARLY"),
                ));
            }
            // Within a month (MONTHLY, or YEARLY with BYMONTH) there are at
            // most five of each weekday; a larger ordinal never matches.
            let in_month = freq == Frequency::Monthly || !self.by_month.is_empty();
            if in_month && n.abs() > 5 {
                return Err(invalid(
                    "BYDAY",
                    format!("{n}{code}: a month has at most 5 of each weekday"),
                ));
            }
        }
        // "It MUST only be used in conjunction with another BYxxx rule part."
        let has_by_part = !(self.by_month.is_empty()
            && self.by_year_day.is_empty()
            && self.by_month_day.is_empty()
            && self.by_day.is_empty());
        if !self.by_set_pos.is_empty() && !has_by_part {
            return Err(invalid(
                "BYSETPOS",
                "needs another BY part (BYDAY, BYMONTHDAY, …) to pick from",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(items: &[T]) -> String {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }

        write!(f, "FREQ={}", self.freq.as_str())?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        match self.end {
            Some(End::Count(n)) => write!(f, ";COUNT={n}")?,
            Some(End::Until(Until::Date(d))) => write!(f, ";UNTIL={}", d.format("%Y%m%d"))?,
            Some(End::Until(Until::Local(t))) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%S"))?,
            Some(End::Until(Until::Utc(t))) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%SZ"))?,
            None => {}
        }
        if !self.by_month.is_empty() {
            write!(f, ";BYMONTH={}", list(&self.by_month))?;
        }
        if !self.by_year_day.is_empty() {
            write!(f, ";BYYEARDAY={}", list(&self.by_year_day))?;
        }
        if !self.by_month_day.is_empty() {
            write!(f, ";BYMONTHDAY={}", list(&self.by_month_day))?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<String> = self
                .by_day
                .iter()
                .map(|d| match d.ordinal {
                    Some(n) => format!("{n}{}", weekday_code(d.weekday)),
                    None => weekday_code(d.weekday).to_owned(),
                })
                .collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        if !self.by_set_pos.is_empty() {
            write!(f, ";BYSETPOS={}", list(&self.by_set_pos))?;
        }
        if self.week_start != Weekday::Mon {
            write!(f, ";WKST={}", weekday_code(self.week_start))?;
        }
        Ok(())
    }
}

/// Stored and sent as its canonical text.
impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match text.parse::<Rule>() {
            Ok(rule) => panic!("{text} parsed as {rule}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_the_usual_rules() {
        let rule: Rule = "FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=1".parse().unwrap();
        assert_eq!(rule.freq(), Frequency::Monthly);
        assert_eq!(rule.interval(), 1);
        assert_eq!(
            rule.by_day(),
            [WeekdayNum {
                ordinal: Some(-1),
                weekday: Weekday::Fri
            }]
        );
        assert_eq!(rule.to_string(), "FREQ=MONTHLY;BYDAY=-1FR");

        let rule: Rule = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5"
            .parse()
            .unwrap();
        assert_eq!(rule.count(), Some(5));
        assert_eq!(rule.interval(), 2);
        assert_eq!(rule.by_day().len(), 2);
    }

    #[test]
    fn names_and_values_are_case_insensitive() {
        let a: Rule = "rrule:freq=monthly;byday=2tu;wkst=su".parse().unwrap();
        let b: Rule = "FREQ=MONTHLY;BYDAY=2TU;WKST=SU".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn until_forms() {
        let rule: Rule = "FREQ=DAILY;UNTIL=20270101".parse().unwrap();
        assert_eq!(
            rule.until(),
            Some(Until::Date(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()))
        );
        let rule: Rule = "FREQ=DAILY;UNTIL=20270101T090000".parse().unwrap();
        assert_eq!(
            rule.until(),
            Some(Until::Local("2027-01-01T09:00:00".parse().unwrap()))
        );
        let rule: Rule = "FREQ=DAILY;UNTIL=20270101T090000Z".parse().unwrap();
        assert_eq!(
            rule.until(),
            Some(Until::Utc("2027-01-01T09:00:00Z".parse().unwrap()))
        );
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        let cases = [
            ("FREQ=DAILY", "FREQ=DAILY"),
            ("FREQ=DAILY;INTERVAL=1;WKST=MO", "FREQ=DAILY"),
            (
                "BYDAY=TH,MO,MO;FREQ=WEEKLY;COUNT=5;INTERVAL=2",
                "FREQ=WEEKLY;INTERVAL=2;COUNT=5;BYDAY=MO,TH",
            ),
            (
                "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR,TH,WE,TU,MO",
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            ),
            (
                "FREQ=YEARLY;BYMONTHDAY=29;BYMONTH=2;UNTIL=20400101",
                "FREQ=YEARLY;UNTIL=20400101;BYMONTH=2;BYMONTHDAY=29",
            ),
            (
                "FREQ=YEARLY;BYYEARDAY=-1,100;UNTIL=20400101T235959Z;WKST=SU",
                "FREQ=YEARLY;UNTIL=20400101T235959Z;BYYEARDAY=-1,100;WKST=SU",
            ),
            (
                "FREQ=MONTHLY;BYDAY=-1FR,1MO,FR;BYMONTHDAY=-3,13;UNTIL=20400101T090000",
                "FREQ=MONTHLY;UNTIL=20400101T090000;BYMONTHDAY=-3,13;BYDAY=FR,-1FR,1MO",
            ),
        ];
        for (input, canonical) in cases {
            let rule: Rule = input.parse().unwrap();
            assert_eq!(rule.to_string(), canonical, "{input}");
            let again: Rule = canonical.parse().unwrap();
            assert_eq!(again, rule, "{input}");
            assert_eq!(again.to_string(), canonical);
        }
    }

    #[test]
    fn serde_uses_the_text() {
        let rule: Rule = "FREQ=MONTHLY;BYDAY=-1FR".parse().unwrap();
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(json, r#""FREQ=MONTHLY;BYDAY=-1FR""#);
        assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), rule);
        let bad = serde_json::from_str::<Rule>(r#""FREQ=HOURLY""#).unwrap_err();
        assert!(bad.to_string().contains("at most daily"), "{bad}");
    }

    #[test]
    fn errors_name_the_part() {
        let cases = [
            ("", "the rule is empty"),
            ("RRULE:", "the rule is empty"),
            ("FREQ", "`FREQ` is not a NAME=VALUE part"),
            ("COUNT=3", "FREQ is missing"),
            ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
            (
                "FREQ=DAILY;COLOR=RED",
                "`COLOR` is not a recurrence rule part",
            ),
            (
                "FREQ=FORTNIGHTLY",
                "FREQ: `FORTNIGHTLY` is not a frequency (DAILY, WEEKLY, MONTHLY or YEARLY)",
            ),
            (
                "FREQ=HOURLY",
                "FREQ is not supported: a to-do recurs at most daily",
            ),
            (
                "FREQ=MINUTELY",
                "FREQ is not supported: a to-do recurs at most daily",
            ),
            (
                "FREQ=SECONDLY",
                "FREQ is not supported: a to-do recurs at most daily",
            ),
            (
                "FREQ=DAILY;INTERVAL=0",
                "INTERVAL: 0 is out of range (1–1000)",
            ),
            (
                "FREQ=DAILY;INTERVAL=1001",
                "INTERVAL: 1001 is out of range (1–1000)",
            ),
            ("FREQ=DAILY;INTERVAL=-1", "INTERVAL: `-1` is not a number"),
            ("FREQ=DAILY;INTERVAL=", "INTERVAL: `` is not a number"),
            (
                "FREQ=DAILY;COUNT=0",
                "COUNT: 0 is out of range (at least 1)",
            ),
            ("FREQ=DAILY;COUNT=ten", "COUNT: `TEN` is not a number"),
            (
                "FREQ=DAILY;COUNT=99999999999",
                "COUNT: `99999999999` is not a number",
            ),
            (
                "FREQ=DAILY;COUNT=3;UNTIL=20270101",
                "COUNT and UNTIL cannot both be given",
            ),
            (
                "FREQ=DAILY;UNTIL=20270230",
                "UNTIL: `20270230` is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally ending in Z)",
            ),
            (
                "FREQ=DAILY;UNTIL=2027-01-01",
                "UNTIL: `2027-01-01` is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally ending in Z)",
            ),
            (
                "FREQ=DAILY;UNTIL=20270101T250000Z",
                "UNTIL: `20270101T250000Z` is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally ending in Z)",
            ),
            (
                "FREQ=DAILY;UNTIL=+2027010",
                "UNTIL: `+2027010` is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally ending in Z)",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=32",
                "BYMONTHDAY: 32 is not a day of a month (±1–31)",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=0",
                "BYMONTHDAY: 0 is not a day of a month (±1–31)",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=-32",
                "BYMONTHDAY: -32 is not a day of a month (±1–31)",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=1,,2",
                "BYMONTHDAY: `` is not a number",
            ),
            (
                "FREQ=WEEKLY;BYMONTHDAY=1",
                "BYMONTHDAY: not allowed with FREQ=WEEKLY",
            ),
            (
                "FREQ=YEARLY;BYMONTH=13",
                "BYMONTH: 13 is not a month (1–12)",
            ),
            (
                "FREQ=YEARLY;BYMONTH=-1",
                "BYMONTH: -1 is not a month (1–12)",
            ),
            (
                "FREQ=YEARLY;BYYEARDAY=367",
                "BYYEARDAY: 367 is not a day of a year (±1–366)",
            ),
            (
                "FREQ=MONTHLY;BYYEARDAY=1",
                "BYYEARDAY: not allowed with FREQ=MONTHLY",
            ),
            (
                "FREQ=MONTHLY;BYDAY=XX",
                "BYDAY: `XX` is not a weekday (MO, TU, … SU)",
            ),
            ("FREQ=MONTHLY;BYDAY=M", "BYDAY: `M` is not a weekday"),
            (
                "FREQ=MONTHLY;BYDAY=+-1MO",
                "BYDAY: `+-1MO` is not a weekday",
            ),
            (
                "FREQ=MONTHLY;BYDAY=0MO",
                "BYDAY: 0MO: the ordinal must be ±1–53",
            ),
            (
                "FREQ=YEARLY;BYDAY=54MO",
                "BYDAY: 54MO: the ordinal must be ±1–53",
            ),
            (
                "FREQ=MONTHLY;BYDAY=6MO",
                "BYDAY: 6MO: a month has at most 5 of each weekday",
            ),
            (
                "FREQ=YEARLY;BYMONTH=3;BYDAY=-6MO",
                "BYDAY: -6MO: a month has at most 5 of each weekday",
            ),
            (
                "FREQ=WEEKLY;BYDAY=2TU",
                "BYDAY: 2TU: an ordinal is only allowed with FREQ=MONTHLY or YEARLY",
            ),
            (
                "FREQ=DAILY;BYDAY=-1FR",
                "BYDAY: -1FR: an ordinal is only allowed with FREQ=MONTHLY or YEARLY",
            ),
            (
                "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367",
                "BYSETPOS: 367 is not a position in a set (±1–366)",
            ),
            (
                "FREQ=MONTHLY;BYSETPOS=1",
                "BYSETPOS: needs another BY part (BYDAY, BYMONTHDAY, …) to pick from",
            ),
            (
                "FREQ=WEEKLY;WKST=XY",
                "WKST: `XY` is not a weekday (MO, TU, … SU)",
            ),
            (
                "FREQ=YEARLY;BYWEEKNO=20",
                "BYWEEKNO is not supported: use BYMONTH, BYMONTHDAY or BYDAY instead",
            ),
            (
                "FREQ=DAILY;BYHOUR=9",
                "BYHOUR is not supported: a to-do recurs at most once a day, at its start's time",
            ),
            (
                "FREQ=DAILY;BYMINUTE=9",
                "BYMINUTE is not supported: a to-do recurs at most once a day, at its start's time",
            ),
            (
                "FREQ=DAILY;BYSECOND=9",
                "BYSECOND is not supported: a to-do recurs at most once a day, at its start's time",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(err(input), message, "{input}");
        }
    }

    #[test]
    fn length_is_limited() {
        let long = format!("FREQ=DAILY;BYMONTHDAY={}", "1,".repeat(300));
        assert_eq!(err(&long), "the rule is longer than 500 characters");
        // 500 characters is still fine (multi-byte ones count once).
        let padded = format!("FREQ=DAILY{}", ";".repeat(490));
        assert_eq!(padded.chars().count(), 500);
        assert!(padded.parse::<Rule>().is_ok());
        let accented = format!("FREQ=DAILY;X={}", "é".repeat(488));
        assert_eq!(accented.chars().count(), 501);
        assert_eq!(err(&accented), "the rule is longer than 500 characters");
    }
}
