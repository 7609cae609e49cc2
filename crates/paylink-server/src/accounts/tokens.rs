//! Opaque tokens (sessions, invitations, resets) and what is derived from them.
//!
//! A token is 256 random bits in base62; only its SHA-256 is stored, so a copy of the
//! database signs nobody in. A session's CSRF token is derived from the session token
//! (an HMAC-like hash under a fixed label), so it needs no storage and changes with every
//! sign-in; only the holder of the cookie's value can compute it.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use paylink_domain::id::random_base62;

/// The session cookie's name.
pub const COOKIE: &str = "paylink_session";

/// A new token: 44 base62 characters (256 bits).
pub fn new_token() -> String {
    format!("{}{}", random_base62(), random_base62())
}

/// What is stored for a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The document's pattern of a token in a path (what [`well_formed`] checks).
pub const TOKEN_PATTERN: &str = "^[0-9A-Za-z]{44}$";

/// Whether `s` can be a token at all (junk is refused before any query).
pub fn well_formed(s: &str) -> bool {
    s.len() == 44 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The CSRF token of the session whose token is `token`.
pub fn csrf(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"paylink-csrf\n");
    h.update(token.as_bytes());
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// Whether `sent` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(token: &str, sent: Option<&str>) -> bool {
    let Some(sent) = sent else {
        return false;
    };
    let want = csrf(token);
    want.len() == sent.len()
        && want
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The session token of the `paylink_session` cookie, if the request carries one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Set-Cookie` value that keeps `token` for the session's life (`max_age` seconds),
/// or that drops the cookie (`None`).
pub fn set_cookie(token: Option<&str>, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => {
            format!("{COOKIE}={t}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
        }
        None => format!("{COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}"),
    }
}

/// The paths whose segment after these prefixes is a token (an invitation's, a reset's).
const TOKEN_PATHS: [&str; 5] = [
    "/invite/",
    "/reset/",
    "/auth/reset/",
    "/auth/invitations/",
    "/s/",
];

/// `path` as it may be logged: a token in it is replaced by `…`.
pub fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in TOKEN_PATHS {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{tail}").into();
        }
    }
    path.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_and_csrf() {
        let t = new_token();
        assert!(well_formed(&t));
        assert_ne!(hash(&t), t);
        assert!(csrf_matches(&t, Some(&csrf(&t))));
        assert!(!csrf_matches(&t, Some(&csrf(&new_token()))));
        assert!(!csrf_matches(&t, None));
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            format!("a=b; {COOKIE}={t}").parse().unwrap(),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some(t.as_str()));
        assert!(set_cookie(Some(&t), 60, true).ends_with("; Secure"));
        assert_eq!(
            redact_path(&format!("/auth/invitations/{t}/accept")),
            "/auth/invitations/…/accept"
        );
        assert_eq!(redact_path(&format!("/reset/{t}")), "/reset/…");
        assert_eq!(redact_path("/v1/me"), "/v1/me");
    }
}
