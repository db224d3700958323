//! The values a link is made of, parsed (not merely checked) from what clients send.

use std::{fmt, net::IpAddr};

use ipnet::IpNet;
use sea_orm::{DeriveActiveEnum, EnumIter, sea_query::StringLen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Words kept for later use, besides the roots the platform and the apps claim
/// (`platform::paths`).
const RESERVED: &[&str] = &[
    "admin",
    "login",
    "logout",
    "signin",
    "signup",
    "register",
    "verify-email",
    "reset-password",
];

/// Whether `slug` is a claimed root or a kept word.
fn is_reserved(slug: &str) -> bool {
    platform::paths::is_claimed(slug) || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(slug))
}

/// The path of a short link: 3 to 64 of `A-Z a-z 0-9 - _`, case-sensitive, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    /// Whether `slug` is one that [`Slug::parse`] takes as it is (untrimmed), without
    /// allocating: for the redirect, which checks every path it is asked for.
    pub fn is_valid(slug: &str) -> bool {
        (3..=64).contains(&slug.len())
            && slug
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !is_reserved(slug)
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let slug = raw.trim();
        if !(3..=64).contains(&slug.len()) {
            return Err("must be 3 to 64 characters".into());
        }
        if !slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("may contain only letters, digits, - and _".into());
        }
        if is_reserved(slug) {
            return Err("is reserved".into());
        }
        Ok(Self(slug.to_owned()))
    }

    /// A random base62 slug of `len` characters.
    pub fn generate(len: usize) -> Self {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        // Rejection sampling keeps every character equally likely (256 is not a multiple of 62).
        let mut slug = String::with_capacity(len);
        let mut buf = [0u8; 64];
        while slug.len() < len {
            getrandom::fill(&mut buf).expect("the operating system's random source works");
            for b in buf {
                if b < 248 && slug.len() < len {
                    slug.push(ALPHABET[(b % 62) as usize] as char);
                }
            }
        }
        Self(slug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const MAX_URL_LEN: usize = 2048;

/// Where a link leads: an absolute http(s) URL without credentials, normalised (lower-case
/// scheme and host, IDNA, default port dropped, path escaped) by the WHATWG URL parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is required".into());
        }
        if raw.len() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        let url = url::Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
        // `javascript:`, `data:`, `file:`… would run or read something in the visitor's
        // browser under our domain's reputation.
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must have a host".into());
        }
        let normalised = String::from(url);
        if normalised.len() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The status a redirect answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "u16", into = "u16")]
#[schema(value_type = u16, example = 302)]
pub struct RedirectStatus(u16);

impl RedirectStatus {
    pub const DEFAULT: Self = Self(302);

    pub fn code(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for RedirectStatus {
    type Error = String;
    fn try_from(code: u16) -> Result<Self, String> {
        match code {
            301 | 302 | 307 | 308 => Ok(Self(code)),
            _ => Err("must be 301, 302, 307 or 308".into()),
        }
    }
}

impl From<RedirectStatus> for u16 {
    fn from(status: RedirectStatus) -> u16 {
        status.0
    }
}

/// Where a link stands with the safety check (`links.safety_endpoint`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// No check is configured: the link is live.
    #[sea_orm(string_value = "unchecked")]
    Unchecked,
    /// Waiting for its check (a new or re-pointed link): not live until it passes.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Checked, and live.
    #[sea_orm(string_value = "safe")]
    Safe,
    /// Flagged by the check: it stays off.
    #[sea_orm(string_value = "unsafe")]
    Unsafe,
}

impl Safety {
    /// Whether the redirect may follow a link in this state.
    pub fn is_live(self) -> bool {
        matches!(self, Safety::Unchecked | Safety::Safe)
    }
}

/// What clicks are counted by in `click_rollups` and `click_days` (`dimension`): the total,
/// and each breakdown the statistics show. The one list of these names: the writer, the
/// statistics and the compaction all take them from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Total,
    Country,
    /// The referrer's host.
    Referrer,
    Browser,
    Os,
    Device,
    Language,
}

impl Dimension {
    /// The breakdowns, without the total.
    pub const BREAKDOWNS: [Self; 6] = [
        Self::Country,
        Self::Referrer,
        Self::Browser,
        Self::Os,
        Self::Device,
        Self::Language,
    ];

