//! The country a click came from, as an ISO 3166-1 alpha-2 code ("GB"), or `None`.
//!
//! Two sources, chosen by configuration: a header that a trusted proxy in front of us sets
//! (Cloudflare's `CF-IPCountry`), or a MaxMind database (GeoLite2/GeoIP2 Country or City)
//! looked up by the client's address. The header wins when the proxy sent it, because the
//! proxy sees the real client; the database covers deployments without such a proxy and
//! requests the proxy did not tag.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Context as _;
use axum::http::HeaderName;
use maxminddb::{Reader, path};

pub struct Geo {
    header: Option<HeaderName>,
    reader: Option<Reader<Vec<u8>>>,
}

impl Geo {
    /// `header`: a trusted proxy header carrying the country (Cloudflare's `CF-IPCountry`),
    /// used when present; `database`: path of a MaxMind GeoLite2/GeoIP2 Country or City
    /// database, used otherwise. An empty header name counts as none, so that an empty
    /// environment variable turns the header off.
    ///
    /// The database is read into memory once, here: lookups then never touch the disk (and
    /// the file can be replaced under a running server without corrupting its reads, which
    /// memory-mapping would not allow). A Country database is a few MiB, a City one ~60 MiB.
    pub fn new(header: Option<&str>, database: Option<&Path>) -> anyhow::Result<Self> {
        let header = header
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                HeaderName::from_bytes(name.as_bytes())
                    .with_context(|| format!("invalid geo header name {name:?}"))
            })
            .transpose()?;
        let reader = database
            .map(|path| {
                let reader = Reader::open_readfile(path)
                    .with_context(|| format!("reading GeoIP database {}", path.display()))?;
                // Fail at startup, not silently at every click, when pointed at a database
                // without countries (an ASN or ISP one, say).
                let kind = &reader.metadata().database_type;
                let has_countries = ["country", "city", "enterprise"]
                    .iter()
                    .any(|k| kind.to_ascii_lowercase().contains(k));
                anyhow::ensure!(
                    has_countries,
                    "GeoIP database {} is a {kind:?} database, not a Country or City one",
                    path.display()
                );
                Ok(reader)
            })
            .transpose()?;
        Ok(Self { header, reader })
    }

    /// The country of a click. `header_value` is the value of [`Geo::header`] on the
    /// request, if any; it is ignored when no header is configured, since without a proxy
    /// that sets it any client could. A well-formed header value is final, including the
    /// proxy's "unknown" answers (Cloudflare's `XX`, and `T1` for Tor, whose exit node's
    /// country says nothing about the visitor). Without one, the database is asked about `ip`.
    pub fn country(&self, header_value: Option<&str>, ip: IpAddr) -> Option<String> {
        if self.header.is_some()
            && let Some(value) = header_value.map(str::trim)
        {
            if value.eq_ignore_ascii_case("XX") || value.eq_ignore_ascii_case("T1") {
                return None;
            }
            if let Some(code) = valid_country(value) {
                return Some(code);
            }
            // Malformed: as if the proxy had not said.
        }
        self.lookup(ip)
    }

    /// The configured proxy header, for the caller to read off the request.
    pub fn header(&self) -> Option<&HeaderName> {
        self.header.as_ref()
    }

    fn lookup(&self, ip: IpAddr) -> Option<String> {
        let reader = self.reader.as_ref()?;
        // A dual-stack listener reports IPv4 clients as "::ffff:a.b.c.d"; look them up as
        // the IPv4 addresses they are.
        let ip = ip.to_canonical();
        let result = match reader.lookup(ip) {
            Ok(result) => result,
            Err(error) => {
                // E.g. an IPv6 address in an IPv4-only database: unknown, not a failure.
                tracing::debug!(%ip, %error, "GeoIP lookup failed");
                return None;
            }
        };
        // `country` is where the address is used, in Country and City databases alike.
        // `registered_country` (where its owner registered it) is deliberately not a
        // fallback: it is often another continent, and a wrong country in the stats is
        // worse than an unknown one. Borrowed as &str: one allocation, for the answer.
        match result.decode_path::<&str>(&path!["country", "iso_code"]) {
            Ok(code) => code.and_then(valid_country),
            Err(error) => {
                tracing::debug!(%ip, %error, "GeoIP record could not be decoded");
                None
            }
        }
    }
}

/// Two ASCII letters, uppercased.
fn valid_country(code: &str) -> Option<String> {
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}

impl fmt::Debug for Geo {
    // The reader's own Debug would print its whole in-memory database.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Geo")
            .field("header", &self.header)
            .field(
                "database",
                &self.reader.as_ref().map(|r| &r.metadata().database_type),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTDATA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/geoip"
    );

