//! A small SQL builder with `$N` placeholders (portable across SQLite and PostgreSQL under
//! the `Any` driver), and the list/document helpers every resource shares.

use std::fmt::Write;

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use paylink_store::{Created, IdempotencyScope, Listed, Page, StoreError, StoreResult, Tenant};

use crate::{backend, Dialect, SqlStore};

/// A value bound to a placeholder. Only the types both backends share: integers, text
/// and bytes. Booleans are stored as 0/1 integers.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    /// Not a value but SQL that computes one inside the statement (its own arguments
    /// numbered from `$1`): [`Sql::bind`] writes it in place of a placeholder.
    Expr(Box<Sql>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Int(Some(i64::from(v)))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}

/// SQL text with its arguments, numbered as they are pushed.
#[derive(Default, Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        match arg.into() {
            Arg::Expr(e) => self.append(&e.text, e.args),
            arg => {
                self.args.push(arg);
                let _ = write!(self.text, "${}", self.args.len());
            }
        }
        self
    }

    /// Appends another statement's text and arguments, renumbered.
    pub fn append_sql(&mut self, other: Sql) -> &mut Self {
        self.append(&other.text, other.args);
        self
    }

    /// `merchant_id = $a AND livemode = $b` for the tenant: what finds a tenant's rows.
    pub fn tenant(&mut self, t: &Tenant) -> &mut Self {
        self.push("merchant_id = ")
            .bind(t.merchant_id().as_str())
            .push(" AND livemode = ")
            .bind(t.livemode())
    }

    /// `merchant_id = $a AND livemode = $b` for an idempotency scope.
    pub fn scope(&mut self, s: &IdempotencyScope) -> &mut Self {
        let (owner, livemode) = s.owner();
        self.push("merchant_id = ")
            .bind(owner.as_ref())
            .push(" AND livemode = ")
            .bind(livemode)
    }

    /// `(merchant_id = $a AND livemode = $b) IS TRUE`: the tenant checked on a row found by
    /// its unique id (after `id = $`), in a form no index can serve. Without statistics (a
    /// new or fast-growing table) PostgreSQL may rate a tenant-prefixed list index as
    /// selective as the id's unique index; written as [`Sql::tenant`], a lookup of a
    /// merchant's link by id was seen scanning all 11,500 of its links (39 ms, not 0.1 ms).
    pub fn owned_by(&mut self, t: &Tenant) -> &mut Self {
        self.push("(merchant_id = ")
            .bind(t.merchant_id().as_str())
            .push(" AND livemode = ")
            .bind(t.livemode())
            .push(") IS TRUE")
    }

    /// `INSERT INTO table (a, b, …) VALUES ($1, $2, …)` for the given columns.
    pub fn insert(table: &str, cols: Vec<(&str, Arg)>) -> Self {
        Self::insert_from(table, cols, None)
    }

    /// [`Sql::insert`], or with `from`, `INSERT INTO table (a, …) SELECT $1, … FROM from`:
    /// one row for each row of `from` (on PostgreSQL, a `WITH` clause before it).
    pub fn insert_from(table: &str, cols: Vec<(&str, Arg)>, from: Option<&str>) -> Self {
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let mut q = Sql::new(&format!(
            "INSERT INTO {table} ({}) {}",
            names.join(", "),
            if from.is_some() {
                "SELECT "
            } else {
                "VALUES ("
            }
        ));
        for (i, (_, v)) in cols.into_iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(v);
        }
        match from {
            Some(f) => q.push(&format!(" FROM {f}")),
            None => q.push(")"),
        };
        q
    }

    /// Runs the statement and returns how many rows it changed.
    pub async fn exec(&self, conn: &mut sqlx::AnyConnection) -> StoreResult<u64> {
        Ok(self
            .query()
            .execute(conn)
            .await
            .map_err(crate::on_constraint)?
            .rows_affected())
    }

    /// The one row the statement names, or `NotFound`.
    pub async fn found(&self, conn: &mut sqlx::AnyConnection) -> StoreResult<AnyRow> {
        self.query()
            .fetch_optional(conn)
            .await
            .map_err(crate::backend)?
            .ok_or(StoreError::NotFound)
    }

    pub fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
                // `bind` writes expressions into the text: never an argument.
                Arg::Expr(_) => q.bind(None::<i64>),
            };
        }
        q
    }
}

