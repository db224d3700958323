//! The domains links are served on, as Shlink's and Kutt's: the default one, the host of
//! `public_url`, and the extra host names of `links.domains`, set by whoever runs the server
//! (every user may put links on them). A link belongs to one domain, stored as its host
//! name, `''` for the default (see the migration `m20261201_000004`); a slug is unique per
//! domain.
//!
//! A visit comes in on the domain its `Host` names, or on the default one for any host that
//! is not in `links.domains`. A slug not found on an extra domain is looked up on the
//! default one, as Shlink does: links made before a domain was added keep working on it.

use axum::http::{HeaderMap, Uri, header};
use url::Url;

#[derive(Debug, Clone)]
pub struct Domains {
    /// `public_url` without a trailing slash: the start of the default domain's short URLs.
    default_origin: String,
    /// The default domain's host name, which the API takes for it too.
    default_host: String,
    /// `public_url`'s scheme, which the other domains are served with too.
    scheme: String,
    /// `links.domains`, lowercase.
    extra: Vec<String>,
}

impl Domains {
    /// From `public_url` and the host names checked by [`parse_host`].
    pub fn new(public_url: &str, extra: Vec<String>) -> Self {
        let url = Url::parse(public_url).ok();
        Self {
            default_origin: public_url.trim_end_matches('/').to_owned(),
            default_host: url
                .as_ref()
                .and_then(Url::host_str)
                .unwrap_or_default()
                .to_owned(),
            scheme: url.map_or_else(|| "https".to_owned(), |u| u.scheme().to_owned()),
            extra,
        }
    }

    /// The default domain's host name.
    pub fn default_host(&self) -> &str {
        &self.default_host
    }

    /// The link to share for `slug` on `domain` (`''`: the default).
    pub fn short_url(&self, domain: &str, slug: &str) -> String {
        if domain.is_empty() {
            format!("{}/{slug}", self.default_origin)
        } else {
            format!("{}://{domain}/{slug}", self.scheme)
        }
    }

    /// The domain a request came in on: one of `links.domains` by its `Host` (or its
    /// authority, in HTTP/2), else the default (`''`). Free when there are no extra
    /// domains, which is on the redirect's path.
    pub fn of_request(&self, uri: &Uri, headers: &HeaderMap) -> &str {
        if self.extra.is_empty() {
            return "";
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        let Some(host) = host else {
            return "";
        };
        // Host names have no `:`; what follows one is the port.
        let name = host.split(':').next().unwrap_or_default();
        self.extra
            .iter()
            .find(|d| d.eq_ignore_ascii_case(name))
            .map_or("", String::as_str)
    }

    /// A domain given to the API: the default's host name or `''` for the default, or one
    /// of `links.domains` (in any case).
    pub fn parse(&self, raw: &str) -> Result<String, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.eq_ignore_ascii_case(&self.default_host) {
            return Ok(String::new());
        }
        self.extra
            .iter()
            .find(|d| d.eq_ignore_ascii_case(raw))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "must be one of this server's domains: {}",
                    self.names().collect::<Vec<_>>().join(", ")
                )
            })
    }

    /// Every domain's host name, the default first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.default_host.as_str()).chain(self.extra.iter().map(String::as_str))
    }

    /// A link's domain as the API shows it: `None` for the default.
    pub fn shown(domain: &str) -> Option<String> {
        (!domain.is_empty()).then(|| domain.to_owned())
    }
}

/// A host name for `links.domains` (`go.example.com`), lowercased: letters, digits and
/// hyphens in dot-separated labels of 1 to 63 characters, 253 in all.
pub fn parse_host(raw: &str) -> Result<String, String> {
    let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(
            "must be a host name such as go.example.com, without scheme, port or path".into(),
        );
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Domains {
        Domains::new(
            "https://s.example/",
            vec!["go.example".into(), "l.example.org".into()],
        )
    }

    #[test]
    fn short_urls_use_the_default_origin_or_the_link_s_domain_with_its_scheme() {
        let d = domains();
        assert_eq!(d.short_url("", "abc"), "https://s.example/abc");
        assert_eq!(d.short_url("go.example", "abc"), "https://go.example/abc");
    }

    #[test]
    fn a_request_is_on_an_extra_domain_only_when_its_host_names_one() {
        let d = domains();
        let on = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().unwrap());
            d.of_request(&Uri::from_static("/abc"), &headers).to_owned()
        };
        assert_eq!(on("GO.example:8080"), "go.example");
        assert_eq!(on("l.example.org"), "l.example.org");
        assert_eq!(on("s.example"), "");
        assert_eq!(on("elsewhere.example"), "");
        assert_eq!(on("[::1]:8080"), "");
    }

    #[test]
    fn the_api_takes_the_default_host_or_an_extra_domain_and_nothing_else() {
        let d = domains();
        assert_eq!(d.parse("S.example").unwrap(), "");
        assert_eq!(d.parse("").unwrap(), "");
        assert_eq!(d.parse("Go.Example").unwrap(), "go.example");
        let err = d.parse("evil.example").unwrap_err();
        assert!(
            err.contains("s.example, go.example, l.example.org"),
            "{err}"
        );
    }

    #[test]
    fn host_names_are_checked_and_lowercased() {
        assert_eq!(parse_host("Go.Example.COM.").unwrap(), "go.example.com");
        for bad in [
            "",
            "https://go.example",
            "go.example:80",
            "go.example/x",
            "-a.example",
            "a..b",
        ] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
    }
}
