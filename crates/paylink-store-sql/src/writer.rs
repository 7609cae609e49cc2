//! SQLite's group commit: the writes that are known whole in advance (a link created, a
//! checkout started, an attempt claimed, a plain payment recorded) are queued to one task
//! that commits them together.
//!
//! SQLite takes one writer at a time. Written one transaction per request, every write
//! paid for its own `COMMIT` (the WAL frames of every page it touched, though the next
//! write touches the same index and table pages) and for handing the writer's turn to the
//! next request's task, which first has to be scheduled: under load the writer sat idle
//! between writes. Here the task takes every job waiting (up to [`MAX_GROUP`]), runs
//! `BEGIN IMMEDIATE`, each job inside its own savepoint, and one `COMMIT`, and only then
//! answers them all. A job that fails is rolled back to its savepoint alone; the others
//! still commit. Nobody is answered before the `COMMIT` that makes their write durable, so
//! a caller sees exactly what it would have seen with a transaction of its own.
//!
//! The writes that need Rust between their statements keep their own transaction
//! (`SqlStore::begin_write`); they and the group take turns on the same lock.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Executor};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::sql::Sql;

/// The most jobs committed together: enough to take a burst of requests at once, few
/// enough that the first of them does not wait long for the last.
const MAX_GROUP: usize = 64;

type Answer = Result<Vec<AnyRow>, sqlx::Error>;

struct Job {
    /// The job's statements (`a; b; c`), run in order inside its savepoint.
    q: Sql,
    answer: oneshot::Sender<Answer>,
}

/// The queue to the committing task; the task ends when this is dropped.
pub(crate) struct GroupWriter(mpsc::UnboundedSender<Job>);

impl GroupWriter {
    /// Starts the committing task on the writer connection's pool, taking turns with the
    /// other writers on `lock`.
    pub fn spawn(pool: AnyPool, lock: Arc<Mutex<()>>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            let mut jobs = Vec::with_capacity(MAX_GROUP);
            while let Some(first) = rx.recv().await {
                jobs.push(first);
                while jobs.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let _turn = lock.lock().await;
                commit_group(&pool, &mut jobs).await;
            }
        });
        Self(tx)
    }

    /// Runs `q` (statements separated by `;`) as one atomic write and returns the rows
    /// they returned, in order, once it is committed. An error means none of it stayed.
    pub async fn write(&self, q: Sql) -> Answer {
        let (answer, rx) = oneshot::channel();
        self.0
            .send(Job { q, answer })
            .map_err(|_| sqlx::Error::PoolClosed)?;
        rx.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

/// One transaction for all of `jobs`, each in a savepoint; answers and empties `jobs`.
async fn commit_group(pool: &AnyPool, jobs: &mut Vec<Job>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return fail_all(jobs, &e),
    };
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        return fail_all(jobs, &e);
    }
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs.iter() {
        let mut q = Sql::new("SAVEPOINT paylink_job; ");
        q.append_sql(job.q.clone()).push("; RELEASE paylink_job");
        let answer = q.query().fetch_all(&mut *conn).await;
        if answer.is_err() {
            // The driver stopped at the failing statement: undo what ran before it.
            let undone = conn
                .execute(sqlx::raw_sql(
                    "ROLLBACK TO paylink_job; RELEASE paylink_job",
                ))
                .await;
            if let Err(e) = undone {
                let _ = conn.execute("ROLLBACK").await;
                return fail_all(jobs, &e);
            }
        }
        answers.push(answer);
    }
    if let Err(e) = conn.execute("COMMIT").await {
        let _ = conn.execute("ROLLBACK").await;
        return fail_all(jobs, &e);
    }
    for (job, answer) in jobs.drain(..).zip(answers) {
        // A caller that stopped waiting still had its write committed, as with a
        // transaction of its own that reached `COMMIT`.
        let _ = job.answer.send(answer);
    }
}

/// Nothing of the group stayed: every job gets the error.
fn fail_all(jobs: &mut Vec<Job>, e: &sqlx::Error) {
    tracing::error!(error = %e, jobs = jobs.len(), "SQLite group commit failed");
    for job in jobs.drain(..) {
        let _ = job.answer.send(Err(sqlx::Error::Protocol(format!(
            "group commit failed: {e}"
        ))));
    }
}