/// Writes that neither read nor touch each other's rows, sent together. On PostgreSQL they
/// travel as one statement (data-modifying `WITH` clauses before the last one): one round
/// trip, atomic by itself. On SQLite they travel as one string of statements (`a; b; c`) in
/// the caller's transaction: the driver prepares and runs them in order in one call to its
/// worker thread, binding each statement's `$n` from the shared arguments (numbered as one
/// by [`Sql::append`]).
#[derive(Default, Debug, Clone)]
pub(crate) struct Batch(Vec<Sql>);

impl Batch {
    pub fn push(&mut self, q: Sql) -> &mut Self {
        self.0.push(q);
        self
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_statements(self) -> Vec<Sql> {
        self.0
    }

    /// PostgreSQL's form: `WITH b0 AS (…), b1 AS (…) <last>`.
    pub fn joined(mut self) -> Option<Sql> {
        let last = self.0.pop()?;
        if self.0.is_empty() {
            return Some(last);
        }
        let mut q = Sql::new("WITH ");
        for (i, s) in self.0.into_iter().enumerate() {
            q.push(&format!("{}b{i} AS (", if i > 0 { ", " } else { "" }));
            q.append(&s.text, s.args);
            q.push(")");
        }
        q.push(" ");
        q.append(&last.text, last.args);
        Some(q)
    }

    /// SQLite's form: `a; b; c`, in order.
    pub fn chained(self) -> Option<Sql> {
        let mut all = self.0.into_iter();
        let mut q = all.next()?;
        for s in all {
            q.push("; ");
            q.append(&s.text, s.args);
        }
        Some(q)
    }

    /// The batch as one statement (PostgreSQL) or one string of statements (SQLite).
    fn one(self, conn: &sqlx::AnyConnection) -> Option<Sql> {
        Dialect::of(conn).one(self)
    }

    /// Runs the batch in the caller's transaction and returns the last statement's row
    /// (it ends with `RETURNING`; no other statement of the batch returns rows). On
    /// PostgreSQL that statement runs first.
    pub async fn fetch_last(self, conn: &mut sqlx::AnyConnection) -> StoreResult<Option<AnyRow>> {
        let Some(q) = self.one(conn) else {
            return Ok(None);
        };
        // Not `fetch_optional`: on SQLite, sqlx's `Any` driver only looks at the first
        // statement's result for it, which is no row here.
        let mut rows = q
            .query()
            .fetch_all(conn)
            .await
            .map_err(crate::on_constraint)?;
        Ok(rows.pop())
    }

    /// Runs the batch in the caller's transaction.
    pub async fn run(self, conn: &mut sqlx::AnyConnection) -> StoreResult<()> {
        if let Some(q) = self.one(conn) {
            q.exec(conn).await?;
        }
        Ok(())
    }
}

/// SQLite, inside a one-call transaction (`Batch::in_transaction`): refuses the whole
/// transaction unless the statement before it changed a row (see migration 0008).
pub(crate) fn changed_or_refuse() -> Sql {
    Sql::new("INSERT INTO paylink_guard (ok) VALUES (changes() > 0)")
}

/// Whether a write ended itself because one of its guards failed: PostgreSQL's
/// `paylink_refuse` (SQLSTATE PL001) or SQLite's `paylink_guard`. Nothing of it stayed.
pub(crate) fn refused(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|db| {
        db.code().as_deref() == Some("PL001") || db.message().contains("paylink_refuse")
    })
}