    /// Every dimension stored, the total first.
    pub fn all() -> impl Iterator<Item = Self> {
        std::iter::once(Self::Total).chain(Self::BREAKDOWNS)
    }

    /// The stored name, borrowed: the click writer binds it without an allocation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Country => "country",
            Self::Referrer => "referrer",
            Self::Browser => "browser",
            Self::Os => "os",
            Self::Device => "device",
            Self::Language => "language",
        }
    }
}

/// Where an orphan visit went, as stored in `orphan_visits.kind` (Shlink's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum OrphanKind {
    /// A slug that is unknown, expired, not yet valid or used up.
    #[sea_orm(string_value = "invalid_short_url")]
    #[serde(rename = "invalid_short_url")]
    InvalidShortUrl,
    /// The domain itself, `/`.
    #[sea_orm(string_value = "base_url")]
    #[serde(rename = "base_url")]
    BaseUrl,
    /// Any other path no route knows, outside the API (`/wp-admin/setup.php`), and one
    /// that no link can have (`/favicon.ico`, `/admin`).
    #[sea_orm(string_value = "regular_404")]
    #[serde(rename = "regular_404")]
    Regular404,
}

impl OrphanKind {
    pub const ALL: [Self; 3] = [Self::InvalidShortUrl, Self::BaseUrl, Self::Regular404];

    /// The stored name, borrowed: the click writer binds it without an allocation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidShortUrl => "invalid_short_url",
            Self::BaseUrl => "base_url",
            Self::Regular404 => "regular_404",
        }
    }
}

/// What a redirect rule looks at.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// `ios`, `android` or `desktop`.
    #[sea_orm(string_value = "device")]
    Device,
    /// An ISO 3166-1 alpha-2 code such as `FR`.
    #[sea_orm(string_value = "country")]
    Country,
    /// A primary language subtag such as `fr`, matched against `Accept-Language`.
    #[sea_orm(string_value = "language")]
    Language,
    /// A parameter of the visitor's query string: `name=value` for that value, or `name`
    /// for any (`?utm_source=newsletter` matches `utm_source=newsletter` and `utm_source`).
    #[sea_orm(string_value = "query")]
    Query,
    /// The visitor's address: one (`203.0.113.7`) or a network (`10.0.0.0/8`,
    /// `2001:db8::/32`), as Shlink's IP address rules.
    #[sea_orm(string_value = "ip")]
    Ip,
}

impl RuleKind {
    /// The rule's value in its canonical form (`fr` → `FR` for countries).
    pub fn parse_value(self, raw: &str) -> Result<String, String> {
        let value = raw.trim();
        match self {
            RuleKind::Device => match value.to_ascii_lowercase().as_str() {
                v @ ("ios" | "android" | "desktop") => Ok(v.to_owned()),
                _ => Err("must be ios, android or desktop".into()),
            },
            RuleKind::Country
                if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                Ok(value.to_ascii_uppercase())
            }
            RuleKind::Country => Err("must be a two-letter country code such as FR".into()),
            RuleKind::Language
                if (2..=8).contains(&value.len())
                    && value.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                Ok(value.to_ascii_lowercase())
            }
            RuleKind::Language => Err("must be a language code such as fr".into()),
            RuleKind::Query => {
                let name = value.split_once('=').map_or(value, |(name, _)| name);
                if name.is_empty() {
                    Err("must be name=value or name, such as utm_source=newsletter".into())
                } else if value.len() > MAX_RULE_VALUE {
                    Err(format!("must be at most {MAX_RULE_VALUE} characters"))
                } else if !value
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'&' && b != b'#')
                {
                    Err("must be printable ASCII without spaces, & or #".into())
                } else {
                    Ok(value.to_owned())
                }
            }
            // Stored as the network it names (`10.1.2.3/8` is `10.0.0.0/8`); at most 43
            // characters (a whole IPv6 address and `/128`).
            RuleKind::Ip => parse_network(value).map(|net| net.to_string()),
        }
    }
}

/// The longest rule value the database holds.
const MAX_RULE_VALUE: usize = 64;

