//! Rows of `merchants` and `api_keys`.

use crate::catalog::*;
use crate::sql::*;
use crate::SqlStore;
use async_trait::async_trait;
use paylink_domain::settings::MerchantSettings;
use paylink_store::*;

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::id::{ApiKeyId, MerchantId};
use paylink_domain::time::Timestamp;
use paylink_store::{ApiKeyRecord, KeyKind, Merchant, StoreResult};

use crate::backend;
use crate::sql::{int, json_col, opt_int};

pub(crate) const MERCHANT_COLS: &str =
    "id, name, email, password_hash, settings, version, created_at";
pub(crate) const KEY_COLS: &str =
    "id, merchant_id, livemode, kind, name, scopes, key_hash, masked, created_at, revoked_at";

pub(crate) fn merchant(row: &AnyRow) -> StoreResult<Merchant> {
    Ok(Merchant {
        id: MerchantId::from_trusted(row.try_get("id").map_err(backend)?),
        name: row.try_get("name").map_err(backend)?,
        email: row.try_get("email").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        settings: json_col(row, "settings")?,
        version: int(row, "version")?,
        created_at: Timestamp::from_unix(int(row, "created_at")?),
    })
}

pub(crate) fn api_key(row: &AnyRow) -> StoreResult<ApiKeyRecord> {
    let kind: String = row.try_get("kind").map_err(backend)?;
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.try_get("id").map_err(backend)?),
        merchant_id: MerchantId::from_trusted(row.try_get("merchant_id").map_err(backend)?),
        livemode: int(row, "livemode")? != 0,
        kind: if kind == "restricted" {
            KeyKind::Restricted
        } else {
            KeyKind::Secret
        },
        name: row.try_get("name").map_err(backend)?,
        scopes: json_col(row, "scopes")?,
        key_hash: row.try_get("key_hash").map_err(backend)?,
        masked: row.try_get("masked").map_err(backend)?,
        created_at: Timestamp::from_unix(int(row, "created_at")?),
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp::from_unix),
    })
}

async fn insert_key(conn: &mut sqlx::AnyConnection, k: &ApiKeyRecord) -> StoreResult<()> {
    let q = Sql::insert(
        "api_keys",
        vec![
            ("id", k.id.as_str().into()),
            ("merchant_id", k.merchant_id.as_str().into()),
            ("livemode", k.livemode.into()),
            ("kind", k.kind.as_str().into()),
            ("name", k.name.as_str().into()),
            ("scopes", json(&k.scopes)?.into()),
            ("key_hash", k.key_hash.as_str().into()),
            ("masked", k.masked.as_str().into()),
            ("created_at", k.created_at.unix().into()),
            ("revoked_at", k.revoked_at.map(|t| t.unix()).into()),
        ],
    );
    q.exec(conn).await?;
    Ok(())
}

#[async_trait]
impl MerchantStore for SqlStore {
    async fn create_merchant(&self, m: &Merchant, keys: &[ApiKeyRecord]) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let q = Sql::insert(
            "merchants",
            vec![
                ("id", m.id.as_str().into()),
                ("name", m.name.as_str().into()),
                ("email", m.email.as_str().into()),
                ("password_hash", m.password_hash.clone().into()),
                ("settings", json(&m.settings)?.into()),
                ("version", m.version.into()),
                ("created_at", m.created_at.unix().into()),
            ],
        );
        q.exec(&mut w.tx).await?;
        if let Some(q) = self.dialect.create_receipts(m.id.as_str()) {
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        for k in keys {
            insert_key(&mut w.tx, k).await?;
        }
        w.commit().await
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Merchant> {
        let mut q = Sql::new(&format!(
            "SELECT {MERCHANT_COLS} FROM merchants WHERE id = "
        ));
        q.bind(id.as_str());
        let row = self.row(&q).await.map_err(backend)?;
        merchant(&row.ok_or(StoreError::NotFound)?)
    }

    async fn count_merchants(&self) -> StoreResult<i64> {
        let row = self
            .one(&Sql::new("SELECT COUNT(*) AS n FROM merchants"))
            .await
            .map_err(backend)?;
        int(&row, "n")
    }

    async fn update_settings(
        &self,
        id: &MerchantId,
        settings: &MerchantSettings,
        version: i64,
    ) -> StoreResult<Merchant> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE merchants SET settings = ");
        q.bind(json(settings)?)
            .push(", version = version + 1 WHERE id = ")
            .bind(id.as_str());
        q.push(" AND version = ").bind(version);
        let done = q.query().execute(&mut *w.tx).await.map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::ConcurrentUpdate));
        }
        w.commit().await?;
        self.get_merchant(id).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        insert_key(&mut w.tx, key).await?;
        w.commit().await
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let mut q = Sql::new(&format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE key_hash = "
        ));
        q.bind(key_hash).push(" AND revoked_at IS NULL");
        let row = self.row(&q).await.map_err(backend)?;
        row.as_ref().map(api_key).transpose()
    }

    async fn list_api_keys(&self, t: &Tenant, page: &Page) -> StoreResult<Listed<ApiKeyRecord>> {
        map_listed(
            self.list_rows("api_keys", KEY_COLS, t, Sql::default(), page, "")
                .await?,
            api_key,
        )
    }

    async fn revoke_api_key(
        &self,
        t: &Tenant,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> StoreResult<ApiKeyRecord> {
        let mut w = self.begin_write().await?;
        // Revocations of one merchant's keys take turns, so two racing to revoke the last
        // two secret keys cannot both see the other's.
        if let Some(q) = self.dialect.lock_row("merchants", t.merchant_id().as_str()) {
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        let mut q = Sql::new(&format!("SELECT {KEY_COLS} FROM api_keys WHERE id = "));
        q.bind(id.as_str())
            .push(" AND ")
            .tenant(t)
            .push(" AND revoked_at IS NULL");
        let row = q
            .query()
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(backend)?;
        let key = api_key(&row.ok_or(StoreError::NotFound)?)?;
        if key.kind == KeyKind::Secret {
            let mut q = Sql::new("SELECT COUNT(*) AS n FROM api_keys WHERE ");
            q.tenant(t)
                .push(" AND kind = 'secret' AND revoked_at IS NULL AND id <> ")
                .bind(id.as_str());
            let row = q.query().fetch_one(&mut *w.tx).await.map_err(backend)?;
            if int(&row, "n")? == 0 {
                return Err(StoreError::Conflict(Conflict::LastSecretKey));
            }
        }
        let mut q = Sql::new("UPDATE api_keys SET revoked_at = ");
        q.bind(now.unix()).push(" WHERE id = ").bind(id.as_str());
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        w.commit().await?;
        Ok(ApiKeyRecord {
            revoked_at: Some(now),
            ..key
        })
    }
}
