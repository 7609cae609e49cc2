//! A link's counters: checkouts started, checkouts holding a use, payments, amount collected.
//!
//! A link with a `payments_limit` keeps them on its own row. Every reservation is a
//! conditional `UPDATE` of that row, and that is what makes the limit exact.
//!
//! A link without a limit has nothing to guard. If its purchases updated its row, every
//! purchase of a busy link would queue behind that one row lock (on PostgreSQL, 11–14 of 16
//! connections were seen waiting on it). So they add to shards in `link_counters` instead:
//! on PostgreSQL one shard per database connection (`pg_backend_pid() % 64`), so two
//! purchases in flight rarely share a row; on SQLite, with one writer, a single shard. A
//! link's figure is its row's value plus its shards' sum ([`LINK_COLS`], [`PAYMENTS_TOTAL`],
//! [`RESERVED_TOTAL`]). Which row a change lands on never matters to the sums.
//!
//! Why this stays exact when a limit is set, or the link is deactivated or deleted, while
//! purchases are in flight (PostgreSQL; SQLite runs one write at a time):
//! - A shard write reads the link `FOR KEY SHARE` and only while `payments_limit IS NULL`
//!   (and, to start a checkout, while the link is open). A change of the link first takes
//!   its row `FOR UPDATE` ([`lock_link`]), which waits for every shard write in flight to
//!   commit and makes new ones wait for the change. A shard write that waited re-reads the
//!   row and, if the link now has a limit, finds nothing to do: the caller then counts on
//!   the row, under the limit's guard.
//! - So once a limit is committed, no shard write adds to the link's holds any more, and
//!   every later statement sees all the shards' holds in its guard.
//! - A link change is also refused (`concurrent_update`, retried by the API) if the payments
//!   it was decided on are no longer the link's total: the check of a new limit against the
//!   payments already made stays true.

use crate::sql::Sql;
use crate::Dialect;

macro_rules! total {
    ($col:literal) => {
        concat!(
            "CAST(",
            $col,
            " + COALESCE((SELECT SUM(k.",
            $col,
            ") FROM link_counters k WHERE k.link_id = payment_links.id), 0) AS BIGINT)"
        )
    };
}

/// The columns a link is read from (see `links::link`), counters with their shards.
pub(crate) const LINK_COLS: &str = concat!(
    "status, paid_from, expires_at, views, version, data, ",
    total!("payments_count"),
    " AS payments_count, ",
    total!("checkouts_started"),
    " AS checkouts_started, ",
    total!("amount_collected"),
    " AS amount_collected"
);

/// The link's payments, with its shards (an expression over a `payment_links` row).
pub(crate) const PAYMENTS_TOTAL: &str = total!("payments_count");

/// The checkouts holding one of the link's uses, with its shards.
pub(crate) const RESERVED_TOTAL: &str = total!("reserved_count");

/// Payments and holds together: what a limit is checked against.
pub(crate) const USED_TOTAL: &str = "CAST(payments_count + reserved_count + COALESCE((SELECT SUM(k.payments_count + k.reserved_count) FROM link_counters k WHERE k.link_id = payment_links.id), 0) AS BIGINT)";

/// What a change adds to a link's counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub checkouts_started: i64,
    pub reserved: i64,
    pub payments: i64,
    pub amount: i64,
}

impl Counts {
    /// A checkout started, holding one use.
    pub fn started() -> Self {
        Self {
            checkouts_started: 1,
            reserved: 1,
            ..Self::default()
        }
    }

    /// A held checkout paid `amount`.
    pub fn paid(amount: i64) -> Self {
        Self {
            reserved: -1,
            payments: 1,
            amount,
            ..Self::default()
        }
    }
}

/// Adds `c` to one of the link's shards if the link has no limit and `guard` (conditions
/// on its row, each starting with ` AND`) holds. Returns the link's id when it did.
pub(crate) fn shard_add(
    dialect: Dialect,
    link_id: &str,
    c: Counts,
    guard: impl FnOnce(&mut Sql),
) -> Sql {
    let mut q = Sql::new(
        "INSERT INTO link_counters (link_id, shard, checkouts_started, reserved_count, \
         payments_count, amount_collected) SELECT id, ",
    );
    q.push(dialect.shard());
    q.push(", ")
        .bind(c.checkouts_started)
        .push(", ")
        .bind(c.reserved)
        .push(", ")
        .bind(c.payments)
        .push(", ")
        .bind(c.amount);
    q.push(" FROM payment_links WHERE id = ").bind(link_id);
    guard(&mut q);
    q.push(" AND payments_limit IS NULL");
    q.push(dialect.key_share());
    q.push(
        " ON CONFLICT (link_id, shard) DO UPDATE SET \
         checkouts_started = link_counters.checkouts_started + excluded.checkouts_started, \
         reserved_count = link_counters.reserved_count + excluded.reserved_count, \
         payments_count = link_counters.payments_count + excluded.payments_count, \
         amount_collected = link_counters.amount_collected + excluded.amount_collected \
         RETURNING link_id",
    );
    q
}

/// PostgreSQL: takes the link's row `FOR UPDATE` before a change of the link, so the
/// change waits for shard writes in flight and new ones wait for it (see above). `None`
/// on SQLite, whose writes already run one at a time.
pub(crate) fn lock_link(dialect: Dialect, link_id: &str) -> Option<Sql> {
    dialect.lock_row("payment_links", link_id)
}
