//! The Paylink store on SQLite and on PostgreSQL, written once.
//!
//! Both backends run the same portable SQL through sqlx's `Any` driver (`$N` placeholders,
//! `INSERT … RETURNING`, `ON CONFLICT`), each with its own migrations. The few places
//! where the dialects differ are named by [`Dialect`]. Writing the queries once means the
//! two backends cannot drift apart; the conformance story checks that they don't.
//!
//! SQLite takes one writer at a time: writes go through one connection, an in-process lock
//! and `BEGIN IMMEDIATE`, so concurrent requests queue fairly instead of failing with
//! `SQLITE_BUSY`. The writes known whole in advance (the hot ones) are committed in groups
//! by one task (see `writer`); the others take the lock for a transaction of their own.

mod accounts;
mod attempts;
mod audit;
mod catalog;
mod changes;
mod checkout;
mod counters;
mod dialect;
mod emails;
mod events;
mod guards;
mod idempotency;
mod links;
mod merchants;
mod orders;
mod payments;
mod processes;
mod processors;
mod reports;
mod sql;
mod statements;
mod subscriptions;
pub mod testing;
mod webhooks;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{Mutex, MutexGuard, Notify};

use paylink_store::{Conflict, StoreError, StoreResult};

pub use dialect::Dialect;

pub struct SqlStore {
    pool: AnyPool,
    /// PostgreSQL only: the connections for statements committed on their own (see
    /// `statements`); `pool` then holds those for transactions.
    statements: Option<statements::Statements>,
    /// SQLite only: the one connection that writes, so a writer never waits behind
    /// readers for a connection while it holds the write lock.
    writer: Option<AnyPool>,
    dialect: Dialect,
    /// SQLite only: one writer at a time, queued fairly.
    write_lock: Option<Arc<Mutex<()>>>,
    /// SQLite: told each time a writer takes its turn on `write_lock` (the checkpointer
    /// sleeps until then).
    turns: Arc<Notify>,
    /// SQLite only: the group commit of writes known whole in advance (see `writer`).
    group: Option<writer::GroupWriter>,
    /// SQLite only: checkpoints the WAL from a reader's connection (held to be dropped).
    _checkpointer: Option<Checkpointer>,
    /// This process, as its claims name it (see `ProcessStore::heartbeat`).
    instance: String,
    /// PostgreSQL only: where to listen for other processes' changes (see `changes`).
    listen_url: Option<String>,
    /// Cancelled by `close`: change feeds hang up their connections too.
    closing: tokio_util::sync::CancellationToken,
    /// Whether this process has cleared the rows of processes long gone (once, at its
    /// first heartbeat).
    instances_swept: std::sync::atomic::AtomicBool,
}

