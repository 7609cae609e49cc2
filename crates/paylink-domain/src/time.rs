//! Timestamps: UTC, whole seconds, RFC 3339 on the wire (`2026-12-31T23:59:59Z`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Parses an RFC 3339 string with any offset; the result is UTC, truncated to seconds.
    pub fn parse(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        // Keep within years 1970..=9999 so formatting always round-trips.
        let secs = t.unix_timestamp();
        (0..=253_402_300_799).contains(&secs).then_some(Self(secs))
    }

    /// The calendar year and month (1–12) in UTC.
    pub fn year_month(self) -> (u16, u8) {
        let t = OffsetDateTime::from_unix_timestamp(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        (u16::try_from(t.year()).unwrap_or(1970), u8::from(t.month()))
    }

    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(
                "invalid timestamp: expected RFC 3339, e.g. 2026-12-31T23:59:59Z",
            )
        })
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

/// A duration written as a number and a unit (`30m`, `15d`, `2h`, `45s`, `1w`), as used in
/// settings such as `default_link_expiry`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DurationSpec {
    secs: i64,
    text_unit: char,
    count: i64,
}

impl DurationSpec {
    pub const fn minutes(count: i64) -> Self {
        Self {
            secs: count * 60,
            text_unit: 'm',
            count,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let unit = s.chars().last()?;
        let count: i64 = s.get(..s.len().checked_sub(1)?)?.parse().ok()?;
        let per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        // Up to ten years: anything longer is surely a typo.
        let secs = count.checked_mul(per)?;
        (count > 0 && secs <= 10 * 366 * 86_400).then_some(Self {
            secs,
            text_unit: unit,
            count,
        })
    }

    pub fn seconds(self) -> i64 {
        self.secs
    }
}

impl Serialize for DurationSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}{}", self.count, self.text_unit))
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("invalid duration: expected e.g. 30m, 2h, 15d"))
    }
}

impl utoipa::PartialSchema for DurationSpec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]+[smhdw]$"))
            .into()
    }
}
impl utoipa::ToSchema for DurationSpec {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_in_utc() {
        let t = Timestamp::parse("2026-12-31T23:59:59Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-31T23:59:59Z");
        let t = Timestamp::parse("2026-12-31T23:59:59.750+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-31T21:59:59Z");
        assert!(Timestamp::parse("yesterday").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(DurationSpec::parse("15d").unwrap().seconds(), 15 * 86_400);
        assert_eq!(DurationSpec::parse("30m").unwrap().seconds(), 1800);
        assert!(DurationSpec::parse("0d").is_none());
        assert!(DurationSpec::parse("-1d").is_none());
        assert!(DurationSpec::parse("99999999999999w").is_none());
        assert!(DurationSpec::parse("5x").is_none());
    }
}
