//! Dunning: when a failed renewal is tried again, what happens when the tries run out, and
//! the key that makes each try reach the processor at most once.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::SubscriptionId;
use crate::time::{DurationSpec, Timestamp};

/// The waits before each retry of a failed renewal, each counted from the try before it
/// (`1d,3d,5d`: one day after the failed renewal, three days after that retry, five days
/// after the second retry), written as comma-separated [`DurationSpec`]s.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RetrySchedule {
    waits: Vec<DurationSpec>,
    /// The waits as written, without spaces.
    text: String,
}

impl RetrySchedule {
    /// Stripe's default and the contract's.
    pub const DEFAULT: &'static str = "1d,3d,5d";
    /// More retries than this only annoy the customer.
    pub const MAX_RETRIES: usize = 10;
    /// The shortest wait: a retry within the hour finds the same card and the same answer.
    pub const MIN_WAIT_SECONDS: i64 = 3_600;
    /// The longest wait before one retry.
    pub const MAX_WAIT_SECONDS: i64 = 30 * 86_400;

    /// Parses `1d,3d,5d`: 1 to [`Self::MAX_RETRIES`] durations, each between an hour and
    /// 30 days, separated by commas (spaces around them allowed).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let waits: Vec<DurationSpec> = parts
            .iter()
            .map(|part| DurationSpec::parse(part))
            .collect::<Option<_>>()?;
        let bounded = waits
            .iter()
            .all(|d| (Self::MIN_WAIT_SECONDS..=Self::MAX_WAIT_SECONDS).contains(&d.seconds()));
        (bounded && (1..=Self::MAX_RETRIES).contains(&waits.len())).then(|| Self {
            waits,
            text: parts.join(","),
        })
    }

    /// The number of retries after the failed renewal.
    pub fn retries(&self) -> u32 {
        u32::try_from(self.waits.len()).unwrap_or(u32::MAX)
    }

    /// The wait before retry `attempt` (1 for the first retry); `None` past the last.
    pub fn wait_before(&self, attempt: u32) -> Option<i64> {
        let i = usize::try_from(attempt.checked_sub(1)?).ok()?;
        self.waits.get(i).map(|d| d.seconds())
    }

    /// When retry `attempt` is due after the try before it failed at `failed_at`.
    pub fn retry_at(&self, attempt: u32, failed_at: Timestamp) -> Option<Timestamp> {
        self.wait_before(attempt).map(|w| failed_at.plus_seconds(w))
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            waits: [1, 3, 5]
                .into_iter()
                .filter_map(|d| DurationSpec::parse(&format!("{d}d")))
                .collect(),
            text: Self::DEFAULT.to_owned(),
        }
    }
}

impl std::fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for RetrySchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for RetrySchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(
                "invalid retry schedule: expected 1 to 10 waits of 1h to 30d, e.g. 1d,3d,5d",
            )
        })
    }
}

impl RetrySchedule {
    /// What [`RetrySchedule::parse`] accepts, as a regular expression (the schema's).
    pub fn pattern() -> String {
        let one = DurationSpec::pattern(Self::MIN_WAIT_SECONDS, Self::MAX_WAIT_SECONDS);
        let one = one.trim_start_matches('^').trim_end_matches('$');
        format!(
            r"^\s*{one}\s*(?:,\s*{one}\s*){{0,{}}}$",
            Self::MAX_RETRIES - 1
        )
    }
}

impl utoipa::PartialSchema for RetrySchedule {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(Self::pattern()))
            .examples([serde_json::json!(Self::DEFAULT)])
            .into()
    }
}
impl utoipa::ToSchema for RetrySchedule {}

/// What becomes of a subscription whose retries have all failed (the merchant setting
/// `subscription_exhausted_action`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExhaustedAction {
    /// It ends: `canceled`, with `subscription.canceled`.
    #[default]
    Cancel,
    /// It stays, `unpaid`, charging nothing until the merchant or customer acts.
    MarkUnpaid,
}