/// SQLite: copies the WAL into the database file from a reader's connection (`PRAGMA
/// wal_checkpoint(PASSIVE)`, which never waits for the writer), at most ten times a second.
/// By default the connection whose commit takes the WAL past 1,000 pages does that copy
/// (and its fsync) inside its commit, with every queued write waiting behind it; the writer
/// now does so only if the WAL grows past 10,000 pages. It sleeps until a writer takes a
/// turn (an idle server wakes it never), then lets 100 ms of writes gather before each
/// checkpoint; it stops with the store.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    fn spawn(pool: AnyPool, turns: Arc<Notify>) -> Self {
        Self(tokio::spawn(async move {
            loop {
                // A turn taken while this one ran left its permit: none is missed.
                turns.notified().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                if pool.is_closed() {
                    break;
                }
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "SQLite checkpoint failed");
                    // Tried again at the next turn.
                }
            }
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Options for opening a store.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl SqlStore {
    /// Opens `sqlite://path` (created when missing) or `postgres://…`.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(backend(format!(
                "unsupported database URL scheme in `{}`",
                redact_url(url)
            )));
        };
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let connect = AnyConnectOptions::from_str(&url).map_err(backend)?;
        // No ping before handing out a connection: it was a round trip per query. A
        // connection that broke fails its query and is dropped by the pool.
        let options = |max: u32, autocheckpoint: u32| {
            let pool = AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(opts.acquire_timeout)
                .test_before_acquire(false);
            if dialect != Dialect::Sqlite {
                return pool;
            }
            // `temp_store = MEMORY`: statement journals (every savepoint of the group
            // commit, every statement that may fail halfway in a transaction) are kept in
            // memory. In a temporary file, each page a savepoint touched was written there
            // first, and the file was created and deleted per group. They only serve a
            // rollback inside the transaction: crash recovery never reads them.
            pool.after_connect(move |conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute(
                        format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA temp_store = MEMORY; \
                             PRAGMA wal_autocheckpoint = {autocheckpoint};"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
        };
        // PostgreSQL: a quarter of the connections for transactions, the rest for
        // statements committed on their own (the hot paths).
        let for_transactions = match dialect {
            Dialect::Sqlite => opts.max_connections,
            Dialect::Postgres => (opts.max_connections / 4).max(1),
        };
        let pool = options(for_transactions, 1000)
            .connect_with(connect.clone())
            .await
            .map_err(backend)?;
        let statements = match dialect {
            Dialect::Sqlite => None,
            Dialect::Postgres => {
                let max = opts.max_connections.saturating_sub(for_transactions).max(1);
                let max = usize::try_from(max).map_err(backend)?;
                Some(
                    statements::Statements::new(connect.clone(), max, opts.acquire_timeout)
                        .map_err(backend)?,
                )
            }
        };
        let writer = match dialect {
            // The writer checkpoints only if the WAL has grown past 40 MB: `checkpointer`
            // does it off the writer's path.
            Dialect::Sqlite => Some(
                options(1, 10_000)
                    .connect_with(connect)
                    .await
                    .map_err(backend)?,
            ),
            Dialect::Postgres => None,
        };
        let write_lock = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
        let turns = Arc::new(Notify::new());
        let group = match (&writer, &write_lock) {
            (Some(w), Some(lock)) => Some(writer::GroupWriter::spawn(
                w.clone(),
                lock.clone(),
                turns.clone(),
            )),
            _ => None,
        };
        if let Some(room) = dialect.connection_room() {
            warn_if_unfillable(&pool, room, opts.max_connections).await;
        }
        let checkpointer =
            (dialect == Dialect::Sqlite).then(|| Checkpointer::spawn(pool.clone(), turns.clone()));
        Ok(Self {
            pool,
            statements,
            _checkpointer: checkpointer,
            writer,
            dialect,
            write_lock,
            turns,
            group,
            instance: format!("ins_{}", paylink_domain::id::random_base62()),
            listen_url: (dialect == Dialect::Postgres).then(|| url.clone()),
            closing: Default::default(),
            instances_swept: Default::default(),
        })
    }

    /// Applies the backend's migrations that have not run yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(backend)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.closing.cancel();
        if let Some(w) = &self.writer {
            w.close().await;
        }
        if let Some(s) = &self.statements {
            s.close();
        }
        self.pool.close().await;
    }

    /// Where writes go: the writer connection on SQLite, the pool on PostgreSQL.
    fn write_pool(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    /// Starts a write transaction (on SQLite: holds the writer lock, `BEGIN IMMEDIATE`).
    async fn begin_write(&self) -> StoreResult<WriteTx<'_>> {
        let guard = self.lock_writer().await;
        let tx = match self.dialect {
            Dialect::Sqlite => self.write_pool().begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
        .map_err(backend)?;
        Ok(WriteTx { tx, _guard: guard })
    }
}

impl SqlStore {
    /// SQLite: waits for the writer's turn. `None` on PostgreSQL.
    async fn lock_writer(&self) -> Option<MutexGuard<'_, ()>> {
        let turn = self.write_lock.as_ref()?.lock().await;
        self.turns.notify_one();
        Some(turn)
    }

    /// SQLite: the batch as one atomic write, committed together with the other writes
    /// waiting ([`writer::GroupWriter`]). The rows every statement returned, in order. The
    /// driver stops at the first failing statement, and then nothing of the batch stays.
    async fn sqlite_atomic(&self, b: sql::Batch) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        match (&self.group, b.chained()) {
            (Some(group), Some(q)) => group.write(q).await,
            (None, _) => Err(sqlx::Error::Protocol("no SQLite writer".into())),
            (_, None) => Ok(Vec::new()),
        }
    }

    /// One statement on its own: on PostgreSQL committed by itself (a third of the round
    /// trips of `BEGIN`, statement, `COMMIT`), on SQLite in the next group commit.
    async fn write_one(&self, q: &sql::Sql) -> StoreResult<u64> {
        if let Some(group) = &self.group {
            let mut q = q.clone();
            q.push("; SELECT changes() AS changed");
            let rows = group.write(q).await.map_err(on_constraint)?;
            let changed = rows.last().map(|r| sql::int(r, "changed")).transpose()?;
            return Ok(changed.and_then(|n| u64::try_from(n).ok()).unwrap_or(0));
        }
        self.changed(q).await.map_err(on_constraint)
    }

    /// [`SqlStore::write_one`] for a statement with `RETURNING`.
    async fn write_one_row(&self, q: &sql::Sql) -> StoreResult<Option<sqlx::any::AnyRow>> {
        if let Some(group) = &self.group {
            let mut rows = group.write(q.clone()).await.map_err(on_constraint)?;
            return Ok((!rows.is_empty()).then(|| rows.swap_remove(0)));
        }
        self.row(q).await.map_err(on_constraint)
    }
}

