//! iCalendar (RFC 5545) VTODO objects with alarms (RFC 9074), as CalDAV
//! clients (Thunderbird, Apple Reminders, Tasks.org via DAVx5, Evolution)
//! send and expect them.
//!
//! - [`lines`]: content lines: unfolding, folding at 75 octets on UTF-8
//!   boundaries, parameters (quoted values, RFC 6868), TEXT escaping, and the
//!   BEGIN/END tree.
//! - [`vtodo`]: the mapping to [`Todo`], [`Alarm`] and [`Object`], and back.
//!
//! # Why hand-written rather than a crate
//!
//! We checked the two maintained crates on crates.io, parsing and then
//! writing a real Thunderbird body:
//!
//! - `icalendar` 0.17 keeps properties in a `BTreeMap`, so their order is
//!   lost, and it keeps only one property per name unless the name is known
//!   to repeat. When it writes a calendar it also makes up a `DTSTAMP` and a
//!   random `UID` inside every VALARM. Neither change is acceptable for a
//!   server that must hand clients back what they stored.
//! - `calcard` 0.3 (Stalwart) keeps the order, but it parses every value into
//!   a type and writes it out again, so values change. An unknown property
//!   `X-FOO:a,b` came back as `X-FOO:a\,b`. It also pulls in `mail-parser`,
//!   `mail-builder`, `ahash` and a proc-macro (`hashify`, so `syn`), and it
//!   brings JSCalendar and vCard code we do not need.
//!
//! What we need is small: content lines, plus a mapping of about twenty
//! properties. The one thing that is hard is keeping every line we do not
//! model exactly as it came. That is easiest when we own the raw lines, so
//! this module depends only on `chrono`, `chrono-tz` and `thiserror`.
//!
//! # Round-trip contract
//!
//! Every property that is not mapped to a typed field goes into
//! [`Todo::other`] or [`Alarm::other`] as its raw, unfolded line. Every
//! component other than VTODO (VTIMEZONE, VEVENT, …) goes into
//! [`Object::other_components`], and every VCALENDAR property except PRODID
//! and VERSION goes into [`Object::other_properties`]. All of these are
//! written back verbatim (re-folded). Typed properties are written again from
//! their fields. [`vtodo`] lists what that can lose.

pub mod lines;
pub mod vtodo;

pub use vtodo::{Alarm, AlarmTrigger, Object, Status, Todo, When, parse, parse_many, write};