impl ExhaustedAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancel => "cancel",
            Self::MarkUnpaid => "mark_unpaid",
        }
    }
}

/// A merchant's dunning settings.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DunningPolicy {
    pub schedule: RetrySchedule,
    pub on_exhausted: ExhaustedAction,
}

/// The processor idempotency key of one try at charging one period:
/// `{subscription id}:p{period}:a{attempt}`, e.g. `sub_3kTw…:p12:a0`.
///
/// `period` is the period's index from the anchor (0 for the first paid period, whatever
/// the trial), `attempt` 0 for the renewal and `n` for the `n`-th retry. The same try
/// always makes the same key, so a worker that dies after calling the processor and is
/// replaced asks again with the same key and gets the first answer, not a second charge;
/// each retry has a key of its own because the processor must be asked again.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ChargeKey(String);

impl ChargeKey {
    pub fn new(subscription: &SubscriptionId, period: u32, attempt: u32) -> Self {
        Self(format!("{subscription}:p{period}:a{attempt}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChargeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_one_three_five_days() {
        let s = RetrySchedule::default();
        assert_eq!(s, RetrySchedule::parse(RetrySchedule::DEFAULT).unwrap());
        assert_eq!(s.to_string(), "1d,3d,5d");
        assert_eq!(s.retries(), 3);
        assert_eq!(s.wait_before(0), None);
        assert_eq!(s.wait_before(1), Some(86_400));
        assert_eq!(s.wait_before(3), Some(5 * 86_400));
        assert_eq!(s.wait_before(4), None);
        let t = Timestamp::from_unix(1_000);
        assert_eq!(s.retry_at(2, t), Some(t.plus_seconds(3 * 86_400)));
    }

    #[test]
    fn schedules_are_bounded() {
        let ok = ["1h", "2d, 4d ,1w", "30d", "1h,1h,1h,1h,1h,1h,1h,1h,1h,1h"];
        for s in ok {
            assert!(RetrySchedule::parse(s).is_some(), "{s}");
        }
        let bad = [
            "",
            ",",
            "1d,",
            "59m",
            "31d",
            "5w",
            "0d",
            "1d;3d",
            "1x",
            "1h,1h,1h,1h,1h,1h,1h,1h,1h,1h,1h",
        ];
        for s in bad {
            assert!(RetrySchedule::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn schedules_round_trip_through_json_and_match_their_pattern() {
        let s = RetrySchedule::parse("2d, 4d ,1w").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#""2d,4d,1w""#);
        assert_eq!(serde_json::from_str::<RetrySchedule>(&json).unwrap(), s);
        assert!(serde_json::from_str::<RetrySchedule>(r#""1s""#).is_err());
        let schema =
            serde_json::to_value(<RetrySchedule as utoipa::PartialSchema>::schema()).unwrap();
        let re = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        for s in ["1d,3d,5d", "1h", "30d", "2d, 4d ,1w", "720h"] {
            assert!(re.is_match(s) && RetrySchedule::parse(s).is_some(), "{s}");
        }
        for s in ["", "59m", "31d", "1d,", "0d"] {
            assert!(!re.is_match(s) && RetrySchedule::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn exhausted_actions_are_snake_case() {
        for a in [ExhaustedAction::Cancel, ExhaustedAction::MarkUnpaid] {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
        assert_eq!(ExhaustedAction::default(), ExhaustedAction::Cancel);
    }

    #[test]
    fn charge_keys_name_the_subscription_period_and_attempt() {
        let id = SubscriptionId::parse("sub_0123456789ABCDEFGHIJKL").unwrap();
        assert_eq!(
            ChargeKey::new(&id, 12, 0).as_str(),
            "sub_0123456789ABCDEFGHIJKL:p12:a0"
        );
        assert_ne!(ChargeKey::new(&id, 1, 12), ChargeKey::new(&id, 11, 2));
    }
}
