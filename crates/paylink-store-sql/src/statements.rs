//! PostgreSQL: the connections that run one statement at a time, committed on its own.
//!
//! sqlx's pool sends `Sync` and waits for PostgreSQL's `ReadyForQuery` every time a
//! connection goes back to it, so that a rollback left by a dropped transaction is flushed
//! at once. For a statement committed on its own that is a second round trip, with a
//! wake-up of both processes, for nothing: under load it was half of all the messages the
//! server sent to PostgreSQL. These connections come from a pool that hands them back as
//! they are (deadpool). A connection whose statement did not run to its end (its caller
//! stopped waiting) is pinged before it is used again; one that failed other than with a
//! database error (a broken socket) is closed, and the pool opens another when needed.
//!
//! Transactions keep sqlx's pool: there the ping on release is what ends a transaction
//! that was dropped half-way before its locks can hold anyone up.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleResult};
use deadpool::Runtime;
use futures_util::TryStreamExt;
use sqlx::any::{AnyConnectOptions, AnyRow};
use sqlx::{AnyConnection, Connection, Either, Executor};

use crate::sql::Sql;

/// What one statement gave back: its rows and how many rows it changed.
#[derive(Default)]
pub(crate) struct Ran {
    pub rows: Vec<AnyRow>,
    pub changed: u64,
}

pub(crate) struct Statements(managed::Pool<Manager>);

pub(crate) struct Manager(AnyConnectOptions);

pub(crate) struct Conn {
    conn: AnyConnection,
    /// The last statement ran to its end: nothing of it is left on the wire.
    settled: bool,
}

/// The connection itself failed (its socket, or PostgreSQL ended it: SQLSTATE classes 08
/// and 57P), rather than the statement: it is not handed out again.
fn broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => true,
    }
}

impl managed::Manager for Manager {
    type Type = Conn;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<Conn, sqlx::Error> {
        Ok(Conn {
            conn: AnyConnection::connect_with(&self.0).await?,
            settled: true,
        })
    }

    async fn recycle(&self, c: &mut Conn, _: &Metrics) -> RecycleResult<sqlx::Error> {
        if !c.settled {
            c.conn.ping().await?;
            c.settled = true;
        }
        Ok(())
    }
}

impl Statements {
    pub fn new(options: AnyConnectOptions, max: usize, wait: Duration) -> Result<Self, String> {
        managed::Pool::builder(Manager(options))
            .max_size(max)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait))
            .runtime(Runtime::Tokio1)
            .build()
            .map(Self)
            .map_err(|e| e.to_string())
    }

    pub fn close(&self) {
        self.0.close();
    }

    /// Runs `q` on a connection of its own, committed by itself.
    pub async fn run(&self, q: &Sql) -> Result<Ran, sqlx::Error> {
        let mut c = self.0.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e,
            managed::PoolError::Timeout(_) => sqlx::Error::PoolTimedOut,
            managed::PoolError::Closed => sqlx::Error::PoolClosed,
            e => sqlx::Error::Protocol(e.to_string()),
        })?;
        c.settled = false;
        let mut ran = Ran::default();
        let result = {
            let mut stream = c.conn.fetch_many(q.query());
            loop {
                match stream.try_next().await {
                    Ok(Some(Either::Left(done))) => ran.changed += done.rows_affected(),
                    Ok(Some(Either::Right(row))) => ran.rows.push(row),
                    Ok(None) => break Ok(ran),
                    Err(e) => break Err(e),
                }
            }
        };
        match &result {
            Err(e) if broken(e) => drop(Object::take(c)),
            _ => c.settled = true,
        }
        result
    }
}
