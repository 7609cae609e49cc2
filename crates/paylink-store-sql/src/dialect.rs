//! The seam between the backends: every place where SQLite and PostgreSQL differ is a
//! method here, and the rest of the crate writes its SQL once, without asking which
//! database it runs on.
//!
//! Two kinds of difference:
//! - **Fragments**: a clause or expression only one dialect has (row locks, the counter
//!   shard, bytes, receipt numbers), or the statement that stands for it.
//! - **The guarded write** ([`Guarded`]): several statements sent as one round trip that
//!   stay only if each guarded statement changed a row. PostgreSQL runs them as one
//!   statement of data-modifying `WITH` clauses that ends with `paylink_refuse` (migration
//!   0006) when a guard found nothing; SQLite runs them as one string of statements in the
//!   group commit with `paylink_guard` (migration 0008) after each guarded one.
//!
//! How the statements are sent (a pool of prepared connections on PostgreSQL, one writer and
//! a group commit on SQLite) is `SqlStore`'s, in `lib.rs`.

use crate::sql::{changed_or_refuse, Arg, Batch, Sql};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a connection (a transaction's connection knows, where the store's
    /// dialect is not at hand).
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }

    /// A batch of writes as sent in one call: one statement of `WITH` clauses on
    /// PostgreSQL, one string of statements on SQLite (see [`Batch`]).
    pub(crate) fn one(self, b: Batch) -> Option<Sql> {
        match self {
            Dialect::Postgres => b.joined(),
            Dialect::Sqlite => b.chained(),
        }
    }

    /// `sqlite` or `postgres`, for logs and `/healthz`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// How many more connections the database would accept now (its limit, less those
    /// kept for superusers and those open); none on SQLite, which has no such limit.
    pub(crate) fn connection_room(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some(
                "SELECT (current_setting('max_connections')::int \
                 - current_setting('superuser_reserved_connections')::int \
                 - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'))::bigint",
            ),
            Dialect::Sqlite => None,
        }
    }

    /// The statement that tells every process on the database that something changed
    /// (see `changes`); none on SQLite, which one process serves.
    pub(crate) fn announce(self, channel: &str) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!("SELECT pg_notify('{channel}', ")),
            Dialect::Sqlite => None,
        }
    }

    /// The counter shard a write adds to (see `counters`): one per PostgreSQL connection, so
    /// two purchases in flight rarely share a row; one on SQLite, which writes one at a time.
    pub(crate) fn shard(self) -> &'static str {
        match self {
            Dialect::Postgres => "pg_backend_pid() % 64",
            Dialect::Sqlite => "0",
        }
    }

    /// The text of `key` in the JSON document of column `col` (kept as text on both).
    pub(crate) fn json_text(self, col: &str, key: &str) -> String {
        match self {
            Dialect::Postgres => format!("({col}::jsonb ->> '{key}')"),
            Dialect::Sqlite => format!("json_extract({col}, '$.{key}')"),
        }
    }

    /// ` FOR KEY SHARE` on PostgreSQL: the row read may not change until the write commits
    /// (SQLite's one writer at a time needs nothing).
    pub(crate) fn key_share(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR KEY SHARE",
            Dialect::Sqlite => "",
        }
    }

    /// ` FOR UPDATE SKIP LOCKED` on PostgreSQL: several workers claiming jobs never wait for
    /// nor take each other's.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// PostgreSQL: `SELECT id FROM table WHERE id = $ FOR UPDATE`, which makes writes that
    /// must take turns on a row do so. `None` on SQLite, whose writes already take turns.
    pub(crate) fn lock_row(self, table: &str, id: &str) -> Option<Sql> {
        (self == Dialect::Postgres).then(|| {
            let mut q = Sql::new(&format!("SELECT id FROM {table} WHERE id = "));
            q.bind(id).push(" FOR UPDATE");
            q
        })
    }

    /// Appends `body` as a bytes value (bound as text, which both backends take).
    pub(crate) fn bytes(self, q: &mut Sql, body: &[u8]) {
        let body = String::from_utf8_lossy(body).into_owned();
        match self {
            Dialect::Sqlite => q.push("CAST(").bind(body).push(" AS BLOB)"),
            Dialect::Postgres => q.push("convert_to(").bind(body).push(", 'UTF8')"),
        };
    }

    /// What a guarded write answers when its commit need not wait for the disk: on
    /// PostgreSQL it turns `synchronous_commit` off for its own transaction (see
    /// `start_plain`); SQLite's group commit decides its syncs for itself.
    pub(crate) fn unflushed_commit(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => {
                Some("set_config('synchronous_commit', 'off', true) AS commit_mode")
            }
            Dialect::Sqlite => None,
        }
    }

    /// PostgreSQL: creates a new merchant's receipt sequence (migration 0009), from 1.
    /// SQLite counts in `merchants.receipt_seq`, which starts at 0.
    pub(crate) fn create_receipts(self, merchant: &str) -> Option<Sql> {
        (self == Dialect::Postgres).then(|| {
            let mut q = Sql::new("SELECT paylink_receipts_create(");
            q.bind(merchant).push(", 1)");
            q
        })
    }

    /// The statement that takes the merchant's next receipt number, returned as
    /// `receipt_seq`: on PostgreSQL from its sequence, which holds no lock; on SQLite from
    /// `merchants.receipt_seq`, under the one writer's lock anyway.
    pub(crate) fn next_receipt(self, merchant: &str) -> Sql {
        let mut q = Sql::new(match self {
            Dialect::Postgres => "SELECT paylink_next_receipt(",
            Dialect::Sqlite => "UPDATE merchants SET receipt_seq = receipt_seq + 1 WHERE id = ",
        });
        q.bind(merchant).push(match self {
            Dialect::Postgres => ") AS receipt_seq",
            Dialect::Sqlite => " RETURNING receipt_seq",
        });
        q
    }
}

