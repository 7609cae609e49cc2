//! Rows of `payment_links`: the link's JSON plus the columns that are the truth for its
//! counters and stored status.

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::link::{LinkStats, LinkStatus, PaymentLink};
use paylink_store::{StoreResult, Versioned};

use crate::backend;
use crate::sql::{int, json_col, opt_int, Arg};
use paylink_domain::time::Timestamp;

pub(crate) use crate::counters::LINK_COLS;

pub(crate) fn link(row: &AnyRow) -> StoreResult<Versioned<PaymentLink>> {
    let mut l: PaymentLink = json_col(row, "data")?;
    let status: String = row.try_get("status").map_err(backend)?;
    l.status = LinkStatus::parse(&status)
        .ok_or_else(|| backend(format!("unknown link status `{status}`")))?;
    // The column is what list filters judge `expired` by; reading it too keeps them in step.
    l.expires_at = opt_int(row, "expires_at")?.map(Timestamp::from_unix);
    let payments = int(row, "payments_count")?;
    l.payments_count = u32::try_from(payments).map_err(backend)?;
    l.stats = LinkStats {
        views: int(row, "views")?,
        checkouts_started: int(row, "checkouts_started")?,
        payments_count: payments,
        amount_collected: int(row, "amount_collected")?,
        currencies: Default::default(),
    };
    Ok(Versioned {
        value: l,
        version: int(row, "version")?,
    })
}

/// The columns a link write sets from the object, in a fixed order.
pub(crate) fn link_columns(l: &PaymentLink) -> Vec<(&'static str, Arg)> {
    vec![
        ("slug", l.slug.as_str().into()),
        // `expired` is computed on read and never stored; callers keep the stored status.
        ("status", l.status.as_str().into()),
        ("type", l.kind.as_str().into()),
        ("title_lower", l.title.to_lowercase().into()),
        ("reference_id", l.reference_id.clone().into()),
        (
            "customer_id",
            l.customer_id.as_ref().map(|c| c.to_string()).into(),
        ),
        ("expires_at", l.expires_at.map(|t| t.unix()).into()),
        ("opens_at", l.opens_at.map(|t| t.unix()).into()),
        ("payments_limit", l.payments_limit.map(i64::from).into()),
    ]
}
