//! The rows of the accounts tables as read and written: their columns, the readers that
//! turn a row into a domain value, and the statements more than one method sends.

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::access::Role;
use paylink_domain::id::{InvitationId, MerchantId, SessionId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::backend;
use crate::sql::{int, opt_int, opt_text, Sql};

pub(super) const USER_COLS: &str =
    "u.id, u.email, u.name, u.password_hash, u.totp_secret, u.created_at, u.last_login_at";
pub(super) const SESSION_COLS: &str = "s.id AS s_id, s.token_hash, s.user_id, s.merchant_id, \
     s.created_at AS s_created_at, s.last_seen_at, s.expires_at, s.user_agent, s.ip";
pub(super) const INVITATION_COLS: &str = "id, merchant_id, email, role, token_hash, invited_by, \
     created_at, expires_at, accepted_at, revoked_at";
/// Only refreshed when older than this: a request a second does not write a second.
pub(super) const TOUCH_EVERY_SECS: i64 = 60;

pub(super) fn text(row: &AnyRow, col: &str) -> StoreResult<String> {
    row.try_get(col).map_err(backend)
}

pub(super) fn role(row: &AnyRow, col: &str) -> StoreResult<Role> {
    let r = text(row, col)?;
    Role::parse(&r).ok_or_else(|| backend(format!("unknown role `{r}`")))
}

pub(super) fn user(row: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: UserId::from_trusted(text(row, "id")?),
        email: text(row, "email")?,
        name: text(row, "name")?,
        password_hash: text(row, "password_hash")?,
        totp_secret: opt_text(row, "totp_secret")?,
        created_at: Timestamp::from_unix(int(row, "created_at")?),
        last_login_at: opt_int(row, "last_login_at")?.map(Timestamp::from_unix),
    })
}

pub(super) fn membership(row: &AnyRow) -> StoreResult<Membership> {
    Ok(Membership {
        user_id: UserId::from_trusted(text(row, "m_user_id")?),
        merchant_id: MerchantId::from_trusted(text(row, "m_merchant_id")?),
        merchant_name: text(row, "merchant_name")?,
        role: role(row, "role")?,
        created_at: Timestamp::from_unix(int(row, "m_created_at")?),
    })
}

pub(super) const MEMBERSHIP_COLS: &str = "m.user_id AS m_user_id, m.merchant_id AS m_merchant_id, \
     mc.name AS merchant_name, m.role, m.created_at AS m_created_at";

pub(super) fn session(row: &AnyRow) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId::from_trusted(text(row, "s_id")?),
        token_hash: text(row, "token_hash")?,
        user_id: UserId::from_trusted(text(row, "user_id")?),
        merchant_id: MerchantId::from_trusted(text(row, "merchant_id")?),
        created_at: Timestamp::from_unix(int(row, "s_created_at")?),
        last_seen_at: Timestamp::from_unix(int(row, "last_seen_at")?),
        expires_at: Timestamp::from_unix(int(row, "expires_at")?),
        user_agent: opt_text(row, "user_agent")?,
        ip: opt_text(row, "ip")?,
    })
}

pub(super) fn invitation(row: &AnyRow) -> StoreResult<Invitation> {
    Ok(Invitation {
        id: InvitationId::from_trusted(text(row, "id")?),
        merchant_id: MerchantId::from_trusted(text(row, "merchant_id")?),
        email: text(row, "email")?,
        role: role(row, "role")?,
        token_hash: text(row, "token_hash")?,
        invited_by: opt_text(row, "invited_by")?.map(UserId::from_trusted),
        created_at: Timestamp::from_unix(int(row, "created_at")?),
        expires_at: Timestamp::from_unix(int(row, "expires_at")?),
        accepted_at: opt_int(row, "accepted_at")?.map(Timestamp::from_unix),
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp::from_unix),
    })
}

pub(super) fn insert_user(u: &User) -> Sql {
    Sql::insert(
        "users",
        vec![
            ("id", u.id.as_str().into()),
            ("email", u.email.to_lowercase().into()),
            ("name", u.name.as_str().into()),
            ("password_hash", u.password_hash.as_str().into()),
            ("totp_secret", u.totp_secret.clone().into()),
            ("created_at", u.created_at.unix().into()),
            ("last_login_at", u.last_login_at.map(|t| t.unix()).into()),
        ],
    )
}

pub(super) fn insert_membership(
    user: &UserId,
    merchant: &MerchantId,
    role: Role,
    now: Timestamp,
) -> Sql {
    Sql::insert(
        "memberships",
        vec![
            ("user_id", user.as_str().into()),
            ("merchant_id", merchant.as_str().into()),
            ("role", role.as_str().into()),
            ("created_at", now.unix().into()),
        ],
    )
}

/// `DELETE FROM user_sessions WHERE user_id = $ [AND id <> $]`.
pub(super) fn end_sessions(user: &UserId, keep: Option<&SessionId>) -> Sql {
    let mut q = Sql::new("DELETE FROM user_sessions WHERE user_id = ");
    q.bind(user.as_str());
    if let Some(k) = keep {
        q.push(" AND id <> ").bind(k.as_str());
    }
    q
}

/// The guard of a single-use token: marks the row of `token_hash` in `table` spent (`stamp`
/// = now) if it is still `live` and not expired, returning `returning`. Of two requests
/// with one token only the one whose update marks the row goes on.
pub(super) fn spend(
    table: &str,
    stamp: &str,
    live: &str,
    token_hash: &str,
    now: Timestamp,
    returning: &str,
) -> Sql {
    let mut q = Sql::new(&format!("UPDATE {table} SET {stamp} = "));
    q.bind(now.unix())
        .push(" WHERE token_hash = ")
        .bind(token_hash)
        .push(&format!(" AND {live} AND expires_at > "))
        .bind(now.unix())
        .push(&format!(" RETURNING {returning}"));
    q
}

/// ` WHERE` the membership of `user` in `merchant` still has the role `from` (under
/// PostgreSQL's read committed, a concurrent change is seen again before the row is).
pub(super) fn still(q: &mut Sql, merchant: &MerchantId, user: &UserId, from: Role) {
    q.push(" WHERE merchant_id = ")
        .bind(merchant.as_str())
        .push(" AND user_id = ")
        .bind(user.as_str())
        .push(" AND role = ")
        .bind(from.as_str());
}