/// Statements that stay only together, and only if each guarded one changed a row (it ends
/// with `RETURNING`), sent as one round trip: see the module's documentation. The last
/// statement is a `SELECT` of one row, the write's answer.
pub(crate) struct Guarded {
    dialect: Dialect,
    batch: Batch,
    guards: Vec<usize>,
}

impl Guarded {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            batch: Batch::default(),
            guards: Vec::new(),
        }
    }

    /// A statement that runs whatever it changes.
    pub fn push(&mut self, q: Sql) -> &mut Self {
        self.batch.push(q);
        self
    }

    /// Statements that run whatever they change.
    pub fn push_all(&mut self, b: Batch) -> &mut Self {
        for q in b.into_statements() {
            self.batch.push(q);
        }
        self
    }

    /// A statement the write depends on: if it changes no row, nothing of the write stays.
    pub fn guard(&mut self, mut q: Sql) -> &mut Self {
        self.guards.push(self.batch.len());
        match self.dialect {
            // What the guard's `EXISTS` reads.
            Dialect::Postgres if !q.text.contains(" RETURNING ") => {
                q.push(" RETURNING 1");
                self.batch.push(q);
            }
            Dialect::Postgres => {
                self.batch.push(q);
            }
            // Rows returned would only cost the one writer.
            Dialect::Sqlite => {
                self.batch.push(q).push(changed_or_refuse());
            }
        }
        self
    }

    /// Takes the merchant's next receipt number inside the write, and returns the
    /// expression that reads it in the write's later statements.
    pub fn take_receipt(&mut self, merchant: &str) -> Arg {
        let mut read = Sql::new("(SELECT receipt_seq FROM ");
        match self.dialect {
            // A `WITH` clause runs once, however often it is read.
            Dialect::Postgres => {
                read.push(&format!("b{})", self.batch.len()));
                self.batch.push(self.dialect.next_receipt(merchant));
            }
            // The one writer's row, as the increment just left it.
            Dialect::Sqlite => {
                read.push("merchants WHERE id = ").bind(merchant).push(")");
                let mut q =
                    Sql::new("UPDATE merchants SET receipt_seq = receipt_seq + 1 WHERE id = ");
                q.bind(merchant);
                self.batch.push(q);
            }
        }
        Arg::Expr(Box::new(read))
    }

    /// The write's statements as sent, the last one `SELECT {answer}` (one row) when
    /// there is an answer (on PostgreSQL always, for its guards).
    pub fn finish(mut self, answer: Option<Sql>) -> Option<Sql> {
        match self.dialect {
            Dialect::Sqlite => {
                if let Some(answer) = answer {
                    let mut last = Sql::new("SELECT ");
                    last.append_sql(answer);
                    self.batch.push(last);
                }
                self.batch.chained()
            }
            Dialect::Postgres => {
                let mut last = Sql::new("SELECT ");
                if !self.guards.is_empty() {
                    let found: Vec<String> = self
                        .guards
                        .iter()
                        .map(|i| format!("EXISTS (SELECT 1 FROM b{i})"))
                        .collect();
                    last.push(&format!(
                        "CASE WHEN {} THEN 0 ELSE paylink_refuse('a guard of the write failed') END AS guarded",
                        found.join(" AND ")
                    ));
                } else {
                    last.push("0 AS guarded");
                }
                if let Some(answer) = answer {
                    last.push(", ").append_sql(answer);
                }
                self.batch.push(last);
                self.batch.joined()
            }
        }
    }
}
