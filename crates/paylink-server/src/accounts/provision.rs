//! What operators do from the command line: the first owner of a new merchant, a member
//! added directly, a reset link for someone locked out.

use std::io::Read;

use paylink_domain::access::Role;
use paylink_domain::id::{AuditEntryId, MerchantId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::{Actor, AuditEntry, Store, StoreError, User};

use super::{passwords, recovery};

/// Records an operator's command in the merchant's audit log (no actor, no address: it
/// came from the command line, `user_agent` says so).
pub async fn operator_audit(
    store: &dyn Store,
    merchant: &MerchantId,
    action: &str,
    object_id: &str,
) -> anyhow::Result<()> {
    store
        .append_audit(&[AuditEntry {
            id: AuditEntryId::generate_at(Timestamp::now().unix()),
            merchant_id: merchant.clone(),
            actor: Actor::Anonymous,
            action: action.to_owned(),
            object_id: Some(object_id.to_owned()),
            ip: None,
            user_agent: Some("paylink (command line)".into()),
            created_at: Timestamp::now(),
        }])
        .await?;
    Ok(())
}

/// The password on standard input (its last line break dropped).
pub fn password_from_stdin() -> anyhow::Result<String> {
    let mut pw = String::new();
    std::io::stdin().read_to_string(&mut pw)?;
    Ok(pw.trim_end_matches(['\n', '\r']).to_owned())
}

/// Refuses a weak password with the API's words.
pub fn check_password(pw: &str, email: &str, name: &str) -> anyhow::Result<()> {
    passwords::check_strength(pw, "password", &[email, name])
        .map_err(|e| anyhow::anyhow!("{}", e.message))
}

/// A user, member of `merchant` with `role`; the password was checked by the caller.
pub async fn create_user(
    store: &dyn Store,
    merchant: &MerchantId,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<User> {
    paylink_domain::text::email(email, "email").map_err(|e| anyhow::anyhow!("{}", e.message))?;
    paylink_domain::text::bounded(name, "name", 1, 100)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    store.get_merchant(merchant).await.map_err(|e| match e {
        StoreError::NotFound => anyhow::anyhow!("no merchant {merchant}"),
        e => e.into(),
    })?;
    let user = User {
        id: UserId::generate(),
        email: email.to_lowercase(),
        name: name.to_owned(),
        password_hash: passwords::hash(password).map_err(|e| anyhow::anyhow!("{}", e.message))?,
        totp_secret: None,
        created_at: Timestamp::now(),
        last_login_at: None,
    };
    store
        .create_user(&user, Some((merchant, role)))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => anyhow::anyhow!(
                "a user with the e-mail {email} exists; invite them from the team page instead"
            ),
            e => e.into(),
        })?;
    operator_audit(store, merchant, "team.members.create", user.id.as_str()).await?;
    Ok(user)
}

/// A one-time link (valid an hour) that sets the password of the account with `email`.
pub async fn reset_link(
    store: &dyn Store,
    public_url: &str,
    email: &str,
) -> anyhow::Result<String> {
    let user = store
        .find_user_by_email(email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with the e-mail {email}"))?;
    let token = recovery::new_reset(store, &user.id).await?;
    for m in store.memberships(&user.id).await? {
        operator_audit(
            store,
            &m.merchant_id,
            "user.reset_link_created",
            user.id.as_str(),
        )
        .await?;
    }
    Ok(format!("{public_url}/reset/{token}"))
}
