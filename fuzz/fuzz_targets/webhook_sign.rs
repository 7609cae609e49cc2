//! Standard Webhooks signatures: signing never panics, whatever the secret, id, timestamp
//! or body; a signature made by the server verifies with a receiver's own check (written
//! here from the specification, not with the server's code), and fails once the body, the
//! timestamp or the id changes; a `webhook-signature` header verifies only when it carries
//! the right signature.
#![no_main]

use arbitrary::Arbitrary;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

use paylink_server::webhooks::sign::{header, sign};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Any text as a secret (most are not valid `whsec_` secrets).
    raw_secret: &'a str,
    /// Key bytes for a valid secret, and for a second one (rotation).
    key: Vec<u8>,
    other_key: Vec<u8>,
    id: &'a str,
    timestamp: i64,
    body: &'a [u8],
    /// A header as anyone might send it.
    raw_header: &'a str,
    /// Where to change the signed message.
    flip: usize,
}

/// The receiver's check: does any `v1,` signature of the header match `secret`?
fn verifies(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    header.split(' ').any(|sig| {
        let Some(b64) = sig.strip_prefix("v1,") else {
            return false;
        };
        let Ok(given) = STANDARD.decode(b64) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    })
}

/// A valid secret from these key bytes (Standard Webhooks secrets carry 24 to 64 bytes),
/// with the key as HMAC-SHA256 uses it: zero-padded to its 64-byte block, so keys that
/// differ only by trailing zeros are one key.
fn secret_of(key: &[u8]) -> (String, Vec<u8>) {
    let mut k = key.to_vec();
    k.resize(k.len().clamp(24, 64), 0x5a);
    let secret = format!("whsec_{}", STANDARD.encode(&k));
    k.resize(64, 0);
    (secret, k)
}

fuzz_target!(|i: Input<'_>| {
    let _ = sign(i.raw_secret, i.id, i.timestamp, i.body);
    let _ = header(&[i.raw_secret], i.id, i.timestamp, i.body);

    let ((a, key_a), (b, key_b)) = (secret_of(&i.key), secret_of(&i.other_key));
    let ts = i.timestamp.to_string();
    let one = sign(&a, i.id, i.timestamp, i.body).expect("a valid secret signs");
    assert!(verifies(&a, i.id, &ts, i.body, &one));
    let both = header(&[&a, &b], i.id, i.timestamp, i.body);
    assert!(verifies(&a, i.id, &ts, i.body, &both));
    assert!(verifies(&b, i.id, &ts, i.body, &both));
    if key_a != key_b {
        assert!(!verifies(&b, i.id, &ts, i.body, &one));
    }

    // Any change to what was signed fails.
    let mut body = i.body.to_vec();
    if body.is_empty() {
        body.push(b'x');
    } else {
        let at = i.flip % body.len();
        body[at] ^= 1 + (i.flip as u8 % 255);
    }
    assert!(!verifies(&a, i.id, &ts, &body, &one));
    let other_ts = i
        .timestamp
        .wrapping_add(1 + (i.flip % 1000) as i64)
        .to_string();
    assert!(!verifies(&a, i.id, &other_ts, i.body, &one));
    let other_id = format!("{}{}", i.id, char::from(b'a' + (i.flip % 26) as u8));
    assert!(!verifies(&a, &other_id, &ts, i.body, &one));

    // An arbitrary header verifies only if it holds the signature itself.
    let ok = verifies(&a, i.id, &ts, i.body, i.raw_header);
    assert_eq!(
        ok,
        i.raw_header.split(' ').any(|s| s == one),
        "{:?}",
        i.raw_header
    );
});
