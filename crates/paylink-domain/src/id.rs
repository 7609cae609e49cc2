//! Type-prefixed random identifiers (`plink_…`), all made by one macro.
//!
//! An id is its prefix followed by 22 base62 characters carrying 128 random bits, well
//! above the 96 bits the contract asks for, so ids cannot be guessed or enumerated.

use rand::RngCore;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the random part: 62^22 > 2^128.
pub const RANDOM_LEN: usize = 22;

/// 128 random bits as 22 base62 characters.
pub fn random_base62() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base62(bytes)
}

/// 96 random bits after a second's Unix time (32 bits), as 22 base62 characters of fixed
/// width, so that such ids sort (bytewise) in the order they were made, to the second.
/// For rows written at a high rate and never deleted (the audit log): each new id goes at
/// the end of its index, where a random one would dirty a page anywhere in it (writing
/// them cost three times as much).
pub fn timed_base62(unix_secs: u32) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes[..12]);
    let n = (u128::from(unix_secs) << 96) | (u128::from_le_bytes(bytes) & ((1u128 << 96) - 1));
    base62(n.to_le_bytes())
}

/// 16 bytes as 22 base62 characters (for ids derived from a secret, e.g. a form nonce).
pub fn base62(bytes: [u8; 16]) -> String {
    let mut n = u128::from_le_bytes(bytes);
    let mut out = [b'0'; RANDOM_LEN];
    for slot in out.iter_mut().rev() {
        let digit = (n % 62) as usize;
        *slot = ALPHABET.get(digit).copied().unwrap_or(b'0');
        n /= 62;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// Whether `s` is a well-formed id with this prefix. Used to reject junk before any query.
pub fn is_well_formed(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The regular expression of an id with this prefix (for the OpenAPI document), the same
/// rule as [`is_well_formed`].
pub fn pattern(prefix: &str) -> String {
    format!("^{prefix}[0-9A-Za-z]{{{RANDOM_LEN}}}$")
}

/// Why `s` is not an id with this prefix, in words a client can act on.
pub fn id_error(s: &str, prefix: &str, noun: &str) -> String {
    if s.starts_with(prefix) {
        format!("not a valid {noun} id (`{prefix}` and {RANDOM_LEN} letters or digits)")
    } else {
        format!("not a valid {noun} id: expected an id starting with `{prefix}`")
    }
}

/// Defines an id newtype with its prefix, parsing, display and serde.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $noun:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, $crate::id::random_base62()))
            }

            /// Parses a client-supplied id; `None` when it is not one of ours.
            pub fn parse(s: &str) -> Option<Self> {
                $crate::id::is_well_formed(s, $prefix).then(|| Self(s.to_owned()))
            }

            /// Wraps an id read back from our own storage.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom($crate::id::id_error(&s, $prefix, $noun))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "[0-9A-Za-z]{22}$")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

define_id!(MerchantId, "acct_", "merchant");
define_id!(ProductId, "prod_", "product");
define_id!(CustomerId, "cus_", "customer");
define_id!(OrderId, "ord_", "order");
define_id!(TaxRateId, "txr_", "tax rate");
define_id!(PaymentLinkId, "plink_", "payment link");
define_id!(CheckoutSessionId, "cs_", "checkout session");
define_id!(PaymentId, "pay_", "payment");
define_id!(RefundId, "re_", "refund");
define_id!(SubscriptionId, "sub_", "subscription");
define_id!(EventId, "evt_", "event");
define_id!(WebhookEndpointId, "we_", "webhook endpoint");
define_id!(ApiKeyId, "key_", "API key");
define_id!(UserId, "usr_", "user");
define_id!(SessionId, "ses_", "session");
define_id!(InvitationId, "inv_", "invitation");
define_id!(AuditEntryId, "aud_", "audit entry");

impl AuditEntryId {
    /// An id made at `unix_secs`: 96 random bits after the time ([`timed_base62`]).
    pub fn generate_at(unix_secs: i64) -> Self {
        let secs = u32::try_from(unix_secs.max(0)).unwrap_or(u32::MAX);
        Self(format!("aud_{}", timed_base62(secs)))
    }
}
define_id!(EmailId, "em_", "e-mail");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_ids_sort_by_their_second_and_stay_random() {
        let a = AuditEntryId::generate_at(1_700_000_000);
        let b = AuditEntryId::generate_at(1_700_000_001);
        let c = AuditEntryId::generate_at(1_700_000_001);
        assert!(a < b && a < c && b != c);
        assert_eq!(AuditEntryId::parse(a.as_str()), Some(a.clone()));
        // Far ahead and before 1970 still make well-formed ids.
        for t in [0, -5, i64::MAX] {
            let id = AuditEntryId::generate_at(t);
            assert!(AuditEntryId::parse(id.as_str()).is_some(), "{id:?}");
        }
        assert!(AuditEntryId::generate_at(0) < a);
    }

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let a = PaymentLinkId::generate();
        let b = PaymentLinkId::generate();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("plink_"));
        assert_eq!(PaymentLinkId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(ProductId::parse(a.as_str()), None);
        assert_eq!(PaymentLinkId::parse("plink_short"), None);
        assert_eq!(PaymentLinkId::parse("plink_!!!!!!!!!!!!!!!!!!!!!!"), None);
    }

    #[test]
    fn the_pattern_says_what_parsing_accepts() {
        assert_eq!(pattern("plink_"), "^plink_[0-9A-Za-z]{22}$");
        let id = PaymentLinkId::generate();
        assert_eq!(id.as_str().len(), "plink_".len() + RANDOM_LEN);
    }
}
