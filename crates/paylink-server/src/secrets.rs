//! Secrets at rest: what the server must read back (webhook signing secrets, a checkout's
//! answer while a customer may retry it) is sealed with an AEAD under the master key.
//!
//! The master key is `master_key` / `PAYLINK_MASTER_KEY` (32 bytes as 64 hex characters or
//! base64). Without it, a key is generated once into `{data_dir}/master.key` (mode 0600),
//! which suits the embedded default; instances sharing a PostgreSQL must share the key, so
//! set the variable there. Sealed values are `enc1:` + base64url(nonce ‖ ciphertext ‖ tag),
//! ChaCha20-Poly1305 from `ring` with a random 96-bit nonce, bound to the row they belong to
//! by associated data so that a sealed value copied to another row does not open.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

const PREFIX: &str = "enc1:";

/// Seals and opens secrets under the master key.
pub struct Sealer {
    key: LessSafeKey,
    /// Signs links the server hands out and checks later (a subscription's self-service
    /// link): HMAC-SHA256 under a key derived from the master key, so nothing is stored.
    signing: ring::hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the value is not sealed")]
    NotSealed,
    #[error("the sealed value does not open under this master key (was the key changed?)")]
    Tampered,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        // A 32-byte key is always a valid ChaCha20-Poly1305 key.
        #[allow(clippy::expect_used)]
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte key");
        // A key of its own for signing, derived so that no signature is ever made with
        // the sealing key.
        let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let derived = ring::hmac::sign(&master, b"paylink signed links v1");
        Self {
            key: LessSafeKey::new(unbound),
            signing: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    #[cfg(test)]
    fn random() -> Self {
        Self::new(&random_key())
    }

    /// `plain` sealed for the row named by `context`.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plain.as_bytes().to_vec();
        // Sealing in place only fails for inputs over 256 GiB.
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("input within ChaCha20-Poly1305's limit");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`Sealer::seal`] made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(SealError::NotSealed)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Tampered);
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Tampered)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Tampered)
    }

    /// `{value}.{signature}`: a value anyone may read and nobody but this server can make
    /// (the purpose keeps signatures for one use from passing for another).
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        let tag = ring::hmac::sign(&self.signing, format!("{purpose}\n{value}").as_bytes());
        format!("{value}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The value of a token [`Sealer::sign`] made for `purpose`, checked in constant time.
    pub fn verify<'a>(&self, purpose: &str, token: &'a str) -> Option<&'a str> {
        let (value, sig) = token.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        ring::hmac::verify(
            &self.signing,
            format!("{purpose}\n{value}").as_bytes(),
            &sig,
        )
        .ok()?;
        Some(value)
    }

    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// Parses a configured master key: 64 hex characters or base64 of 32 bytes.
pub fn parse_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text)?
    } else {
        STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| anyhow::anyhow!("the master key must be 64 hex characters or base64"))?
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("the master key must be 32 bytes (it is {})", bytes.len()))
}

/// The key in `dir/master.key`, created (readable by the owner only) when missing. It is
/// written whole to a file of its own and then linked into place, so a process starting
/// at the same moment reads either no file or the whole key, and both use the same one.
pub fn key_file(dir: &Path) -> anyhow::Result<[u8; 32]> {
    let path = dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            let key = random_key();
            let tmp = dir.join(format!(".master.key.{}", rand::random::<u64>()));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            {
                use std::io::Write;
                let mut f = opts.open(&tmp)?;
                f.write_all(format!("{}\n", hex::encode(key)).as_bytes())?;
                f.sync_all()?;
            }
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "generated a master key");
                    Ok(key)
                }
                // Another process linked its key first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    parse_key(&std::fs::read_to_string(&path)?)
                }
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_open_only_for_their_purpose_and_key() {
        let s = Sealer::random();
        let token = s.sign("subscription", "sub_abc");
        assert!(token.starts_with("sub_abc."));
        assert_eq!(s.verify("subscription", &token), Some("sub_abc"));
        assert_eq!(s.verify("other", &token), None);
        assert_eq!(Sealer::random().verify("subscription", &token), None);
        // Another value under the same signature, a cut or altered signature, no dot.
        let sig = token.rsplit_once('.').map(|(_, g)| g).unwrap_or_default();
        assert_eq!(s.verify("subscription", &format!("sub_abd.{sig}")), None);
        assert_eq!(s.verify("subscription", &token[..token.len() - 1]), None);
        assert_eq!(s.verify("subscription", "sub_abc"), None);
        assert_eq!(s.verify("subscription", "sub_abc.\u{0}"), None);
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let s = Sealer::random();
        let sealed = s.seal("whsec_abc", "we_1");
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains("whsec_abc"));
        assert_eq!(s.open(&sealed, "we_1").unwrap(), "whsec_abc");
        assert!(matches!(s.open(&sealed, "we_2"), Err(SealError::Tampered)));
        assert!(matches!(
            Sealer::random().open(&sealed, "we_1"),
            Err(SealError::Tampered)
        ));
        assert!(matches!(
            s.open("whsec_abc", "we_1"),
            Err(SealError::NotSealed)
        ));
        assert!(matches!(
            s.open("enc1:AAAA", "we_1"),
            Err(SealError::Tampered)
        ));
        // Two seals of one value differ (random nonces).
        assert_ne!(s.seal("x", "c"), s.seal("x", "c"));
    }

    #[test]
    fn keys_parse_from_hex_or_base64_of_32_bytes() {
        let k = [7u8; 32];
        assert_eq!(parse_key(&hex::encode(k)).unwrap(), k);
        assert_eq!(parse_key(&STANDARD.encode(k)).unwrap(), k);
        assert!(parse_key("short").is_err());
        assert!(parse_key(&hex::encode([1u8; 16])).is_err());
    }

    #[test]
    fn a_key_file_is_made_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("paylink-key-{}", rand::random::<u64>()));
        let a = key_file(&dir).unwrap();
        let b = key_file(&dir).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
