//! Stripe's webhook signatures, as Stripe documents them ("Verify webhook signatures with
//! your own code"): the header `Stripe-Signature: t={unix},v1={hex},…` where each `v1` is
//! HMAC-SHA256 under the endpoint's signing secret of `"{t}.{raw body}"`. A signature older
//! or newer than the tolerance is refused, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's default tolerance: five minutes.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks `header` against `body` signed with `secret` at `now` (unix seconds).
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            // v0 (test-mode legacy scheme) and future schemes are not ours to check.
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(t) > tolerance.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for sig in v1 {
        let mac = mac(secret, t, body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The header Stripe would send for `body` at `t` (for tests and tools).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    #[test]
    fn a_signature_made_with_the_secret_verifies_within_the_tolerance() {
        let h = sign("whsec_x", 1_000, BODY);
        assert_eq!(verify(&h, BODY, "whsec_x", 1_000, 300), Ok(()));
        assert_eq!(verify(&h, BODY, "whsec_x", 1_300, 300), Ok(()));
        assert_eq!(verify(&h, BODY, "whsec_x", 700, 300), Ok(()));
        // Several v1 (a secret being rolled) and other schemes: any v1 may match.
        let both = format!("t=1000,v0=abcd,v1={},{}", "00".repeat(32), &h[7..]);
        assert_eq!(verify(&both, BODY, "whsec_x", 1_000, 300), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let h = sign("whsec_x", 1_000, BODY);
        assert_eq!(
            verify(&h, BODY, "whsec_x", 1_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&h, BODY, "whsec_y", 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        let other = br#"{"id":"evt_2","type":"payment_intent.succeeded"}"#;
        assert_eq!(
            verify(&h, other, "whsec_x", 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        for bad in [
            "",
            "t=1000",
            "v1=00",
            "t=x,v1=00",
            "t=1000,v1=zz",
            "garbage",
        ] {
            assert_eq!(
                verify(bad, BODY, "whsec_x", 1_000, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
