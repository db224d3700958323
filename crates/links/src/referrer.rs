//! Where a click came from: the referring site, the campaign (UTM parameters) and the
//! visitor's language.
//!
//! Every input here is a client-controlled header or query string, recorded for millions of
//! clicks, so each function scans the text once, allocates only the value it returns, and
//! bounds what it returns (the columns are 255 characters at most). Anything malformed is
//! `None` rather than an error: analytics must never fail a click.

use std::borrow::Cow;

use url::form_urlencoded;

/// Longest value we keep for a host or a UTM parameter (the width of their columns).
const MAX_LEN: usize = 255;

/// The lowercase host of an `http`/`https` referrer, without a leading `www.`:
/// `"https://www.Google.com/search?q=x"` gives `"google.com"`. `None` for other schemes
/// (`android-app://`, `file:`), for anything that is not a well-formed host name or IP
/// literal, and for hosts longer than 255 characters (a truncated host would be a different,
/// made-up site, so it is dropped rather than cut).
pub fn host(referrer: &str) -> Option<String> {
    let referrer = referrer.trim();
    let rest = strip_prefix_ignore_case(referrer, "https://")
        .or_else(|| strip_prefix_ignore_case(referrer, "http://"))?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    // Credentials ("user:pass@host") are not part of the host, and must not be stored.
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);

    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (literal, port) = bracketed.split_once(']')?;
        if !valid_port(port.strip_prefix(':').unwrap_or(port), port.is_empty()) {
            return None;
        }
        // Parsed and re-printed so the same address is always stored the same way.
        let address: std::net::Ipv6Addr = literal.parse().ok()?;
        return Some(format!("[{address}]"));
    }

    let (name, port) = host_port.split_once(':').unwrap_or((host_port, ""));
    if !valid_port(port, !host_port.contains(':')) {
        return None;
    }
    // "example.com." is the fully qualified spelling of "example.com".
    let name = name.strip_suffix('.').unwrap_or(name);
    let name = strip_prefix_ignore_case(name, "www.")
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name);
    if name.is_empty() || name.len() > MAX_LEN || !name.split('.').all(valid_label) {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// A DNS label as browsers send it: ASCII letters, digits, `-` and `_` (seen in real host
/// names), 1 to 63 of them. Internationalised names arrive punycoded (`xn--...`), so
/// anything non-ASCII is garbage.
fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A port after the host: absent, or digits (an empty port after ':' is legal in URLs).
fn valid_port(port: &str, absent: bool) -> bool {
    absent || (port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Campaign parameters of a link click (Google's UTM convention).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

/// The `utm_*` parameters of a query string (with or without its leading `?`),
/// percent-decoded, trimmed, without control characters, at most 255 characters each; empty
/// values are `None`. Parameter names match case-insensitively and the first non-empty value
/// of each wins.
pub fn utm(query: &str) -> Utm {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut utm = Utm::default();
    // `parse` decodes lazily and borrows unless a pair needs decoding, so the parameters we
    // skip cost nothing but the scan.
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(name) = strip_prefix_ignore_case(&key, "utm_") else {
            continue;
        };
        let slot = if name.eq_ignore_ascii_case("source") {
            &mut utm.source
        } else if name.eq_ignore_ascii_case("medium") {
            &mut utm.medium
        } else if name.eq_ignore_ascii_case("campaign") {
            &mut utm.campaign
        } else if name.eq_ignore_ascii_case("term") {
            &mut utm.term
        } else if name.eq_ignore_ascii_case("content") {
            &mut utm.content
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = clean(value);
        }
    }
    utm
}

/// Trims, drops control characters and caps at [`MAX_LEN`] characters (not bytes: the
/// columns count characters). Control characters go because a NUL, which `%00` decodes to,
/// is rejected by PostgreSQL text columns and would fail the whole batch of clicks.
fn clean(value: Cow<'_, str>) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    // The usual case: a short, clean value, reusing the decoder's allocation if it made one.
    if trimmed.len() <= MAX_LEN && !trimmed.contains(char::is_control) {
        return Some(if trimmed.len() == value.len() {
            value.into_owned()
        } else {
            trimmed.to_owned()
        });
    }
    let mut cleaned = String::with_capacity(trimmed.len().min(MAX_LEN * 4));
    cleaned.extend(trimmed.chars().filter(|c| !c.is_control()).take(MAX_LEN));
    cleaned.truncate(cleaned.trim_end().len());
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The primary subtag, lowercased, of the language the visitor prefers most in an
/// `Accept-Language` header: `"fr-CH, fr;q=0.9, en;q=0.8"` gives `"fr"`. Among equal weights
/// the first listed wins (the header is ordered by preference). `*`, `q=0` (meaning "not
/// this one"), malformed entries and primary subtags that are not 2 to 8 ASCII letters are
/// skipped; `None` if nothing is left.
pub fn primary_language(accept_language: &str) -> Option<String> {
    let mut best: Option<(&str, u16)> = None;
    for entry in accept_language.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let mut weight = Some(1000);
        for param in parts {
            let param = param.trim();
            if let Some(q) = strip_prefix_ignore_case(param, "q=") {
                weight = qvalue(q);
            }
        }
        let Some(weight) = weight.filter(|&w| w > 0) else {
            continue;
        };
        // Some clients write "en_US"; the primary subtag is the same either way.
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        let is_language =
            (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
        if is_language && best.is_none_or(|(_, best_weight)| weight > best_weight) {
            best = Some((primary, weight));
        }
    }
    best.map(|(primary, _)| primary.to_ascii_lowercase())
}

/// An HTTP quality value (`0`, `0.5`, `1.000`, ...) in thousandths, parsed exactly rather
/// than as a float so that equal weights compare equal. `None` when malformed or above 1.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.len() != 1 || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    for (digit, scale) in fraction.bytes().zip([100, 10, 1]) {
        thousandths += u16::from(digit - b'0') * scale;
    }
    (thousandths <= 1000).then_some(thousandths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_lowercase_without_www() {
        assert_eq!(
            host("https://www.Google.com/search?q=x").as_deref(),
            Some("google.com")
        );
        assert_eq!(
            host("http://news.ycombinator.com/").as_deref(),
            Some("news.ycombinator.com")
        );
        assert_eq!(host("https://t.co/abc123").as_deref(), Some("t.co"));
        assert_eq!(
            host("HTTPS://WWW.EXAMPLE.ORG").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            host("  https://example.org?x#y ").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            host("https://example.org#frag").as_deref(),
            Some("example.org")
        );
        // Only a leading "www." goes: other subdomains are different sites.
        assert_eq!(
            host("https://www2.example.org/").as_deref(),
            Some("www2.example.org")
        );
        assert_eq!(
            host("https://m.facebook.com/").as_deref(),
            Some("m.facebook.com")
        );
    }

    #[test]
    fn host_drops_port_credentials_and_trailing_dot() {
        assert_eq!(
            host("http://localhost:8080/x").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            host("https://user:secret@www.example.com/").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            host("https://example.com./").as_deref(),
            Some("example.com")
        );
        assert_eq!(host("http://192.0.2.1:80/").as_deref(), Some("192.0.2.1"));
        assert_eq!(
            host("http://[2001:DB8::0001]:8080/").as_deref(),
            Some("[2001:db8::1]")
        );
        assert_eq!(
            host("https://xn--mnchen-3ya.de/").as_deref(),
            Some("xn--mnchen-3ya.de")
        );
    }

    #[test]
    fn host_rejects_garbage_and_other_schemes() {
        for referrer in [
            "",
            "google.com",
            "//google.com/",
            "ftp://example.com/",
            "android-app://com.google.android.gm/",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://exa mple.com/",
            "https://exa<mple.com/",
            "https://münchen.de/",
            "https://example..com/",
            "https://example.com:80a/",
            "https://example.com:123456/",
            "http://[not-an-ip]/",
            "http://[::1/",
        ] {
            assert_eq!(host(referrer), None, "{referrer:?}");
        }
    }

    #[test]
    fn host_longer_than_255_is_dropped() {
        let label = "a".repeat(63);
        let long = [label.as_str(); 5].join("."); // 319 characters
        assert_eq!(host(&format!("https://{long}/")), None);
        let fits = [label.as_str(); 4].join("."); // 255 characters
        assert_eq!(host(&format!("https://{fits}/")), Some(fits));
    }

    #[test]
    fn utm_parameters_are_decoded() {
        assert_eq!(
            utm(
                "?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=red+shoes&utm_content=hero%E2%9C%93&ref=x"
            ),
            Utm {
                source: Some("newsletter".into()),
                medium: Some("email".into()),
                campaign: Some("spring sale".into()),
                term: Some("red shoes".into()),
                content: Some("hero✓".into()),
            }
        );
    }

    #[test]
    fn utm_empty_missing_and_repeated_values() {
        assert_eq!(utm(""), Utm::default());
        assert_eq!(utm("a=1&b=2"), Utm::default());
        assert_eq!(
            utm(
                "utm_source=&utm_medium=%20%20&UTM_Campaign=Launch&utm_source=second&utm_campaign=ignored"
            ),
            Utm {
                source: Some("second".into()),
                campaign: Some("Launch".into()),
                ..Utm::default()
            }
        );
        // Control characters (a NUL would fail a PostgreSQL insert) are dropped.
        assert_eq!(utm("utm_source=a%00b%0A").source.as_deref(), Some("ab"));
        assert_eq!(utm("utm_source=%00").source, None);
        assert_eq!(
            utm("utm_term=+red+shoes%20").term.as_deref(),
            Some("red shoes")
        );
    }

    #[test]
    fn utm_values_are_capped_at_255_characters() {
        let long = "é".repeat(300);
        let source = utm(&format!("utm_source={long}")).source.unwrap();
        assert_eq!(source.chars().count(), 255);
        assert!(source.chars().all(|c| c == 'é'));
    }

    #[test]
    fn primary_language_picks_the_highest_weight() {
        let lang = |header: &str| primary_language(header);
        assert_eq!(lang("fr-CH, fr;q=0.9, en;q=0.8").as_deref(), Some("fr"));
        assert_eq!(lang("en;q=0.5, de;q=0.8").as_deref(), Some("de"));
        assert_eq!(lang("EN-us").as_deref(), Some("en"));
        assert_eq!(lang("pt_BR").as_deref(), Some("pt"));
        assert_eq!(lang("zh-Hant-TW;q=1.000").as_deref(), Some("zh"));
        // Equal weights: the first listed wins.
        assert_eq!(lang("nl;q=0.7, da;q=0.700").as_deref(), Some("nl"));
        // Whitespace around separators is allowed.
        assert_eq!(lang(" de ; q=0.3 ,  es ;q=0.4 ").as_deref(), Some("es"));
    }

    #[test]
    fn primary_language_skips_wildcards_refusals_and_garbage() {
        let lang = |header: &str| primary_language(header);
        assert_eq!(lang("*"), None);
        assert_eq!(lang(""), None);
        assert_eq!(lang("garbage!!"), None);
        assert_eq!(lang(";;;,,,"), None);
        assert_eq!(lang("en;q=0"), None);
        assert_eq!(lang("en;q=0, fr;q=0.1").as_deref(), Some("fr"));
        assert_eq!(lang("*, ja;q=0.5").as_deref(), Some("ja"));
        // Malformed weights are skipped rather than guessed.
        assert_eq!(
            lang("en;q=2, de;q=abc, it;q=0.1234, sv;q=0.2").as_deref(),
            Some("sv")
        );
        // Primary subtags are 2 to 8 letters.
        assert_eq!(lang("x-klingon, abcdefghi, 12, sq").as_deref(), Some("sq"));
        assert_eq!(lang("abcdefgh").as_deref(), Some("abcdefgh"));
    }
}
