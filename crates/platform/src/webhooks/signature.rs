//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, "Verifying webhook
//! authenticity"): `webhook-signature: v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`,
//! keyed with the secret's bytes, the secret shown to users as `whsec_<base64>`. During a
//! rotation the header carries one signature per secret, space-separated, and receivers
//! accept any. Written here rather than taken from the `standardwebhooks` crate: signing is
//! the ten lines below over the HMAC we already have, while that crate brings a second
//! major version of `base64` and `time`; the tests verify our signatures with that crate.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A signing secret, in its `whsec_<base64>` form.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// 32 random bytes: the HMAC-SHA256 key size.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the system's random generator");
        Self(format!("{PREFIX}{}", STANDARD.encode(key)))
    }

    /// A stored secret; `None` if it is not of the `whsec_<base64>` form.
    pub fn from_stored(text: &str) -> Option<Self> {
        let key = text.strip_prefix(PREFIX)?;
        STANDARD.decode(key).ok()?;
        Some(Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.0[PREFIX.len()..])
            .expect("checked when made")
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key()).expect("any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret in use.
pub fn header(secrets: &[Secret], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specifications_example() {
        // The example of the Standard Webhooks reference libraries' tests.
        let secret = Secret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_every_secret() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let both = header(&[new.clone(), old.clone()], "msg_1", 1, "{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(
            parts,
            [new.sign("msg_1", 1, "{}"), old.sign("msg_1", 1, "{}")]
        );
        assert!(Secret::from_stored("whsec_not base64!").is_none());
        assert!(Secret::from_stored(new.expose()).is_some());
    }
}