/// An address (`203.0.113.7`, a network of one) or a network in CIDR notation
/// (`10.0.0.0/8`), as the network it names: host bits are cleared.
pub fn parse_network(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| "must be an IP address or a network such as 10.0.0.0/8".into())
}

/// Whether `network` holds `ip`. An IPv4 visitor seen by a dual-stack listener arrives as
/// `::ffff:a.b.c.d` and is matched as the IPv4 address it is.
pub fn network_holds(network: &IpNet, ip: IpAddr) -> bool {
    network.contains(&ip.to_canonical())
}

/// A tag name: trimmed, lower-cased, 1 to 50 characters, no control characters.
pub fn parse_tag(raw: &str) -> Result<String, String> {
    let tag = raw.trim().to_lowercase();
    match tag.chars().count() {
        0 => Err("must not be empty".into()),
        51.. => Err("must be at most 50 characters".into()),
        _ if tag.chars().any(char::is_control) => Err("must not contain control characters".into()),
        _ => Ok(tag),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_orphan_kinds_borrowed_name_is_the_one_stored() {
        use sea_orm::ActiveEnum;
        for kind in super::OrphanKind::ALL {
            assert_eq!(kind.as_str(), kind.to_value());
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("my-link_1").is_ok());
        assert!(Slug::is_valid("my-link_1"));
        for bad in ["ab", "has space", "ümlaut", "api", "Docs", &"x".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
            assert!(!Slug::is_valid(bad), "{bad:?}");
        }
        let a = Slug::generate(7);
        assert_eq!(a.as_str().len(), 7);
        assert!(Slug::parse(a.as_str()).is_ok());
        assert_ne!(a, Slug::generate(7));
    }

    #[test]
    fn targets_are_normalised_and_dangerous_ones_refused() {
        assert_eq!(
            Target::parse("HTTPS://Example.COM:443/a b?x=1")
                .unwrap()
                .as_str(),
            "https://example.com/a%20b?x=1"
        );
        assert_eq!(
            Target::parse("http://bücher.example/").unwrap().as_str(),
            "http://xn--bcher-kva.example/"
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,<script>",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://user@example.com/",
            "example.com",
            "",
            &format!("https://example.com/{}", "a".repeat(2048)),
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_and_tags() {
        assert_eq!(RuleKind::Country.parse_value("fr").unwrap(), "FR");
        assert!(RuleKind::Country.parse_value("FRA").is_err());
        assert_eq!(RuleKind::Device.parse_value("iOS").unwrap(), "ios");
        assert!(RuleKind::Device.parse_value("watch").is_err());
        assert_eq!(RuleKind::Language.parse_value("FR").unwrap(), "fr");
        // Query values keep their case: parameter names and values are case-sensitive.
        for ok in ["utm_source=News", " beta ", "q=a%20b", "empty="] {
            assert_eq!(
                RuleKind::Query.parse_value(ok).unwrap(),
                ok.trim(),
                "{ok:?}"
            );
        }
        for bad in [
            "",
            "=x",
            "a=1&b=2",
            "a b",
            "x#y",
            &"n".repeat(MAX_RULE_VALUE + 1),
        ] {
            assert!(RuleKind::Query.parse_value(bad).is_err(), "{bad:?}");
        }
        assert!(RedirectStatus::try_from(303).is_err());
        assert_eq!(parse_tag("  Marketing ").unwrap(), "marketing");
        assert!(parse_tag(" ").is_err());
    }

    #[test]
    fn networks_hold_their_addresses_ipv4_mapped_ones_included() {
        let office = parse_network("10.1.2.3/8").unwrap();
        assert_eq!(office.to_string(), "10.0.0.0/8");
        for inside in ["10.200.0.1", "::ffff:10.9.9.9"] {
            assert!(network_holds(&office, inside.parse().unwrap()), "{inside}");
        }
        assert!(!network_holds(&office, "11.0.0.1".parse().unwrap()));
        let one = parse_network("2001:db8::7").unwrap();
        assert!(network_holds(&one, "2001:db8::7".parse().unwrap()));
        assert!(!network_holds(&one, "2001:db8::8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "10.0.0", "example.com", ""] {
            assert!(parse_network(bad).is_err(), "{bad}");
        }
    }
}
