//! People, memberships, sessions, invitations, password resets and the audit log.

use async_trait::async_trait;

use crate::*;
use paylink_domain::access::Role;
use paylink_domain::{id::*, time::Timestamp};

/// People and what they may do. Tokens are looked up by hash; every "single use" and
/// "last owner" rule is decided by the store atomically.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// A new user, with a first membership; `Conflict::DuplicateObject` when the e-mail is
    /// taken (whatever its case).
    async fn create_user(
        &self,
        user: &User,
        membership: Option<(&MerchantId, Role)>,
    ) -> StoreResult<()>;

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    async fn get_user(&self, id: &UserId) -> StoreResult<User>;

    /// The user's memberships, oldest first.
    async fn memberships(&self, user: &UserId) -> StoreResult<Vec<Membership>>;

    /// A merchant's members with their memberships, oldest first.
    async fn list_members(&self, merchant: &MerchantId) -> StoreResult<Vec<(User, Membership)>>;

    /// Changes a member's role `from` (what the caller judged the change by) `to`;
    /// `Conflict::ConcurrentUpdate` when the role is no longer `from` (an admin's demotion
    /// never lands on someone an owner just promoted), `Conflict::LastOwner` when that
    /// would leave no owner.
    async fn set_role(
        &self,
        merchant: &MerchantId,
        user: &UserId,
        from: Role,
        to: Role,
    ) -> StoreResult<Membership>;

    /// Removes a member whose role is still `from` and ends their sessions on the
    /// merchant; `Conflict::ConcurrentUpdate`, `Conflict::LastOwner`.
    async fn remove_member(
        &self,
        merchant: &MerchantId,
        user: &UserId,
        from: Role,
    ) -> StoreResult<()>;

    /// Starts a session and records the sign-in on the user; removes the user's sessions
    /// that have ended, and the oldest beyond [`SESSIONS_PER_USER`].
    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()>;

    /// The session with this token hash, if alive at `now` (neither idle past 12 hours nor
    /// older than its end) and its user still a member; marks it seen.
    async fn touch_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<SignedIn>>;

    /// The user's live sessions, newest first.
    async fn list_sessions(&self, user: &UserId, now: Timestamp)
        -> StoreResult<Vec<SessionRecord>>;

    /// Ends one of the user's sessions (`NotFound` if it is not theirs).
    async fn end_session(&self, user: &UserId, id: &SessionId) -> StoreResult<()>;

    /// Sets the password and ends every session of the user but `keep`.
    async fn set_password(
        &self,
        user: &UserId,
        password_hash: &str,
        keep: Option<&SessionId>,
    ) -> StoreResult<()>;

    /// Sets (or with `None`, removes) the user's sealed TOTP secret and replaces their
    /// recovery codes' hashes.
    async fn set_totp(
        &self,
        user: &UserId,
        secret: Option<&str>,
        recovery_hashes: &[String],
    ) -> StoreResult<()>;

    /// Uses one recovery code of the user (by its hash): `true` if it was unused, and now it
    /// is used (decided atomically: two racing uses, one succeeds).
    async fn use_recovery_code(&self, user: &UserId, hash: &str) -> StoreResult<bool>;

    /// Takes the TOTP time step `step` (Unix time / 30) of a code that matched: `false`
    /// when a code of that step or a later one was used already (a replay), atomically.
    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool>;

    async fn create_invitation(&self, inv: &Invitation) -> StoreResult<()>;

    /// The merchant's pending invitations (not accepted, revoked nor expired), newest first.
    async fn list_invitations(
        &self,
        merchant: &MerchantId,
        now: Timestamp,
    ) -> StoreResult<Vec<Invitation>>;

    async fn get_invitation(
        &self,
        merchant: &MerchantId,
        id: &InvitationId,
    ) -> StoreResult<Invitation>;

    /// Revokes a pending invitation (`NotFound` otherwise).
    async fn revoke_invitation(
        &self,
        merchant: &MerchantId,
        id: &InvitationId,
        now: Timestamp,
    ) -> StoreResult<()>;

    /// The pending invitation with this token hash, if still valid at `now`.
    async fn find_invitation(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Invitation>>;

    /// Uses the invitation once: the invitee becomes a member. `NotFound` when it was
    /// already used, revoked or expired (decided atomically: two racing accepts make one
    /// member); `Conflict::DuplicateObject` when the new user's e-mail is taken.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        invitee: &Invitee,
        now: Timestamp,
    ) -> StoreResult<Membership>;

    async fn create_reset(&self, r: &PasswordReset) -> StoreResult<()>;

    /// The user a reset is for, if it is still valid at `now` (nothing is used).
    async fn find_reset(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<UserId>>;

    /// Uses the reset once (if valid at `now`): sets the password, ends every session and
    /// every other reset of the user. `NotFound` when used, unknown or expired.
    async fn use_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<UserId>;

    async fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()>;

    /// The merchant's audit log, newest first (cursor: an entry id).
    async fn list_audit(
        &self,
        merchant: &MerchantId,
        filter: &AuditFilter,
        page: &Page,
    ) -> StoreResult<Listed<AuditEntry>>;
}
