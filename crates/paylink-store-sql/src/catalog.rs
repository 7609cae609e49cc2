//! Document tables (products, customers, tax rates, orders): base columns, the object's
//! JSON, and a few columns that queries filter on.

use crate::sql::*;
use crate::SqlStore;
use async_trait::async_trait;
use paylink_domain::catalog::*;
use paylink_domain::id::*;
use paylink_store::*;
use sqlx::any::AnyRow;

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
        ("merchant_id", t.merchant_id().as_str().into()),
        ("livemode", t.livemode().into()),
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

fn product_row(row: &AnyRow) -> StoreResult<Product> {
    let mut p: Product = json_col(row, "data")?;
    p.inventory = opt_int(row, "inventory_available")?
        .map(|n| {
            u32::try_from(n)
                .map(|available| Inventory { available })
                .map_err(backend)
        })
        .transpose()?;
    Ok(p)
}

fn product_cols(p: &Product, set_inventory: bool) -> Vec<(&'static str, Arg)> {
    let mut cols = vec![("active", Arg::from(p.active))];
    if set_inventory {
        cols.push((
            "inventory_available",
            p.inventory.map(|i| i64::from(i.available)).into(),
        ));
    }
    cols
}

pub(crate) fn data_row<T: serde::de::DeserializeOwned>(row: &AnyRow) -> StoreResult<T> {
    json_col(row, "data")
}

#[async_trait]
impl CatalogStore for SqlStore {
    async fn insert_product(&self, t: &Tenant, p: &Product) -> StoreResult<()> {
        self.insert_doc_alone(
            "products",
            t,
            p.id.as_str(),
            p.created_at,
            json(p)?,
            product_cols(p, true),
        )
        .await
    }

    async fn get_product(&self, t: &Tenant, id: &ProductId) -> StoreResult<Product> {
        product_row(
            &self
                .fetch_one("products", "data, inventory_available", t, id.as_str(), "")
                .await?,
        )
    }

    async fn update_product(
        &self,
        t: &Tenant,
        p: &Product,
        set_inventory: bool,
    ) -> StoreResult<()> {
        self.update_doc_alone(
            "products",
            t,
            p.id.as_str(),
            json(p)?,
            product_cols(p, set_inventory),
        )
        .await
    }

    async fn list_products(
        &self,
        t: &Tenant,
        f: &ProductFilter,
        page: &Page,
    ) -> StoreResult<Listed<Product>> {
        let mut q = Sql::default();
        if let Some(a) = f.active {
            q.push(" AND active = ").bind(a);
        }
        let rows = self
            .list_rows("products", "data, inventory_available", t, q, page, "")
            .await?;
        map_listed(rows, product_row)
    }

    async fn insert_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()> {
        let cols = vec![("email", c.email.clone().into())];
        self.insert_doc_alone("customers", t, c.id.as_str(), c.created_at, json(c)?, cols)
            .await
    }

    async fn get_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<Customer> {
        data_row(
            &self
                .fetch_one("customers", "data", t, id.as_str(), "")
                .await?,
        )
    }

    async fn update_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()> {
        let cols = vec![("email", c.email.clone().into())];
        self.update_doc_alone("customers", t, c.id.as_str(), json(c)?, cols)
            .await
    }

    async fn delete_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("DELETE FROM customers WHERE id = ");
        q.bind(id.as_str()).push(" AND ").owned_by(t);
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::NotFound);
        }
        w.commit().await
    }

    async fn list_customers(
        &self,
        t: &Tenant,
        f: &CustomerFilter,
        page: &Page,
    ) -> StoreResult<Listed<Customer>> {
        let mut q = Sql::default();
        if let Some(e) = &f.email {
            q.push(" AND email = ").bind(e.as_str());
        }
        map_listed(
            self.list_rows("customers", "data", t, q, page, "").await?,
            data_row,
        )
    }

    async fn insert_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()> {
        let cols = vec![("active", r.active.into())];
        self.insert_doc_alone("tax_rates", t, r.id.as_str(), r.created_at, json(r)?, cols)
            .await
    }

    async fn get_tax_rate(&self, t: &Tenant, id: &TaxRateId) -> StoreResult<TaxRate> {
        data_row(
            &self
                .fetch_one("tax_rates", "data", t, id.as_str(), "")
                .await?,
        )
    }

    async fn update_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()> {
        let cols = vec![("active", r.active.into())];
        self.update_doc_alone("tax_rates", t, r.id.as_str(), json(r)?, cols)
            .await
    }

    async fn list_tax_rates(
        &self,
        t: &Tenant,
        f: &TaxRateFilter,
        page: &Page,
    ) -> StoreResult<Listed<TaxRate>> {
        let mut q = Sql::default();
        if let Some(a) = f.active {
            q.push(" AND active = ").bind(a);
        }
        map_listed(
            self.list_rows("tax_rates", "data", t, q, page, "").await?,
            data_row,
        )
    }
}
