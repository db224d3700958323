//! The links app's settings: the `[links]` table of the configuration
//! (`CAPSTONE_LINKS__<NAME>` in the environment).

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use ipnet::IpNet;
use serde::Deserialize;

use crate::{
    domains::{Domains, parse_host},
    model::{Target, parse_network},
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Length of generated slugs (base62): 7 gives 3.5 trillion, collisions are retried.
    pub slug_length: usize,
    /// Slugs kept in memory for the redirect (found and not-found alike).
    pub cache_capacity: u64,
    /// How long a cached slug is trusted. Updates and deletes made through this instance
    /// invalidate at once; this bounds staleness for changes made through another one.
    pub cache_ttl_secs: u64,
    /// Clicks waiting to be written; past this, redirects wait for room rather than lose
    /// clicks. Kept small enough that the writer can drain a full queue within the
    /// shutdown grace period: a longer queue would only defer the back-pressure to a stop
    /// that cannot finish its work.
    pub click_queue_capacity: usize,
    /// Clicks written per transaction, and how often a partial batch is written anyway.
    pub click_batch_size: usize,
    pub click_flush_ms: u64,
    /// Raw clicks and orphan visits older than this many days are deleted, once a day;
    /// the statistics stay (they are counted from the rollups). None keeps them for good.
    /// See [`crate::retention`].
    pub click_retention_days: Option<u32>,
    /// A trusted proxy header carrying the visitor's country (`cf-ipcountry`).
    pub country_header: Option<String>,
    /// A MaxMind GeoLite2/GeoIP2 Country or City database, used when the header is absent.
    pub geoip_database: Option<PathBuf>,
    /// Fetch a page's `<title>` in the background when a link is created without one.
    pub fetch_titles: bool,
    /// Let title fetches reach private, loopback and link-local addresses (never in
    /// production: it lets anyone who can create a link probe the internal network). The
    /// older name of the platform's `allow_private_outbound`, which does it for every app.
    pub allow_private_targets: bool,
    /// A Safe-Browsing-style lookup API; when set, new targets are checked before the link
    /// goes live.
    pub safety_endpoint: Option<String>,
    pub safety_api_key: Option<String>,
    /// Where a visitor to `/` is sent (your home page), as Shlink's base URL redirect;
    /// without it, `/` is a 404.
    pub root_redirect: Option<String>,
    /// Where a visitor is sent instead of the 404 or 410 page when a slug leads nowhere
    /// (unknown, not yet valid, expired or used up), as Shlink's invalid short URL redirect.
    pub invalid_redirect: Option<String>,
    /// Visitors from these addresses or networks (`10.0.0.0/8`, `203.0.113.7`) are
    /// redirected but not counted: your office, your uptime monitor. As Shlink's
    /// `DISABLE_TRACKING_FROM`.
    pub untracked_addresses: Vec<String>,
    /// A query parameter that keeps a visit out of the statistics when present (`nostat`:
    /// `/spring?nostat`), for trying a link without counting it. As Shlink's
    /// `DISABLE_TRACK_PARAM`.
    pub untracked_param: Option<String>,
    /// Record visits that reach no link (a slug unknown, expired or used up; the bare
    /// domain; any other unknown path outside the API) as orphan visits, as Shlink's
    /// `TRACK_ORPHAN_VISITS`: broken links in the wild show up there. Administrators read
    /// them (`GET /api/v1/orphan-visits`).
    pub track_orphan_visits: bool,
    /// Host names links may be served on besides `public_url`'s (`["go.example.com"]`),
    /// as Shlink's and Kutt's custom domains: each must reach this server (a DNS record and
    /// the proxy's certificate are yours to set up). See [`crate::domains`].
    pub domains: Vec<String>,
    /// Per domain of `domains`, its own `root_redirect` and `invalid_redirect`, as Shlink's
    /// domain redirects (`[links.domain_root_redirects]` with `"go.example.com" =
    /// "https://example.com/"`); a domain without one uses the global setting.
    pub domain_root_redirects: BTreeMap<String, String>,
    pub domain_invalid_redirects: BTreeMap<String, String>,
    /// `untracked_addresses`, parsed.
    #[serde(skip)]
    pub untracked_networks: Vec<IpNet>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            slug_length: 7,
            cache_capacity: 100_000,
            cache_ttl_secs: 60,
            click_queue_capacity: 40_000,
            click_batch_size: 20_000,
            click_flush_ms: 200,
            click_retention_days: None,
            country_header: None,
            geoip_database: None,
            fetch_titles: true,
            allow_private_targets: false,
            safety_endpoint: None,
            safety_api_key: None,
            root_redirect: None,
            invalid_redirect: None,
            untracked_addresses: Vec::new(),
            untracked_param: None,
            track_orphan_visits: true,
            domains: Vec::new(),
            domain_root_redirects: BTreeMap::new(),
            domain_invalid_redirects: BTreeMap::new(),
            untracked_networks: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads and checks the `[links]` table; errors name the setting.
    pub fn from_config(config: &platform::Config) -> anyhow::Result<Self> {
        let mut settings: Settings =
            config.app_settings(<crate::Links as platform::app::App>::NAME)?;
        let invalid = |setting: &str, reason: &str| {
            Err(anyhow::anyhow!(
                "invalid setting `links.{setting}`: {reason}"
            ))
        };
        if !(4..=32).contains(&settings.slug_length) {
            return invalid("slug_length", "must be from 4 to 32");
        }
        if settings.click_batch_size == 0
            || settings.click_queue_capacity < settings.click_batch_size
        {
            return invalid(
                "click_queue_capacity",
                "must be at least click_batch_size, which must be positive",
            );
        }
        if settings.click_retention_days == Some(0) {
            return invalid(
                "click_retention_days",
                "must be at least 1 (leave it out to keep clicks for good)",
            );
        }
        if settings.safety_endpoint.is_some() != settings.safety_api_key.is_some() {
            return invalid(
                "safety_endpoint",
                "needs safety_api_key, and the other way round",
            );
        }
        for (setting, url) in [
            ("root_redirect", &mut settings.root_redirect),
            ("invalid_redirect", &mut settings.invalid_redirect),
        ] {
            if let Some(raw) = url {
                match Target::parse(raw) {
                    Ok(target) => *raw = target.into_inner(),
                    Err(reason) => return invalid(setting, &reason),
                }
            }
        }
        for raw in &settings.untracked_addresses {
            match parse_network(raw) {
                Ok(network) => settings.untracked_networks.push(network),
                Err(reason) => return invalid("untracked_addresses", &format!("{raw:?} {reason}")),
            }
        }
        if settings.untracked_param.as_deref().is_some_and(|name| {
            name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }) {
            return invalid(
                "untracked_param",
                "must be a parameter name of letters, digits, - or _",
            );
        }
        let default_host = Domains::new(&config.public_url(), Vec::new())
            .default_host()
            .to_owned();
        let mut domains: Vec<String> = Vec::new();
        for raw in &settings.domains {
            let host = match parse_host(raw) {
                Ok(host) => host,
                Err(reason) => return invalid("domains", &format!("{raw:?} {reason}")),
            };
            if host == default_host || domains.contains(&host) {
                return invalid(
                    "domains",
                    &format!("{raw:?} is listed twice, or is public_url's host"),
                );
            }
            domains.push(host);
        }
        settings.domains = domains;
        for (setting, redirects) in [
            ("domain_root_redirects", &mut settings.domain_root_redirects),
            (
                "domain_invalid_redirects",
                &mut settings.domain_invalid_redirects,
            ),
        ] {
            let mut checked = BTreeMap::new();
            for (host, url) in std::mem::take(redirects) {
                let Some(domain) = parse_host(&host)
                    .ok()
                    .filter(|domain| settings.domains.contains(domain))
                else {
                    return invalid(setting, &format!("{host:?} is not one of links.domains"));
                };
                match Target::parse(&url) {
                    Ok(target) => checked.insert(domain, target.into_inner()),
                    Err(reason) => return invalid(setting, &format!("{host:?}: {reason}")),
                };
            }
            *redirects = checked;
        }
        Ok(settings)
    }

    /// Where a visitor to `/` on `domain` (`''`: the default) is sent, if anywhere.
    pub fn root_redirect_for(&self, domain: &str) -> Option<&str> {
        self.domain_root_redirects
            .get(domain)
            .or(self.root_redirect.as_ref())
            .map(String::as_str)
    }

    /// Where a visitor to a slug that leads nowhere on `domain` is sent, if anywhere.
    pub fn invalid_redirect_for(&self, domain: &str) -> Option<&str> {
        self.domain_invalid_redirects
            .get(domain)
            .or(self.invalid_redirect.as_ref())
            .map(String::as_str)
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs)
    }

    pub fn click_flush(&self) -> Duration {
        Duration::from_millis(self.click_flush_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(setting: &str, value: &str) -> anyhow::Result<Settings> {
        let mut config = platform::Config::default();
        config
            .app_table("links")
            .insert(setting.into(), value.into());
        Settings::from_config(&config)
    }

    #[test]
    fn click_retention_is_a_positive_number_of_days_or_none() {
        let retention = |days: u32| {
            let mut config = platform::Config::default();
            config
                .app_table("links")
                .insert("click_retention_days".into(), days.into());
            Settings::from_config(&config).map(|s| s.click_retention_days)
        };
        assert_eq!(retention(30).unwrap(), Some(30));
        let err = retention(0).unwrap_err().to_string();
        assert!(err.contains("links.click_retention_days"), "{err}");
        assert_eq!(Settings::default().click_retention_days, None);
    }

    #[test]
    fn domains_are_host_names_listed_once_besides_the_public_url_s() {
        let domains = |hosts: &[&str]| {
            let mut config = platform::Config {
                public_url: Some("https://s.example".into()),
                ..platform::Config::default()
            };
            let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
            config
                .app_table("links")
                .insert("domains".into(), hosts.into());
            Settings::from_config(&config).map(|s| s.domains)
        };
        assert_eq!(
            domains(&["Go.Example", "l.example"]).unwrap(),
            ["go.example", "l.example"]
        );
        for bad in [
            &["https://go.example"][..],
            &["go.example", "GO.example"],
            &["s.example"],
        ] {
            let err = domains(bad).unwrap_err().to_string();
            assert!(err.contains("links.domains"), "{err}");
        }
    }

    #[test]
    fn domain_redirects_are_for_listed_domains_and_web_addresses() {
        let redirects = |host: &str, url: &str| {
            let mut config = platform::Config::default();
            config
                .app_table("links")
                .insert("domains".into(), vec!["go.example"].into());
            let map = BTreeMap::from([(host.to_owned(), url.to_owned())]);
            config
                .app_table("links")
                .insert("domain_invalid_redirects".into(), map.into());
            Settings::from_config(&config)
        };
        let settings = redirects("Go.Example", "HTTPS://Home.Example").unwrap();
        assert_eq!(
            settings.invalid_redirect_for("go.example"),
            Some("https://home.example/")
        );
        assert_eq!(settings.invalid_redirect_for(""), None);
        for (host, url) in [
            ("elsewhere.example", "https://home.example/"),
            ("go.example", "javascript:alert(1)"),
        ] {
            let err = redirects(host, url).unwrap_err().to_string();
            assert!(err.contains("links.domain_invalid_redirects"), "{err}");
        }
    }

    #[test]
    fn redirect_settings_must_be_web_addresses_and_are_normalised() {
        for (setting, url) in [
            ("root_redirect", "javascript:alert(1)"),
            ("invalid_redirect", "home.example"),
            ("invalid_redirect", "https://user:pw@home.example/"),
        ] {
            let err = with(setting, url).unwrap_err().to_string();
            assert!(err.contains(&format!("links.{setting}")), "{err}");
        }
        let settings = with("root_redirect", "HTTPS://Home.Example:443").unwrap();
        assert_eq!(
            settings.root_redirect.as_deref(),
            Some("https://home.example/")
        );
    }
}
