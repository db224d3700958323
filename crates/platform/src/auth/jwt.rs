//! Access tokens: compact JWTs signed with HMAC-SHA256 (RFC 7519, RFC 7518 §3.2).
//!
//! Deliberately narrow. The algorithm is pinned to HS256: a token whose header says
//! anything else (`none`, `RS256` to confuse a public key for an HMAC secret) is refused
//! before any signature check. The key is chosen by the `kid` header among the configured
//! keys, so keys rotate without signing anyone out. The MAC is compared in constant time.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const ISSUER: &str = "capstone";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

#[derive(Clone)]
pub struct JwtKeys {
    /// `(kid, secret)`; the first signs.
    keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("JwtKeys").field("kids", &kids).finish()
    }
}

impl JwtKeys {
    /// The keys of the `jwt_keys` setting, or, without it, a random one (with a warning:
    /// tokens then die with the process).
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        match &config.jwt_keys {
            Some(keys) => {
                Self::parse(keys.expose_secret()).map_err(|e| anyhow::anyhow!("jwt_keys: {e}"))
            }
            None => {
                tracing::warn!(
                    "no jwt_keys configured: access tokens are signed with a random key and \
                     will not survive a restart (set CAPSTONE_JWT_KEYS)"
                );
                Ok(Self::ephemeral())
            }
        }
    }

    /// Parses `kid:secret[,kid:secret...]`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, secret) = pair
                .split_once(':')
                .ok_or("each key must be written kid:secret")?;
            if kid.is_empty()
                || !kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err("a kid must be letters, digits, - or _".into());
            }
            if secret.len() < 32 {
                return Err(format!(
                    "the secret of key {kid:?} must be at least 32 bytes"
                ));
            }
            keys.push((kid.to_owned(), secret.as_bytes().to_vec()));
        }
        if keys.is_empty() {
            return Err("at least one key is needed".into());
        }
        Ok(Self { keys })
    }

    /// A random key for this process only.
    pub fn ephemeral() -> Self {
        Self {
            keys: vec![("ephemeral".into(), super::secret::generate("").into_bytes())],
        }
    }

    pub fn sign(&self, user_id: i64, ttl: Duration) -> String {
        let (kid, secret) = &self.keys[0];
        let now = Utc::now().timestamp();
        let header = Header {
            alg: "HS256".into(),
            typ: Some("JWT".into()),
            kid: Some(kid.clone()),
        };
        let claims = Claims {
            sub: user_id.to_string(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + ttl.as_secs() as i64,
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serialises")),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise")),
        );
        let signature = mac(secret, &signing_input).finalize().into_bytes();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The user id in a valid, unexpired token of ours; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.alg != "HS256" {
            return None;
        }
        let secret = match &header.kid {
            Some(kid) => &self.keys.iter().find(|(k, _)| k == kid)?.1,
            None => &self.keys[0].1,
        };
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let signing_input = &token[..header_and_payload_len(token)?];
        mac(secret, signing_input).verify_slice(&signature).ok()?;

        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims.iss != ISSUER || claims.exp <= Utc::now().timestamp() {
            return None;
        }
        claims.sub.parse().ok()
    }
}

fn mac(secret: &[u8], input: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(input.as_bytes());
    mac
}

fn header_and_payload_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::parse("k2:0123456789abcdef0123456789abcdef, k1:fedcba9876543210fedcba9876543210")
            .unwrap()
    }

    #[test]
    fn round_trips_and_rotates() {
        let token = keys().sign(42, Duration::from_secs(60));
        assert_eq!(keys().verify(&token), Some(42));
        // After rotation k1 signs, and tokens signed with k2 still verify.
        let rotated = JwtKeys::parse(
            "k1:fedcba9876543210fedcba9876543210, k2:0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(rotated.verify(&token), Some(42));
        // Once k2 is retired, its tokens stop working.
        let retired = JwtKeys::parse("k1:fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(retired.verify(&token), None);
    }

    #[test]
    fn refuses_tampered_expired_and_unsigned_tokens() {
        let keys = keys();
        let token = keys.sign(42, Duration::from_secs(60));
        let (rest, _) = token.rsplit_once('.').unwrap();
        let (header, _) = rest.split_once('.').unwrap();

        let forged_claims =
            URL_SAFE_NO_PAD.encode(br#"{"sub":"1","iss":"capstone","iat":0,"exp":9999999999}"#);
        let signature = token.rsplit('.').next().unwrap();
        assert_eq!(
            keys.verify(&format!("{header}.{forged_claims}.{signature}")),
            None
        );

        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(keys.verify(&format!("{none}.{forged_claims}.")), None);

        let expired = keys.sign(42, Duration::ZERO);
        assert_eq!(keys.verify(&expired), None);

        assert_eq!(keys.verify("not.a.jwt"), None);
        assert_eq!(keys.verify(""), None);
    }

    #[test]
    fn parses_key_lists() {
        assert!(JwtKeys::parse("k1:short").is_err());
        assert!(JwtKeys::parse("nokid").is_err());
        assert!(JwtKeys::parse("").is_err());
        assert!(
            format!("{:?}", keys()).contains("k2") && !format!("{:?}", keys()).contains("0123")
        );
    }
}
