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
    /// Times before 1970 are read as 1970-01-01T00:00:00Z and times after 9999 as
    /// 9999-12-31T23:59:59Z, so that every stored time formats back (an expiry before 1970
    /// has passed as surely as one at 1970; one after 9999 is as far off).
    pub fn parse(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        Some(Self(t.unix_timestamp().clamp(0, Self::MAX_UNIX)))
    }

    /// 9999-12-31T23:59:59Z, the last time RFC 3339 can write.
    const MAX_UNIX: i64 = 253_402_300_799;

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

    /// Parses `{count}{unit}`: a count of digits without sign or leading zero, a unit of
    /// [`Self::UNITS`], at most [`Self::MAX_SECONDS`] in all.
    pub fn parse(s: &str) -> Option<Self> {
        let unit = s.chars().last()?;
        let digits = s.get(..s.len().checked_sub(1)?)?;
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let count: i64 = digits.parse().ok()?;
        let per = Self::UNITS.iter().find(|(u, _)| *u == unit)?.1;
        let secs = count.checked_mul(per)?;
        (count > 0 && secs <= Self::MAX_SECONDS).then_some(Self {
            secs,
            text_unit: unit,
            count,
        })
    }

    /// The units and their seconds.
    pub const UNITS: [(char, i64); 5] = [
        ('s', 1),
        ('m', 60),
        ('h', 3600),
        ('d', 86_400),
        ('w', 604_800),
    ];

    /// Up to ten years: anything longer is surely a typo.
    pub const MAX_SECONDS: i64 = 10 * 366 * 86_400;

    /// The durations of `min..=max` seconds that [`Self::parse`] reads, as a regular
    /// expression for the OpenAPI document.
    pub fn pattern(min: i64, max: i64) -> String {
        let max = max.min(Self::MAX_SECONDS);
        let units: Vec<String> = Self::UNITS
            .iter()
            .filter_map(|&(unit, per)| {
                let lo = u64::try_from((min + per - 1) / per).ok()?.max(1);
                let hi = u64::try_from(max / per).ok()?;
                (lo <= hi).then(|| format!("{}{unit}", crate::pattern::integer_range(lo, hi)))
            })
            .collect();
        format!("^(?:{})$", units.join("|"))
    }

    /// The schema of a duration of `min..=max` seconds.
    pub fn schema_between(min: i64, max: i64) -> utoipa::openapi::schema::Object {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(Self::pattern(min, max)))
            .build()
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
        Self::schema_between(1, Self::MAX_SECONDS).into()
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
        // Before 1970 and after 9999 (UTC) are read as the nearest time that formats.
        let early = Timestamp::parse("1737-04-14T01:40:39+08:18").unwrap();
        assert_eq!(early.to_rfc3339(), "1970-01-01T00:00:00Z");
        let late = Timestamp::parse("9999-12-31T23:59:59-01:00").unwrap();
        assert_eq!(late.to_rfc3339(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn the_pattern_says_what_parsing_accepts() {
        let re = regex::Regex::new(&DurationSpec::pattern(60, 86_400)).unwrap();
        for s in ["1m", "24h", "1440m", "86400s", "60s", "1d"] {
            assert!(re.is_match(s) && DurationSpec::parse(s).is_some(), "{s}");
        }
        for s in ["59s", "25h", "2d", "01m", "+1m", " 1m", "1", "m", "0h"] {
            assert!(!re.is_match(s), "{s}");
        }
        let all = regex::Regex::new(&DurationSpec::pattern(1, i64::MAX)).unwrap();
        for count in [
            0i64,
            1,
            9,
            10,
            522,
            523,
            3660,
            3661,
            87_840,
            316_224_000,
            316_224_001,
        ] {
            for (unit, _) in DurationSpec::UNITS {
                let s = format!("{count}{unit}");
                assert_eq!(all.is_match(&s), DurationSpec::parse(&s).is_some(), "{s}");
            }
        }
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
