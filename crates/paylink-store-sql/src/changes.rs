//! Telling the other processes on one database that a merchant's data changed, so that
//! they drop what they cached: PostgreSQL's LISTEN/NOTIFY on one channel. SQLite is served
//! by one process (the server locks its file), so it has no one to tell.

use async_trait::async_trait;
use sqlx::postgres::PgListener;

use crate::sql::Sql;
use crate::{backend, SqlStore};
use paylink_store::{ChangeFeed, StoreResult};

/// The channel every process listens on.
const CHANNEL: &str = "paylink_changes";

impl SqlStore {
    pub(crate) async fn announce_change_impl(&self) -> StoreResult<()> {
        // The payload names this process, so that it can tell its own from others'.
        let Some(statement) = self.dialect.announce(CHANNEL) else {
            return Ok(());
        };
        let mut q = Sql::new(&statement);
        q.bind(self.instance.as_str()).push(")");
        self.write_one(&q).await.map(drop)
    }

    pub(crate) async fn watch_changes_impl(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await.map_err(backend)?;
        listener.listen(CHANNEL).await.map_err(backend)?;
        Ok(Some(Box::new(Listening {
            listener: Some(listener),
            own: self.instance.clone(),
            closing: self.closing.clone(),
        })))
    }
}

struct Listening {
    /// Dropped (its connection closed) when the store closes.
    listener: Option<PgListener>,
    /// This process's name in announcements.
    own: String,
    closing: tokio_util::sync::CancellationToken,
}

#[async_trait]
impl ChangeFeed for Listening {
    async fn next(&mut self) -> StoreResult<bool> {
        let closed = || backend("the store is closed");
        let listener = self.listener.as_mut().ok_or_else(closed)?;
        let heard = tokio::select! {
            _ = self.closing.cancelled() => None,
            heard = listener.try_recv() => Some(heard),
        };
        let Some(heard) = heard else {
            self.listener = None;
            return Err(closed());
        };
        // `None`: the connection was lost (and is made again on the next call), so
        // announcements may have been missed.
        Ok(match heard.map_err(backend)? {
            Some(n) => n.payload() != self.own,
            None => true,
        })
    }
}
