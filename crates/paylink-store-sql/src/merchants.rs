//! Rows of `merchants` and `api_keys`.

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
