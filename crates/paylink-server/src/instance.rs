//! What a process checks before it serves or works, so that several of them on one
//! database behave as one deployment: every process writes the same public URL into what
//! merchants receive, and only one server ever opens a SQLite file.

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Config;

/// A worker writes link URLs into events and e-mails, so it must know the one customers
/// use: `public_url` is required. A server bound beyond loopback is reached by others, who
/// need it too; one on loopback defaults to `http://{bind}` (a laptop, a test).
pub fn check_public_url(config: &Config, serving_on: Option<SocketAddr>) -> anyhow::Result<()> {
    if config.public_url.is_some() {
        return Ok(());
    }
    match serving_on {
        None => anyhow::bail!(
            "paylink worker writes link URLs into events and e-mails: set public_url \
             (PAYLINK_PUBLIC_URL) to the address customers use, the same on every process"
        ),
        Some(addr) if !addr.ip().is_loopback() => anyhow::bail!(
            "serving on {addr}, beyond loopback, needs public_url (PAYLINK_PUBLIC_URL): the \
             address customers use, the same on every process"
        ),
        Some(_) => Ok(()),
    }
}

/// The SQLite file a database URL names, if it names one (not `:memory:`).
fn sqlite_file(config: &Config) -> Option<PathBuf> {
    let url = config.database_url();
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// On SQLite, an exclusive lock beside the database file, held for the life of `paylink
/// serve`: a second server on the same file is refused. (`paylink worker` and the admin
/// commands may still open it: SQLite serialises them, and workers claim their jobs.)
pub fn lock_sqlite(config: &Config) -> anyhow::Result<Option<File>> {
    let Some(db) = sqlite_file(config) else {
        return Ok(None);
    };
    let mut name = db.clone().into_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another paylink server is using {}: one server per SQLite database. To run \
             several instances, use PostgreSQL (--database-url postgres://…)",
            db.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let with = |url: &str| {
            let mut c = Config::for_database(url);
            c.public_url = None;
            sqlite_file(&c)
        };
        assert_eq!(with("sqlite://data/p.db"), Some(PathBuf::from("data/p.db")));
        assert_eq!(
            with("sqlite:///tmp/p.db?mode=rwc"),
            Some(PathBuf::from("/tmp/p.db"))
        );
        assert_eq!(with("sqlite::memory:"), None);
        assert_eq!(with("postgres://localhost/p"), None);
    }

    #[test]
    fn workers_and_public_servers_need_the_public_url() {
        let mut c = Config::for_database("sqlite://x.db");
        c.public_url = None;
        assert!(check_public_url(&c, None).is_err());
        assert!(check_public_url(&c, Some(([0, 0, 0, 0], 8080).into())).is_err());
        assert!(check_public_url(&c, Some(([127, 0, 0, 1], 8080).into())).is_ok());
        c.public_url = Some("https://pay.example.com".into());
        assert!(check_public_url(&c, None).is_ok());
    }
}
