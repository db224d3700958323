//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! Hashing is deliberately slow (tens of milliseconds, 19 MiB), so it runs on tokio's
//! blocking pool: on the async workers it would stall every other request meanwhile. And
//! it runs at most one per core at a time ([`HASHING`]): unbounded, a burst of anonymous
//! requests (registrations, link unlocks) would each hold 19 MiB at once.

use std::{sync::LazyLock, time::Duration};

use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash::phc::PasswordHash};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::AppError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

/// Passwords that meet the length rule but head every breach list; refused outright.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "0123456789",
    "1111111111",
    "0000000000",
    "1234512345",
    "1q2w3e4r5t",
    "qwertyuiop",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "abc1234567",
    "abcdefghij",
    "letmein123",
    "welcome123",
    "admin12345",
    "administrator",
    "football123",
    "baseball12",
    "monkey1234",
    "dragon1234",
    "sunshine12",
    "princess12",
    "superman12",
    "trustno1234",
    "changeme123",
    "whatever12",
    "starwars12",
    "computer12",
    "michael123",
    "liverpool1",
    "1qaz2wsx3edc",
    "zaq12wsxcde",
    "asdfghjkl1",
    "zxcvbnm123",
    "q1w2e3r4t5",
    "aaaaaaaaaa",
    "password!!",
    "p@ssw0rd12",
    "secret1234",
    "test123456",
    "testtest12",
    "hello12345",
];

/// A password that meets the policy, kept secret (never printed by `Debug`).
pub struct Password(SecretString);

impl Password {
    /// Checks the policy: 10 to 128 characters, and not a well-known password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err(format!("must be at least {MIN_LEN} characters"));
        }
        if len > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        if COMMON.contains(&raw.to_lowercase().as_str()) {
            return Err("is too common; choose another".into());
        }
        Ok(Self(SecretString::from(raw)))
    }
}

/// Hashes running at once: one per core, since each keeps a core busy anyway; more would
/// only add memory and make each one slower.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
});

/// How long a hash waits for a core before the request is answered 503.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A turn to hash: queued for up to [`QUEUE_WAIT`], then 503 with `Retry-After`.
async fn turn() -> Result<SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(QUEUE_WAIT, HASHING.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            metrics::counter!("auth_hashing_refused_total").increment(1);
            Err(AppError::Unavailable {
                detail: "The server is busy checking passwords; retry shortly.".into(),
                retry_after: Duration::from_secs(2),
            })
        }
    }
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub async fn hash(password: Password) -> Result<String, AppError> {
    // Moved into the task, so that a request that goes away does not free the core its
    // hash is still using.
    let turn = turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        Argon2::default()
            .hash_password(password.0.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
    .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))
}

/// Hashes a secret that is not an account password and so has no policy (a link's
/// password, shared with its visitors).
pub async fn hash_unchecked(secret: String) -> Result<String, AppError> {
    hash(Password(SecretString::from(secret))).await
}

/// Whether `password` matches the stored PHC string. The comparison inside is constant-time.
pub async fn verify(password: SecretString, stored: String) -> Result<bool, AppError> {
    let turn = turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("Password123").is_err());
        assert!(Password::parse("correct horse battery").is_ok());
        // Characters, not bytes: ten accented letters are long enough.
        assert!(Password::parse("éééééééééé").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let a = hash(Password::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        let b = hash(Password::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(
            verify("correct horse battery".into(), a.clone())
                .await
                .unwrap()
        );
        assert!(!verify("correct horse batterY".into(), a).await.unwrap());
        assert!(
            !verify("anything".into(), "not a hash".into())
                .await
                .unwrap()
        );
    }
}
