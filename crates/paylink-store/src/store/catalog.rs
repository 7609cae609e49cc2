//! Products (with their stock), customers and tax rates.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{catalog::*, id::*};

/// Products (with their stock), customers and tax rates.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    async fn insert_product(&self, t: &Tenant, p: &Product) -> StoreResult<()>;

    async fn get_product(&self, t: &Tenant, id: &ProductId) -> StoreResult<Product>;

    /// Writes `p`; its stock column is set only when `set_inventory` (stock is otherwise
    /// owned by checkouts, which change it atomically).
    async fn update_product(&self, t: &Tenant, p: &Product, set_inventory: bool)
        -> StoreResult<()>;

    async fn list_products(
        &self,
        t: &Tenant,
        f: &ProductFilter,
        page: &Page,
    ) -> StoreResult<Listed<Product>>;

    async fn insert_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()>;

    async fn get_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<Customer>;

    async fn update_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()>;

    async fn delete_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<()>;

    async fn list_customers(
        &self,
        t: &Tenant,
        f: &CustomerFilter,
        page: &Page,
    ) -> StoreResult<Listed<Customer>>;

    async fn insert_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()>;

    async fn get_tax_rate(&self, t: &Tenant, id: &TaxRateId) -> StoreResult<TaxRate>;

    async fn update_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()>;

    async fn list_tax_rates(
        &self,
        t: &Tenant,
        f: &TaxRateFilter,
        page: &Page,
    ) -> StoreResult<Listed<TaxRate>>;
}
