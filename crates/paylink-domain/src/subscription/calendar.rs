//! Billing periods on the UTC calendar.
//!
//! Days and weeks are exact numbers of seconds. Months and years move the calendar month
//! and keep the *anchor day* (the day of the month billing started on), clamped to the
//! month's length: a subscription anchored on Jan 31 renews on Feb 28 (Feb 29 in a leap
//! year), then Mar 31, because every period start is computed from the anchor and never by
//! chaining clamped dates (chaining would drift to the 28th for good). Yearly billing
//! anchored on Feb 29 renews on Feb 28 in common years and on Feb 29 again in leap years.
//! The time of day is always kept.
//!
//! Nothing past 9999-12-31T23:59:59Z is a period boundary (RFC 3339 cannot write it): the
//! functions answer `None` instead.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::link::Interval;
use crate::time::Timestamp;

/// 9999-12-31T23:59:59Z, the last time a [`Timestamp`] formats (the same bound as
/// `Timestamp::parse`).
pub const LAST_UNIX: i64 = 253_402_300_799;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// The end of a period of `count` intervals that starts at `start`, on a subscription
/// whose anchor day is `anchor_day` (1–31; only months and years use it).
///
/// `start` may itself be a clamped date (Feb 28 of a subscription anchored on the 31st):
/// the end goes back to the anchor day where the month allows (Mar 31), so chaining this
/// function gives the same dates as [`BillingCycle::period_start`]. `None` when the end
/// falls after 9999 or `anchor_day` is not a day of any month.
pub fn period_end(
    start: Timestamp,
    anchor_day: u8,
    interval: Interval,
    count: u32,
) -> Option<Timestamp> {
    if !(1..=31).contains(&anchor_day) {
        return None;
    }
    let count = i64::from(count);
    let end = match interval {
        Interval::Day => start.unix().checked_add(count.checked_mul(DAY)?)?,
        Interval::Week => start.unix().checked_add(count.checked_mul(WEEK)?)?,
        Interval::Month => add_months(start, anchor_day, count)?,
        Interval::Year => add_months(start, anchor_day, count.checked_mul(12)?)?,
    };
    (end <= LAST_UNIX).then(|| Timestamp::from_unix(end))
}

/// `start` moved by `months` calendar months onto `anchor_day` (clamped), same time of day.
fn add_months(start: Timestamp, anchor_day: u8, months: i64) -> Option<i64> {
    let t = OffsetDateTime::from_unix_timestamp(start.unix()).ok()?;
    let index = i64::from(t.year())
        .checked_mul(12)?
        .checked_add(i64::from(u8::from(t.month())) - 1)?
        .checked_add(months)?;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    if year > 9999 {
        return None;
    }
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = anchor_day.min(month.length(year));
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(date.with_time(t.time()).assume_utc().unix_timestamp())
}

/// The day of the month (1–31) of `t` in UTC.
pub fn day_of_month(t: Timestamp) -> u8 {
    OffsetDateTime::from_unix_timestamp(t.unix())
        .map(|t| t.day())
        .unwrap_or(1)
}

/// One billing period: `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Period {
    /// 0 for the first paid period.
    pub index: u32,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    /// Whether `t` falls in the period.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// The calendar of a subscription's paid periods: period `n` starts `n × interval_count`
/// intervals after the anchor, computed from the anchor.
///
/// The anchor is the start of the first paid period: the checkout without a trial, the
/// trial's end with one.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "CycleFields")]
pub struct BillingCycle {
    anchor: Timestamp,
    interval: Interval,
    interval_count: u32,
}

/// A cycle as stored, checked by [`BillingCycle::new`] when read back: a stored
/// `interval_count` of 0 would make every period start at the anchor, each one due at once.
#[derive(Deserialize)]
struct CycleFields {
    anchor: Timestamp,
    interval: Interval,
    interval_count: u32,
}

impl TryFrom<CycleFields> for BillingCycle {
    type Error = &'static str;

    fn try_from(f: CycleFields) -> Result<Self, Self::Error> {
        BillingCycle::new(f.anchor, f.interval, f.interval_count).ok_or(
            "a billing cycle needs an interval_count of at least 1 and an anchor from 1970 to 9999",
        )
    }
}

impl BillingCycle {
    /// `None` when `interval_count` is 0 (periods would not advance) or the anchor is
    /// before 1970 or after 9999.
    pub fn new(anchor: Timestamp, interval: Interval, interval_count: u32) -> Option<Self> {
        (interval_count >= 1 && (0..=LAST_UNIX).contains(&anchor.unix())).then_some(Self {
            anchor,
            interval,
            interval_count,
        })
    }

    pub fn anchor(&self) -> Timestamp {
        self.anchor
    }

    pub fn interval(&self) -> Interval {
        self.interval
    }

    pub fn interval_count(&self) -> u32 {
        self.interval_count
    }

    /// The anchor's day of the month, which monthly and yearly periods keep.
    pub fn anchor_day(&self) -> u8 {
        day_of_month(self.anchor)
    }