/// Reads a JSON column into an object.
pub(crate) fn json_col<T: DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col).map_err(backend)?;
    serde_json::from_str(&text).map_err(|e| backend(format!("corrupt `{col}` column: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(backend)
}

pub(crate) fn int(row: &AnyRow, col: &str) -> StoreResult<i64> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn opt_int(row: &AnyRow, col: &str) -> StoreResult<Option<i64>> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn opt_text(row: &AnyRow, col: &str) -> StoreResult<Option<String>> {
    row.try_get(col).map_err(backend)
}

impl SqlStore {
    /// Fetches one row of `table` by id for the tenant.
    pub(crate) async fn fetch_one(
        &self,
        table: &str,
        cols: &str,
        t: &Tenant,
        id: &str,
        extra: &str,
    ) -> StoreResult<AnyRow> {
        let mut q = Sql::new(&format!("SELECT {cols} FROM {table} WHERE id = "));
        q.bind(id).push(" AND ").owned_by(t).push(extra);
        self.row(&q)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
    }

    /// Lists rows of `table` for the tenant, newest first, with cursor pagination.
    /// `filters` is SQL appended after the tenant condition (starting with ` AND`).
    pub(crate) async fn list_rows(
        &self,
        table: &str,
        cols: &str,
        t: &Tenant,
        mut filters: Sql,
        page: &Page,
        extra_scope: &str,
    ) -> StoreResult<Listed<AnyRow>> {
        let limit = i64::from(page.limit.clamp(1, 100));
        let cursor = match (&page.starting_after, &page.ending_before) {
            (Some(id), _) => Some((self.cursor_seq(table, t, id, extra_scope).await?, true)),
            (None, Some(id)) => Some((self.cursor_seq(table, t, id, extra_scope).await?, false)),
            (None, None) => None,
        };
        let mut q = Sql::new(&format!("SELECT {cols} FROM {table} WHERE "));
        q.tenant(t).push(extra_scope);
        // Move the filter's text and arguments into this query, renumbering placeholders.
        let (ftext, fargs) = (
            std::mem::take(&mut filters.text),
            std::mem::take(&mut filters.args),
        );
        q.append(&ftext, fargs);
        let ascending = page_tail(&mut q, cursor, limit);
        let rows = self.rows(&q).await.map_err(backend)?;
        Ok(page_rows(rows, limit, ascending))
    }

    async fn cursor_seq(
        &self,
        table: &str,
        t: &Tenant,
        id: &str,
        extra_scope: &str,
    ) -> StoreResult<i64> {
        let row = self
            .fetch_one(table, "seq", t, id, extra_scope)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => StoreError::InvalidCursor,
                e => e,
            })?;
        int(&row, "seq")
    }
}

impl Sql {
    /// Appends SQL written with its own `$1..$n` numbering, shifting it after ours.
    pub fn append(&mut self, text: &str, args: Vec<Arg>) {
        let offset = self.args.len();
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let n: usize = n.parse().unwrap_or(0);
                let _ = write!(out, "${}", n + offset);
            } else {
                out.push(c);
            }
        }
        self.text.push_str(&out);
        self.args.extend(args);
    }
}

/// Ends a list query: the cursor's condition (`(seq, true)`: after it, newest first;
/// `false`: before it), the order and `limit + 1` rows (the extra one says whether more
/// follow). Whether the rows come oldest first (then [`page_rows`] turns them).
pub(crate) fn page_tail(q: &mut Sql, cursor: Option<(i64, bool)>, limit: i64) -> bool {
    let ascending = matches!(cursor, Some((_, false)));
    match cursor {
        Some((seq, true)) => q.push(" AND seq < ").bind(seq),
        Some((seq, false)) => q.push(" AND seq > ").bind(seq),
        None => q,
    };
    q.push(if ascending {
        " ORDER BY seq ASC LIMIT "
    } else {
        " ORDER BY seq DESC LIMIT "
    })
    .bind(limit + 1);
    ascending
}

/// The rows of a [`page_tail`] query as a page, newest first.
pub(crate) fn page_rows(mut rows: Vec<AnyRow>, limit: i64, ascending: bool) -> Listed<AnyRow> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(100));
    if ascending {
        rows.reverse();
    }
    Listed {
        data: rows,
        has_more,
    }
}

/// ` AND created_at >= $ AND created_at <= $` for a `created` filter.
pub(crate) fn created_filter(q: &mut Sql, c: &Created) {
    if let Some(t) = c.gte {
        q.push(" AND created_at >= ").bind(t.unix());
    }
    if let Some(t) = c.lte {
        q.push(" AND created_at <= ").bind(t.unix());
    }
}

/// Maps rows to objects.
pub(crate) fn map_listed<T>(
    l: Listed<AnyRow>,
    f: impl Fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Listed<T>> {
    Ok(Listed {
        data: l.data.iter().map(f).collect::<StoreResult<_>>()?,
        has_more: l.has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An expression bound in place of a value is written into the text, its own
    /// arguments numbered after the statement's (not `$10` read as `$1`).
    #[test]
    fn expressions_are_written_in_place_with_their_arguments_renumbered() {
        let mut q = Sql::new("INSERT INTO t VALUES (");
        for i in 0..10_i64 {
            q.bind(i).push(", ");
        }
        let mut e = Sql::new("(SELECT n FROM m WHERE id = ");
        e.bind("a").push(" AND k = ").bind("b").push(")");
        q.bind(Arg::Expr(Box::new(e)))
            .push(", ")
            .bind(10_i64)
            .push(")");
        assert!(
            q.text
                .ends_with("$10, (SELECT n FROM m WHERE id = $11 AND k = $12), $13)"),
            "{}",
            q.text
        );
        assert_eq!(q.args.len(), 13);
    }
}
