//! The caller's address, one way for every route: from the trusted proxy's header when one is
//! configured (`client_ip_header`), else the peer address.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{Extensions, HeaderMap, HeaderName, request::Parts},
};

/// Where the caller's address is read from; made once from the configuration and held by
/// each router's state.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    /// The header the trusted proxy in front of us sets; `None`: the peer address.
    header: Option<HeaderName>,
}

impl ClientAddresses {
    /// From the `client_ip_header` setting.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        Self::new(config.client_ip_header.as_deref())
            .map_err(|reason| anyhow::anyhow!("client_ip_header: {reason}"))
    }

    /// Reading the last entry of `header` (set behind a trusted proxy), or, without one,
    /// the connection's peer address.
    pub fn new(header: Option<&str>) -> Result<Self, String> {
        let header = header
            .map(|name| {
                HeaderName::try_from(name)
                    .map_err(|_| format!("{name:?} is not an HTTP header name"))
            })
            .transpose()?;
        Ok(Self { header })
    }

    /// The caller's address: the configured header's last entry (the address the trusted
    /// proxy itself saw, which a client cannot forge by sending the header too), else the
    /// peer address from the connection.
    pub fn of(&self, headers: &HeaderMap, extensions: &Extensions) -> IpAddr {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|peer| peer.0);
        self.of_peer(headers, peer)
    }

    /// [`ClientAddresses::of`], for a handler that has the peer address already.
    pub fn of_peer(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
        self.header
            .as_ref()
            .and_then(|name| {
                let value = headers.get(name)?.to_str().ok()?;
                value.rsplit(',').next()?.trim().parse().ok()
            })
            .or(peer.map(|peer| peer.ip()))
            .unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

/// The caller's address, as an extractor, for any router whose state holds a
/// [`ClientAddresses`].
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    ClientAddresses: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let addresses = ClientAddresses::from_ref(state);
        Ok(ClientIp(addresses.of(&parts.headers, &parts.extensions)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(forwarded: Option<&str>) -> (HeaderMap, Extensions) {
        let mut headers = HeaderMap::new();
        if let Some(value) = forwarded {
            headers.insert("x-forwarded-for", value.parse().unwrap());
        }
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4000))));
        (headers, extensions)
    }

    #[test]
    fn the_proxys_last_entry_or_else_the_peer() {
        let behind = ClientAddresses::new(Some("x-forwarded-for")).unwrap();
        let (headers, extensions) = request(Some("6.6.6.6, 203.0.113.7"));
        assert_eq!(
            behind.of(&headers, &extensions),
            IpAddr::from([203, 0, 113, 7])
        );
        let (headers, extensions) = request(None);
        assert_eq!(
            behind.of(&headers, &extensions),
            IpAddr::from([10, 0, 0, 9])
        );
        // Without a proxy, a client's header is not believed.
        let direct = ClientAddresses::default();
        let (headers, extensions) = request(Some("203.0.113.7"));
        assert_eq!(
            direct.of(&headers, &extensions),
            IpAddr::from([10, 0, 0, 9])
        );
        assert!(ClientAddresses::new(Some("not a header")).is_err());
    }
}
