//! SQLite's group commit: the writes that are known whole in advance (a link created, a
//! checkout started, an attempt claimed, a plain payment recorded) are queued to one task
//! that commits them together.
//!
//! SQLite takes one writer at a time. Written one transaction per request, every write
//! paid for its own `COMMIT` (the WAL frames of every page it touched, though the next
//! write touches the same index and table pages) and for handing the writer's turn to the
//! next request's task, which first has to be scheduled: under load the writer sat idle
//! between writes. Here the task takes every job waiting (up to [`MAX_GROUP`]), runs
//! `BEGIN IMMEDIATE`, the jobs inside savepoints (several of the same kind in one call to
//! the driver, see [`commit_group`]), and one `COMMIT`, and only then answers them all. A
//! job that fails is rolled back alone; the others still commit. Nobody is answered before the `COMMIT` that makes their write durable, so
//! a caller sees exactly what it would have seen with a transaction of its own.
//!
//! The writes that need Rust between their statements keep their own transaction
//! (`SqlStore::begin_write`); they and the group take turns on the same lock.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Column, Executor, Row};
use tokio::sync::{mpsc, oneshot, Mutex, Notify};

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
    /// other writers on `lock` (and telling `turns` of each).
    pub fn spawn(pool: AnyPool, lock: Arc<Mutex<()>>, turns: Arc<Notify>) -> Self {
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
                turns.notify_one();
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

/// One transaction for all of `jobs`; answers and empties `jobs`.
///
/// Each call to the driver is a hand-over to its worker thread and back, and under load
/// those hand-overs, not SQLite, were what the writer waited on. So jobs with the same
/// statements (the same text: every checkout started on a plain link, say) run together,
/// several in one call, as `SAVEPOINT; a; marker; b; marker; …; RELEASE`: the markers
/// (`paylink_job_end`) tell their rows apart. Runs are cut into chunks of 16, 8, 4, 2 or 1
/// jobs, so that the texts repeat and stay prepared in the driver's statement cache. If
/// a chunk fails, it is rolled back to its savepoint and its jobs run again one by one,
/// so that only the failing job fails.
async fn commit_group(pool: &AnyPool, jobs: &mut Vec<Job>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return fail_all(jobs, &e),
    };
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        return fail_all(jobs, &e);
    }
    // Any order within a group is an order the jobs could have arrived in: each caller
    // waits for its answer before it sends another job.
    jobs.sort_by(|a, b| a.q.text.cmp(&b.q.text));
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let mut rest: &[Job] = jobs;
    while !rest.is_empty() {
        let (chunk, tail) = rest
            .split_at_checked(chunk_len(rest))
            .unwrap_or((rest, &[]));
        rest = tail;
        match run_chunk(&mut conn, chunk).await {
            Ok(rows) => answers.extend(rows.into_iter().map(Ok)),
            Err(e) => {
                if let Err(e) = undo_chunk(&mut conn).await {
                    return fail_all(jobs, &e);
                }
                if chunk.len() == 1 {
                    answers.push(Err(e));
                    continue;
                }
                for job in chunk {
                    match run_chunk(&mut conn, std::slice::from_ref(job)).await {
                        Ok(mut rows) => answers.push(Ok(rows.pop().unwrap_or_default())),
                        Err(e) => {
                            if let Err(e) = undo_chunk(&mut conn).await {
                                return fail_all(jobs, &e);
                            }
                            answers.push(Err(e));
                        }
                    }
                }
            }
        }
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

/// How many of `jobs` (sorted by text) go in the next chunk: of the run of jobs with the
/// first one's text, 16, 8, 4, 2 or 1.
fn chunk_len(jobs: &[Job]) -> usize {
    let Some(first) = jobs.first() else {
        return 0;
    };
    let same = jobs.iter().take_while(|j| j.q.text == first.q.text).count();
    [16, 8, 4, 2, 1]
        .into_iter()
        .find(|&n| n <= same)
        .unwrap_or(1)
}

/// `chunk`'s jobs in one call, inside the savepoint `paylink_jobs`; each job's rows.
async fn run_chunk(
    conn: &mut sqlx::AnyConnection,
    chunk: &[Job],
) -> Result<Vec<Vec<AnyRow>>, sqlx::Error> {
    let mut q = Sql::new("SAVEPOINT paylink_jobs");
    for job in chunk {
        q.push("; ");
        q.append_sql(job.q.clone());
        q.push("; SELECT 1 AS paylink_job_end");
    }
    q.push("; RELEASE paylink_jobs");
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(chunk.len());
    let mut current = Vec::new();
    for row in rows {
        if row.columns().iter().any(|c| c.name() == "paylink_job_end") {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(row);
        }
    }
    if out.len() != chunk.len() {
        return Err(sqlx::Error::Protocol(format!(
            "{} answers for {} jobs",
            out.len(),
            chunk.len()
        )));
    }
    Ok(out)
}

/// After a failed chunk: undoes what ran of it. The driver stopped at the failing statement.
async fn undo_chunk(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    let undone = conn
        .execute(sqlx::raw_sql(
            "ROLLBACK TO paylink_jobs; RELEASE paylink_jobs",
        ))
        .await;
    if undone.is_err() {
        let _ = conn.execute("ROLLBACK").await;
    }
    undone.map(|_| ())
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
