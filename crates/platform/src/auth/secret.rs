//! Random credentials and their stored form.
//!
//! Every token we hand out (session cookies, refresh tokens, API keys, email links) is 256
//! random bits, and only its SHA-256 is stored. A slow hash (argon2) is for low-entropy
//! passwords; for a 256-bit random token a fast hash is enough and keeps lookups cheap.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh token: `prefix` followed by 43 base64url characters of randomness.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token: lowercase hex SHA-256, 64 characters.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = generate("cap_");
        let b = generate("cap_");
        assert_ne!(a, b);
        assert!(a.starts_with("cap_") && a.len() == 4 + 43, "{a}");
        assert_eq!(hash(&a), hash(&a));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        assert!(equal("abc", "abc") && !equal("abc", "abd") && !equal("abc", "ab"));
    }
}
