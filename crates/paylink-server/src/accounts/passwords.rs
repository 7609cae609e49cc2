//! Passwords: argon2id at rest, a strength rule at the door, and a sign-in that takes the
//! same time whether or not the account exists.

use std::sync::LazyLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};

use crate::error::ApiError;

/// At least this many characters.
pub const MIN_LEN: usize = 12;
/// At most this many: longer input is refused before any hashing or estimating (the
/// estimator's cost grows with the length).
pub const MAX_LEN: usize = 256;

/// argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes).
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// The PHC string of `password`.
pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// A hash of nothing anybody knows, verified when the e-mail names no account so that the
/// answer takes as long as a wrong password does.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash(&paylink_domain::id::random_base62()).unwrap_or_default());

/// Whether `password` matches `phc` (a malformed hash matches nothing).
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Hashings at once: argon2 takes 19 MiB and tens of milliseconds of CPU each, so a burst
/// of sign-ins waits its turn here instead of taking the memory of hundreds at a time.
static HASHINGS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores * 2)
});

/// Runs `f` on a blocking thread once a hashing may start.
async fn hashing<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _turn = HASHINGS.acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// Builds the dummy hash now, so that the first unknown address after a start takes no
/// longer than the next.
pub fn warm_up() {
    LazyLock::force(&DUMMY);
}

/// [`verify`] against `phc`, or against the dummy hash when there is no account, on a
/// blocking thread (argon2 takes tens of milliseconds of CPU).
pub async fn verify_blocking(phc: Option<String>, password: String) -> bool {
    hashing(move || match phc {
        Some(phc) => verify(&phc, &password),
        None => {
            let _ = verify(&DUMMY, &password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// [`hash`] on a blocking thread.
pub async fn hash_blocking(password: String) -> Result<String, ApiError> {
    hashing(move || hash(&password))
        .await
        .ok_or_else(|| ApiError::internal("password hashing stopped"))?
}

/// `400 password_too_weak` naming `param`, with the estimator's advice.
fn too_weak(param: &str, why: String) -> ApiError {
    ApiError::invalid("password_too_weak", param, why)
}

/// Refuses a password that is short, overlong, or guessable (zxcvbn's score below 3,
/// counting `context` — the e-mail, the name — as known to an attacker).
pub fn check_strength(password: &str, param: &str, context: &[&str]) -> Result<(), ApiError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(too_weak(
            param,
            format!("A password needs at least {MIN_LEN} characters"),
        ));
    }
    if len > MAX_LEN {
        return Err(ApiError::invalid(
            "parameter_invalid",
            param,
            format!("A password has at most {MAX_LEN} characters"),
        ));
    }
    let estimate = zxcvbn::zxcvbn(password, context);
    if estimate.score() < zxcvbn::Score::Three {
        let advice = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".into());
        return Err(too_weak(
            param,
            format!("This password is too easy to guess: {advice}. Try a longer phrase of unrelated words"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength() {
        assert!(check_strength("short", "password", &[]).is_err());
        assert!(check_strength("password1234", "password", &[]).is_err());
        assert!(check_strength("aaaaaaaaaaaaaaaa", "password", &[]).is_err());
        assert!(check_strength("pat@example.com1", "password", &["pat@example.com"]).is_err());
        assert!(check_strength("correct horse battery staple", "password", &[]).is_ok());
        assert!(check_strength(&"x".repeat(300), "password", &[]).is_err());
    }

    #[test]
    fn hashes_verify() {
        let h = hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse battery staple"));
        assert!(!verify(&h, "wrong"));
        assert!(!verify("junk", "wrong"));
    }
}