impl SqlStore {
    /// The rows of one statement committed on its own: on PostgreSQL on a connection of
    /// [`statements::Statements`], on SQLite (where it reads: writes go to the group
    /// commit) through the pool.
    pub(crate) async fn rows(&self, q: &sql::Sql) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        match &self.statements {
            Some(s) => Ok(s.run(q).await?.rows),
            None => q.query().fetch_all(&self.pool).await,
        }
    }

    /// [`SqlStore::rows`] for a statement of at most one row.
    pub(crate) async fn row(&self, q: &sql::Sql) -> Result<Option<sqlx::any::AnyRow>, sqlx::Error> {
        match &self.statements {
            Some(s) => Ok(s.run(q).await?.rows.into_iter().next()),
            None => q.query().fetch_optional(&self.pool).await,
        }
    }

    /// [`SqlStore::row`] for a statement that always returns one.
    pub(crate) async fn one(&self, q: &sql::Sql) -> Result<sqlx::any::AnyRow, sqlx::Error> {
        self.row(q).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// [`SqlStore::rows`] for a statement that returns none: how many rows it changed.
    async fn changed(&self, q: &sql::Sql) -> Result<u64, sqlx::Error> {
        match &self.statements {
            Some(s) => Ok(s.run(q).await?.changed),
            None => Ok(q.query().execute(&self.pool).await?.rows_affected()),
        }
    }
}

impl SqlStore {
    /// A batch as a transaction of its own, in one round trip: on PostgreSQL one statement
    /// (no `BEGIN`/`COMMIT`), on SQLite `BEGIN IMMEDIATE`, the statements, `COMMIT` in one
    /// call ([`SqlStore::sqlite_atomic`]).
    async fn write_batch(&self, b: sql::Batch) -> StoreResult<()> {
        match self.dialect {
            Dialect::Postgres => {
                if let Some(q) = b.joined() {
                    self.changed(&q).await.map_err(on_constraint)?;
                }
                Ok(())
            }
            Dialect::Sqlite => {
                self.sqlite_atomic(b).await.map_err(on_constraint)?;
                Ok(())
            }
        }
    }
}

impl SqlStore {
    /// A guarded write ([`dialect::Guarded`]) in one round trip: its answer's row, or the
    /// error that refused it ([`sql::refused`]: a guard found nothing, nothing stayed). On
    /// PostgreSQL one statement committed on its own, on SQLite one write of the group
    /// commit.
    async fn write_guarded(
        &self,
        g: dialect::Guarded,
        answer: Option<sql::Sql>,
    ) -> Result<Option<sqlx::any::AnyRow>, sqlx::Error> {
        let Some(q) = g.finish(answer) else {
            return Ok(None);
        };
        match self.group.as_ref() {
            Some(group) => Ok(group.write(q).await?.pop()),
            None => self.row(&q).await,
        }
    }
}

/// A write transaction; dropping it without `commit` rolls back.
struct WriteTx<'a> {
    tx: Transaction<'static, Any>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await.map_err(backend)
    }
}

/// Wraps an unexpected database error.
pub(crate) fn backend(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Backend(e.into())
}

/// Maps a failed write to a client-safe conflict when a named constraint refused it.
/// This is the one place where constraint names become API errors.
pub(crate) fn on_constraint(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error() {
        if db.is_unique_violation() {
            let what = format!("{} {}", db.constraint().unwrap_or(""), db.message());
            if what.contains("slug") {
                return StoreError::Conflict(Conflict::SlugTaken);
            }
            if what.contains("idempotency") {
                return StoreError::Conflict(Conflict::IdempotencyKeyInUse);
            }
            return StoreError::Conflict(Conflict::DuplicateObject);
        }
        if db.is_check_violation() && db.message().contains("inventory") {
            return StoreError::Conflict(Conflict::OutOfStock);
        }
    }
    backend(e)
}

fn redact_url(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_user, host)) => {
            let scheme = scheme_user.split("://").next().unwrap_or("db");
            format!("{scheme}://***@{host}")
        }
        None => url.to_owned(),
    }
}

/// Warns when the database would not accept this process's whole pool (plus its change
/// feed's connection) beside the connections already open: requests would then wait for
/// connections that never come. (Not an error: the pool fills lazily, and other processes
/// may close theirs.)
async fn warn_if_unfillable(pool: &AnyPool, room: &str, wanted: u32) {
    use sqlx::Row;
    let room: i64 = match sqlx::query(room).fetch_one(pool).await {
        Ok(row) => row.try_get(0).unwrap_or(i64::MAX),
        Err(e) => {
            tracing::warn!(error = %e, "could not ask PostgreSQL how many connections it takes");
            return;
        }
    };
    // The connection that asked is one of the pool's own; the change feed needs one more.
    let available = room.saturating_add(1);
    if available < i64::from(wanted) + 1 {
        tracing::warn!(
            db_max_connections = wanted,
            available,
            "the connection pool cannot be filled: PostgreSQL takes {available} more \
             connections beside those open; lower db_max_connections or raise PostgreSQL's \
             max_connections"
        );
    }
}
