#![allow(clippy::panic)]
//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database created on
//! the server named by `PAYLINK_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped when the handle is dropped.
//!
//! PostgreSQL tests skip with a message when no server answers, except under `CI=true`,
//! where a missing PostgreSQL is a failure.

use std::path::PathBuf;

use sqlx::any::AnyPoolOptions;
use sqlx::Executor;

use paylink_domain::id::random_base62;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

fn admin_url() -> String {
    std::env::var("PAYLINK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDatabase {
    /// A fresh database, or `None` when PostgreSQL is unavailable outside CI.
    pub async fn create(backend: Backend) -> Option<Self> {
        let name = format!("paylink_t_{}", random_base62().to_lowercase());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                Some(Self {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                sqlx::any::install_default_drivers();
                let admin = admin_url();
                let pool = match AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin)
                    .await
                {
                    Ok(p) => p,
                    Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                        eprintln!("skipping: PostgreSQL unavailable at {admin}: {e}");
                        return None;
                    }
                    Err(e) => {
                        panic!("PostgreSQL is required under CI=true but {admin} failed: {e}")
                    }
                };
                pool.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                pool.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_owned();
                Some(Self {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres {
                        admin_url: admin,
                        name,
                    },
                })
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin, name) = (admin_url.clone(), name.clone());
                // Drop runs outside async: use a short-lived runtime on its own thread.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(pool) = AnyPoolOptions::new()
                            .max_connections(1)
                            .connect(&admin)
                            .await
                        {
                            let _ = pool
                                .execute(
                                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                                )
                                .await;
                            pool.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
