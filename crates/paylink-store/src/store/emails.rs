//! The e-mail outbox.

use async_trait::async_trait;

use crate::*;
use paylink_domain::{email::Email, event::Event, id::*, time::Timestamp};

/// The e-mail outbox.
#[async_trait]
pub trait EmailStore: Send + Sync {
    /// Queues messages (with the events they cause) in one transaction.
    async fn queue_emails(&self, t: &Tenant, emails: &[Email], events: &[Event])
        -> StoreResult<()>;

    /// The tenant's messages, newest first; with `with_account_mail`, also those of
    /// people's accounts (password resets, invitations), which only the team's managers see.
    async fn list_emails(
        &self,
        t: &Tenant,
        status: Option<&str>,
        with_account_mail: bool,
        page: &Page,
    ) -> StoreResult<Listed<Email>>;

    /// Claims up to `limit` due messages (every merchant) for `lock_secs`.
    async fn claim_emails(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<Email>>;

    /// Records a send attempt: sent, or failed with the next try (`None`: give up). A
    /// message composed when it was sent (a receipt, [`Email::receipt_of`]) is kept as
    /// sent (`sent`), so the outbox shows what went out.
    async fn finish_email(
        &self,
        id: &EmailId,
        error: Option<&str>,
        retry_at: Option<Timestamp>,
        sent: Option<&Email>,
    ) -> StoreResult<()>;
}
