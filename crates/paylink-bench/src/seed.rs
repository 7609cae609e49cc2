//! Seeding many links fast, straight into the database, and the benchmark's databases.

use serde_json::Value;
use sqlx::any::AnyPoolOptions;

/// A fresh PostgreSQL database on `admin`'s server; returns its URL.
pub async fn create_pg_database(admin: &str) -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let name = format!(
        "paylink_bench_{}",
        paylink_domain::id::random_base62().to_lowercase()
    );
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

pub async fn drop_pg_database(admin: &str, url: &str) {
    let Some(name) = url.rsplit('/').next() else {
        return;
    };
    if let Ok(pool) = AnyPoolOptions::new()
        .max_connections(1)
        .connect(admin)
        .await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

/// Adds `n` links to the merchant owning `key`, in batches of multi-row INSERTs; returns
/// their slugs.
pub async fn links(db: &str, key: &str, n: usize) -> anyhow::Result<Vec<String>> {
    links_of(db, key, n, false).await
}

/// Like [`links`], with every tenth link expiring in 30 days and every tenth (another)
/// limited to 100 payments: what the dashboard's "needs attention" reads its indexes for.
pub async fn varied_links(db: &str, key: &str, n: usize) -> anyhow::Result<Vec<String>> {
    links_of(db, key, n, true).await
}

async fn links_of(db: &str, key: &str, n: usize, varied: bool) -> anyhow::Result<Vec<String>> {
    sqlx::any::install_default_drivers();
    let url = if db.starts_with("sqlite:") && !db.contains("mode=") {
        format!("{db}?mode=rwc")
    } else {
        db.to_owned()
    };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let hash = hex_sha256(key);
    let (merchant,): (String,) =
        sqlx::query_as("SELECT merchant_id FROM api_keys WHERE key_hash = $1")
            .bind(hash)
            .fetch_one(&pool)
            .await?;
    let t = paylink_store::Tenant::stored(
        paylink_domain::id::MerchantId::from_trusted(merchant.clone()),
        false,
    );
    let template: Value = serde_json::to_value(paylink_store::conformance::link(
        &t,
        "Seeded link",
        "seed-template",
    ))?;
    let started = std::time::Instant::now();
    let mut done = 0;
    let mut slugs = Vec::with_capacity(n);
    let mut tx = pool.begin().await?;
    while done < n {
        let batch = (n - done).min(500);
        let mut sql = String::from(
            "INSERT INTO payment_links (id, merchant_id, livemode, created_at, slug, status, type, title_lower, expires_at, payments_limit, data) VALUES ",
        );
        for i in 0..batch {
            let id = paylink_domain::id::PaymentLinkId::generate();
            let slug = format!(
                "seed-{}",
                paylink_domain::id::random_base62().to_lowercase()
            );
            let mut doc = template.clone();
            doc["id"] = Value::String(id.to_string());
            doc["slug"] = Value::String(slug.clone());
            let nth = done + i;
            let (mut expires, mut limit) = ("NULL".to_owned(), "NULL".to_owned());
            if varied && nth % 10 == 3 {
                let at = paylink_domain::time::Timestamp::from_unix(
                    paylink_domain::time::Timestamp::now().unix() + 30 * 86_400,
                );
                doc["expires_at"] = serde_json::to_value(at)?;
                expires = at.unix().to_string();
            }
            if varied && nth % 10 == 7 {
                doc["payments_limit"] = Value::from(100);
                limit = "100".to_owned();
            }
            let data = doc.to_string().replace('\'', "''");
            slugs.push(slug.clone());
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{id}', '{merchant}', 0, {}, '{slug}', 'active', 'custom', 'seeded link', {expires}, {limit}, '{data}')",
                paylink_domain::time::Timestamp::now().unix() - 86_400
            ));
        }
        sqlx::query(&sql).execute(&mut *tx).await?;
        done += batch;
        if done % 100_000 == 0 {
            tx.commit().await?;
            tx = pool.begin().await?;
        }
    }
    tx.commit().await?;
    // After a bulk load the planner has no statistics yet (autovacuum would gather them
    // within a minute); without them PostgreSQL scans and sorts every link of the merchant.
    sqlx::query("ANALYZE payment_links").execute(&pool).await?;
    eprintln!(
        "  seeded {n} links in {:.1} s (then ANALYZE)",
        started.elapsed().as_secs_f64()
    );

    pool.close().await;
    Ok(slugs)
}

fn hex_sha256(s: &str) -> String {
    use std::fmt::Write;
    let digest = sha256(s.as_bytes());
    digest.iter().fold(String::new(), |mut acc, b| {
        let _ = write!(acc, "{b:02x}");
        acc
    })
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
