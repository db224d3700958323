//! The root path segments that the platform and the apps claim, in one list.
//!
//! Links answers every other root path (`/{slug}`), so a claimed segment can never be a
//! slug, and an app's page can never be shadowed by one, nor shadow one made earlier: the
//! apps still to come claim their roots here before their routes exist, so that no slug is
//! made today that their pages would hide tomorrow. `tests/api/paths.rs` checks every route
//! of the running server against this list.

/// The platform's own roots.
const PLATFORM: &[&str] = &[
    "api",
    "docs",
    "openapi.json",
    "healthz",
    "readyz",
    "metrics",
    ".well-known",
    "well-known",
    "favicon.ico",
    "robots.txt",
    "static",
    "assets",
];

/// Each app's roots outside `/api`: tasks' CalDAV server and calendar feeds, the job
/// board's public pages and feeds.
const APPS: &[(&str, &[&str])] = &[
    ("tasks", &["dav", "ical", "calendars"]),
    ("jobs", &["jobs", "feeds", "companies"]),
];

/// Whether `segment` (the first of a path, without slashes) is claimed, in any case.
pub fn is_claimed(segment: &str) -> bool {
    PLATFORM
        .iter()
        .chain(APPS.iter().flat_map(|(_, roots)| roots.iter()))
        .any(|root| root.eq_ignore_ascii_case(segment))
}

/// Every claimed root, for documentation and tests.
pub fn claimed() -> impl Iterator<Item = &'static str> {
    PLATFORM
        .iter()
        .copied()
        .chain(APPS.iter().flat_map(|(_, roots)| roots.iter().copied()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn claims_are_case_insensitive_and_only_whole_segments() {
        assert!(super::is_claimed("API"));
        assert!(super::is_claimed("dav"));
        assert!(!super::is_claimed("apis"));
        assert!(!super::is_claimed("spring"));
    }
}