    /// The MaxMind test database `name`, or `None` (after saying so) when the shared test
    /// data is not beside the repository.
    fn database(name: &str) -> Option<std::path::PathBuf> {
        let path = Path::new(TESTDATA).join(name);
        if path.is_file() {
            Some(path)
        } else {
            eprintln!("skipped: GeoIP test database {} is absent", path.display());
            None
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Addresses in both test databases (see their README), with the country each holds.
    /// Their registered countries differ (81.2.69.142 is registered in the US), which shows
    /// that the location, not the registration, is what we read.
    #[track_caller]
    fn check_known_addresses(geo: &Geo) {
        for (address, country) in [
            ("81.2.69.142", "GB"),
            ("89.160.20.112", "SE"),
            ("2.125.160.216", "GB"),
            ("67.43.156.1", "BT"),
            ("2001:218::1", "JP"),
            // An IPv4 client as a dual-stack socket reports it.
            ("::ffff:81.2.69.142", "GB"),
        ] {
            assert_eq!(
                geo.country(None, ip(address)).as_deref(),
                Some(country),
                "{address}"
            );
        }
        for address in ["127.0.0.1", "10.0.0.1", "::1", "192.0.2.1"] {
            assert_eq!(geo.country(None, ip(address)), None, "{address}");
        }
    }

    #[test]
    fn country_database() {
        let Some(path) = database("GeoLite2-Country-Test.mmdb") else {
            return;
        };
        let geo = Geo::new(None, Some(&path)).unwrap();
        check_known_addresses(&geo);
        // Only in the Country test database.
        assert_eq!(geo.country(None, ip("50.114.0.1")).as_deref(), Some("US"));
        // Without a configured header, a client-sent value is not trusted.
        assert_eq!(
            geo.country(Some("FR"), ip("81.2.69.142")).as_deref(),
            Some("GB")
        );
    }

    #[test]
    fn city_database() {
        let Some(path) = database("GeoLite2-City-Test.mmdb") else {
            return;
        };
        let geo = Geo::new(None, Some(&path)).unwrap();
        check_known_addresses(&geo);
    }

    #[test]
    fn header_wins_when_present() {
        let geo = Geo::new(Some("CF-IPCountry"), None).unwrap();
        assert_eq!(geo.header().map(HeaderName::as_str), Some("cf-ipcountry"));
        let somewhere = ip("81.2.69.142");
        assert_eq!(geo.country(Some("de"), somewhere).as_deref(), Some("DE"));
        assert_eq!(geo.country(Some(" FR "), somewhere).as_deref(), Some("FR"));
        // Cloudflare's "unknown" and "Tor".
        assert_eq!(geo.country(Some("XX"), somewhere), None);
        assert_eq!(geo.country(Some("T1"), somewhere), None);
        // Malformed values are not countries; no database here, so nothing is known.
        for value in ["", "GBR", "1A", "G", "ÜK"] {
            assert_eq!(geo.country(Some(value), somewhere), None, "{value:?}");
        }
        assert_eq!(geo.country(None, somewhere), None);
    }

    #[test]
    fn header_falls_back_to_the_database() {
        let Some(path) = database("GeoLite2-Country-Test.mmdb") else {
            return;
        };
        let geo = Geo::new(Some("CF-IPCountry"), Some(&path)).unwrap();
        let british = ip("81.2.69.142");
        assert_eq!(geo.country(Some("SE"), british).as_deref(), Some("SE"));
        assert_eq!(geo.country(None, british).as_deref(), Some("GB"));
        assert_eq!(geo.country(Some("garbage"), british).as_deref(), Some("GB"));
        // The proxy's explicit "unknown" is final: the database would only name the Tor exit.
        assert_eq!(geo.country(Some("T1"), british), None);
        assert_eq!(geo.country(None, ip("127.0.0.1")), None);
    }

    #[test]
    fn nothing_configured_knows_nothing() {
        let geo = Geo::new(Some(""), None).unwrap();
        assert!(geo.header().is_none());
        assert_eq!(geo.country(Some("GB"), ip("81.2.69.142")), None);
    }

    #[test]
    fn bad_configuration_is_an_error() {
        assert!(Geo::new(Some("not a header"), None).is_err());
        let missing = Path::new(TESTDATA).join("no-such.mmdb");
        let error = Geo::new(None, Some(&missing)).unwrap_err();
        assert!(format!("{error:#}").contains("no-such.mmdb"), "{error:#}");
        // A file that is not a MaxMind database at all.
        if let Some(readme) = database("README.md") {
            assert!(Geo::new(None, Some(&readme)).is_err());
        }
    }
}
