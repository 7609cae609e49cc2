//! Document tables (products, customers, tax rates, orders): base columns, the object's
//! JSON, and a few columns that queries filter on.

use sqlx::AnyConnection;

use paylink_domain::time::Timestamp;
use paylink_store::{StoreError, StoreResult, Tenant};

use crate::sql::{Arg, Sql};
use crate::{backend, on_constraint};

/// Inserts a document row.
pub(crate) async fn insert_doc(
    conn: &mut AnyConnection,
    table: &str,
    t: &Tenant,
    id: &str,
    created_at: Timestamp,
    data: String,
    cols: Vec<(&'static str, Arg)>,
) -> StoreResult<()> {
    doc_insert(table, t, id, created_at, data, cols)
        .exec(conn)
        .await?;
    Ok(())
}

/// The `INSERT` of a document row: its id, tenant, creation time, JSON and columns.
pub(crate) fn doc_insert(
    table: &str,
    t: &Tenant,
    id: &str,
    created_at: Timestamp,
    data: String,
    cols: Vec<(&'static str, Arg)>,
) -> Sql {
    let mut all = vec![
        ("id", Arg::from(id)),
        ("merchant_id", t.merchant_id.as_str().into()),
        ("livemode", t.livemode.into()),
        ("created_at", created_at.unix().into()),
        ("data", data.into()),
    ];
    all.extend(cols);
    Sql::insert(table, all)
}

/// Replaces a document row's JSON and columns; `guard` is extra SQL (` AND status = $1`)
/// with its arguments. Not found when no row matched.
pub(crate) async fn update_doc(
    conn: &mut AnyConnection,
    table: &str,
    t: &Tenant,
    id: &str,
    data: String,
    cols: Vec<(&'static str, Arg)>,
    guard: Option<(&str, Vec<Arg>)>,
) -> StoreResult<()> {
    let mut q = Sql::new(&format!("UPDATE {table} SET data = "));
    q.bind(data);
    for (n, v) in cols {
        q.push(&format!(", {n} = ")).bind(v);
    }
    q.push(" WHERE id = ").bind(id).push(" AND ").owned_by(t);
    if let Some((text, args)) = guard {
        q.append(text, args);
    }
    let done = q.query().execute(conn).await.map_err(on_constraint)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(backend)
}

impl crate::SqlStore {
    /// [`insert_doc`] in a write transaction of its own, for objects that cause no event.
    pub(crate) async fn insert_doc_alone(
        &self,
        table: &str,
        t: &Tenant,
        id: &str,
        created_at: Timestamp,
        data: String,
        cols: Vec<(&'static str, Arg)>,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        insert_doc(&mut w.tx, table, t, id, created_at, data, cols).await?;
        w.commit().await
    }

    /// [`update_doc`] in a write transaction of its own, for objects that cause no event.
    pub(crate) async fn update_doc_alone(
        &self,
        table: &str,
        t: &Tenant,
        id: &str,
        data: String,
        cols: Vec<(&'static str, Arg)>,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        update_doc(&mut w.tx, table, t, id, data, cols, None).await?;
        w.commit().await
    }
}
