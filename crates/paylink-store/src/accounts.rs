//! What the accounts layer keeps: people, their memberships, sessions, invitations,
//! password resets and the audit log. Every token is kept as its SHA-256 only (tokens carry
//! 128+ random bits, so a fast hash suffices); passwords as argon2id PHC strings.

use paylink_domain::access::Role;
use paylink_domain::id::{AuditEntryId, InvitationId, MerchantId, SessionId, UserId};
use paylink_domain::time::Timestamp;

/// A person who signs in. `email` is kept lower-case: unique whatever its case.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    /// The TOTP secret, sealed under the master key; `None` without a second factor.
    pub totp_secret: Option<String>,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// A user's role in one merchant.
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub user_id: UserId,
    pub merchant_id: MerchantId,
    /// The merchant's name, as read with the membership.
    pub merchant_name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// A signed-in session. The token is never kept, only its SHA-256.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub token_hash: String,
    pub user_id: UserId,
    /// The membership the session acts on.
    pub merchant_id: MerchantId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end (sign-in + 7 days); the idle end is `last_seen_at` + 12 hours.
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A session and whom it belongs to, as authentication reads them.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedIn {
    pub session: SessionRecord,
    pub user: User,
    pub role: Role,
}

/// How long a session lives without use, and at most.
pub const SESSION_IDLE_SECS: i64 = 12 * 3600;
pub const SESSION_MAX_SECS: i64 = 7 * 24 * 3600;
/// The live sessions a user may have: signing in once more ends the oldest (a script that
/// signs in in a loop cannot grow the table nor the user's list of sessions).
pub const SESSIONS_PER_USER: usize = 50;
pub const INVITATION_SECS: i64 = 7 * 24 * 3600;
pub const RESET_SECS: i64 = 3600;

#[derive(Clone, Debug, PartialEq)]
pub struct Invitation {
    pub id: InvitationId,
    pub merchant_id: MerchantId,
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// What accepting an invitation does to its invitee: a new user, or an existing one (who
/// proved it with their password) joining.
#[derive(Clone, Debug)]
pub enum Invitee {
    New(User),
    Existing(UserId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct PasswordReset {
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Who did something the audit log records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    ApiKey(String),
    User(String),
    /// Nobody known: a failed sign-in, an operator's command.
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ApiKey(_) => "api_key",
            Actor::User(_) => "user",
            Actor::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::ApiKey(id) | Actor::User(id) => Some(id),
            Actor::Anonymous => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub merchant_id: MerchantId,
    pub actor: Actor,
    /// `user.login`, `api.post`, `team.member_removed`, …
    pub action: String,
    pub object_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub created: crate::Created,
}
