//! Merchant metadata: up to 50 string pairs, keys ≤ 40 characters, values ≤ 500.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{invalid, ValidationError};

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        if map.len() > 50 {
            return Err(invalid("metadata", "`metadata` can hold at most 50 keys"));
        }
        for (k, v) in &map {
            if k.is_empty() || k.chars().count() > 40 {
                return Err(invalid(
                    format!("metadata[{k}]"),
                    "metadata keys must be 1–40 characters",
                ));
            }
            if v.chars().count() > 500 {
                return Err(invalid(
                    format!("metadata[{k}]"),
                    "metadata values must be at most 500 characters",
                ));
            }
        }
        Ok(Self(map))
    }

    /// Applies a metadata update the Stripe way: keys set to `""` are removed, the others
    /// are set; the result must still respect the limits.
    pub fn merged(&self, update: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        let mut next = self.0.clone();
        for (k, v) in update {
            if v.is_empty() {
                next.remove(&k);
            } else {
                next.insert(k, v);
            }
        }
        Self::parse(next)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let ok: BTreeMap<_, _> = (0..50)
            .map(|i| (format!("k{i}"), "v".repeat(500)))
            .collect();
        assert!(Metadata::parse(ok.clone()).is_ok());
        let mut too_many = ok.clone();
        too_many.insert("extra".into(), "v".into());
        assert!(Metadata::parse(too_many).is_err());
        assert!(Metadata::parse([("k".repeat(41), "v".into())].into()).is_err());
        assert!(Metadata::parse([("k".into(), "v".repeat(501))].into()).is_err());
        let m =
            Metadata::parse([("a".into(), "1".into()), ("b".into(), "2".into())].into()).unwrap();
        let m = m
            .merged([("a".into(), String::new()), ("c".into(), "3".into())].into())
            .unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":"2","c":"3"}"#);
    }
}