    /// The start of period `n` (`None` after 9999).
    pub fn period_start(&self, n: u32) -> Option<Timestamp> {
        let intervals = n.checked_mul(self.interval_count)?;
        period_end(self.anchor, self.anchor_day(), self.interval, intervals)
    }

    /// Period `n` (`None` when it ends after 9999).
    pub fn period(&self, n: u32) -> Option<Period> {
        Some(Period {
            index: n,
            start: self.period_start(n)?,
            end: self.period_start(n.checked_add(1)?)?,
        })
    }

    /// The period that contains `t`; `None` before the anchor or when that period would
    /// end after 9999.
    pub fn period_at(&self, t: Timestamp) -> Option<Period> {
        if t < self.anchor {
            return None;
        }
        // A guess from the average length of an interval, then a walk to the right period
        // (a few steps at most: calendar months differ from the average by days).
        let average = match self.interval {
            Interval::Day => DAY,
            Interval::Week => WEEK,
            Interval::Month => 2_629_746,
            Interval::Year => 31_556_952,
        };
        let per = average.checked_mul(i64::from(self.interval_count))?;
        let guess = (t.unix() - self.anchor.unix()) / per;
        let mut n = u32::try_from(guess).ok()?;
        loop {
            let p = self.period(n)?;
            if t < p.start {
                n = n.checked_sub(1)?;
            } else if t >= p.end {
                n = n.checked_add(1)?;
            } else {
                return Some(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn starts(anchor: &str, interval: Interval, count: u32, n: u32) -> Vec<String> {
        let c = BillingCycle::new(at(anchor), interval, count).unwrap();
        (0..n)
            .map(|k| c.period_start(k).unwrap().to_rfc3339())
            .collect()
    }

    #[test]
    fn month_ends_keep_the_anchor_day() {
        assert_eq!(
            starts("2025-01-31T10:20:30Z", Interval::Month, 1, 5),
            [
                "2025-01-31T10:20:30Z",
                "2025-02-28T10:20:30Z",
                "2025-03-31T10:20:30Z",
                "2025-04-30T10:20:30Z",
                "2025-05-31T10:20:30Z",
            ]
        );
        assert_eq!(
            starts("2024-01-31T00:00:00Z", Interval::Month, 1, 3),
            [
                "2024-01-31T00:00:00Z",
                "2024-02-29T00:00:00Z",
                "2024-03-31T00:00:00Z",
            ]
        );
        assert_eq!(
            starts("2024-11-30T23:59:59Z", Interval::Month, 3, 3),
            [
                "2024-11-30T23:59:59Z",
                "2025-02-28T23:59:59Z",
                "2025-05-30T23:59:59Z",
            ]
        );
    }

    #[test]
    fn chaining_with_the_anchor_day_does_not_drift() {
        let feb = at("2025-02-28T08:00:00Z");
        assert_eq!(
            period_end(feb, 31, Interval::Month, 1),
            Some(at("2025-03-31T08:00:00Z"))
        );
        assert_eq!(
            period_end(feb, 28, Interval::Month, 1),
            Some(at("2025-03-28T08:00:00Z"))
        );
        assert_eq!(period_end(feb, 0, Interval::Month, 1), None);
        assert_eq!(period_end(feb, 32, Interval::Month, 1), None);
    }

    #[test]
    fn leap_days_come_back_in_leap_years() {
        assert_eq!(
            starts("2024-02-29T12:00:00Z", Interval::Year, 1, 6),
            [
                "2024-02-29T12:00:00Z",
                "2025-02-28T12:00:00Z",
                "2026-02-28T12:00:00Z",
                "2027-02-28T12:00:00Z",
                "2028-02-29T12:00:00Z",
                "2029-02-28T12:00:00Z",
            ]
        );
        // 2100 is not a leap year; 2400 is.
        let c = BillingCycle::new(at("2096-02-29T00:00:00Z"), Interval::Year, 4).unwrap();
        assert_eq!(c.period_start(1), Some(at("2100-02-28T00:00:00Z")));
        let c = BillingCycle::new(at("2396-02-29T00:00:00Z"), Interval::Year, 4).unwrap();
        assert_eq!(c.period_start(1), Some(at("2400-02-29T00:00:00Z")));
    }

    #[test]
    fn days_and_weeks_are_exact_seconds() {
        let t = at("2025-03-29T01:30:00Z");
        assert_eq!(
            period_end(t, 29, Interval::Day, 3),
            Some(t.plus_seconds(3 * 86_400))
        );
        assert_eq!(
            period_end(t, 29, Interval::Week, 2),
            Some(t.plus_seconds(14 * 86_400))
        );
    }

    #[test]
    fn nothing_past_9999() {
        let t = at("9999-12-01T00:00:00Z");
        assert_eq!(
            period_end(t, 1, Interval::Day, 30),
            Some(at("9999-12-31T00:00:00Z"))
        );
        assert_eq!(period_end(t, 1, Interval::Day, 31), None);
        assert_eq!(period_end(t, 1, Interval::Month, 1), None);
        assert_eq!(period_end(t, 1, Interval::Year, 1), None);
        assert_eq!(period_end(t, 1, Interval::Week, u32::MAX), None);
        assert_eq!(period_end(t, 1, Interval::Year, u32::MAX), None);
        let c = BillingCycle::new(t, Interval::Month, 1).unwrap();
        assert_eq!(c.period(0), None);
        assert_eq!(c.period_start(u32::MAX), None);
        assert_eq!(c.period_at(t.plus_seconds(1)), None);
        assert!(BillingCycle::new(t, Interval::Month, 0).is_none());
        assert!(BillingCycle::new(Timestamp::from_unix(-1), Interval::Day, 1).is_none());
    }

    #[test]
    fn the_period_at_a_time() {
        let c = BillingCycle::new(at("2025-01-31T10:00:00Z"), Interval::Month, 1).unwrap();
        assert_eq!(c.period_at(at("2025-01-31T09:59:59Z")), None);
        let p = c.period_at(at("2025-02-28T10:00:00Z")).unwrap();
        assert_eq!((p.index, p.end), (1, at("2025-03-31T10:00:00Z")));
        let p = c.period_at(at("2025-02-28T09:59:59Z")).unwrap();
        assert_eq!(p.index, 0);
        assert!(p.contains(at("2025-02-28T09:59:59Z")));
    }

    /// The expected month `months` after (year, month), written independently of the code
    /// under test: the Gregorian leap rule and a table of month lengths.
    fn expected(year: i64, month: i64, day: u8, months: i64) -> (i64, i64, u8) {
        let index = year * 12 + (month - 1) + months;
        let (y, m) = (index / 12, index % 12 + 1);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][usize::try_from(m - 1).unwrap()];
        (y, m, day.min(len))
    }

    fn anchor_strategy() -> impl Strategy<Value = Timestamp> {
        (1970i32..=2400, 1u8..=12, 1u8..=31, 0u32..86_400).prop_filter_map(
            "a real date",
            |(y, m, d, secs)| {
                let month = Month::try_from(m).ok()?;
                let date = Date::from_calendar_date(y, month, d).ok()?;
                let t = date.midnight().assume_utc().unix_timestamp() + i64::from(secs);
                Some(Timestamp::from_unix(t))
            },
        )
    }

    fn interval_strategy() -> impl Strategy<Value = Interval> {
        prop_oneof![
            Just(Interval::Day),
            Just(Interval::Week),
            Just(Interval::Month),
            Just(Interval::Year),
        ]
    }

    proptest! {
        #[test]
        fn the_kth_start_is_the_clamped_anchor_date(
            anchor in anchor_strategy(),
            yearly in any::<bool>(),
            count in 1u32..=36,
            k in 0u32..400,
        ) {
            let interval = if yearly { Interval::Year } else { Interval::Month };
            let c = BillingCycle::new(anchor, interval, count).unwrap();
            let a = OffsetDateTime::from_unix_timestamp(anchor.unix()).unwrap();
            let months = i64::from(k * count) * if yearly { 12 } else { 1 };
            let (y, m, d) = expected(i64::from(a.year()), i64::from(u8::from(a.month())), a.day(), months);
            let got = c.period_start(k);
            if y > 9999 {
                prop_assert_eq!(got, None);
            } else {
                let t = OffsetDateTime::from_unix_timestamp(got.unwrap().unix()).unwrap();
                prop_assert_eq!(
                    (i64::from(t.year()), i64::from(u8::from(t.month())), t.day(), t.time()),
                    (y, m, d, a.time())
                );
            }
        }

        #[test]
        fn periods_strictly_increase_and_chaining_agrees(
            anchor in anchor_strategy(),
            interval in interval_strategy(),
            count in 1u32..=36,
            k in 0u32..200,
        ) {
            let c = BillingCycle::new(anchor, interval, count).unwrap();
            if let (Some(a), Some(b)) = (c.period_start(k), c.period_start(k + 1)) {
                prop_assert!(a < b);
                prop_assert_eq!(period_end(a, c.anchor_day(), interval, count), Some(b));
                let p = c.period_at(a).unwrap();
                prop_assert_eq!((p.index, p.start, p.end), (k, a, b));
                prop_assert_eq!(c.period_at(b.plus_seconds(-1)).map(|p| p.index), Some(k));
            }
        }

        #[test]
        fn a_year_of_monthly_billing_is_twelve_periods(
            anchor in anchor_strategy(),
            k in 0u32..1000,
        ) {
            let c = BillingCycle::new(anchor, Interval::Month, 1).unwrap();
            let start = c.period_start(k).unwrap();
            let year_later = period_end(start, c.anchor_day(), Interval::Year, 1).unwrap();
            let within = (k..k + 24)
                .filter_map(|n| c.period_start(n))
                .filter(|t| *t >= start && *t < year_later)
                .count();
            prop_assert_eq!(within, 12);
            prop_assert_eq!(c.period_start(k + 12), Some(year_later));
        }
    }
}
