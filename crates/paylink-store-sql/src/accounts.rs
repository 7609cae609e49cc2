//! Rows of `users`, `memberships`, `user_sessions`, `invitations` and `password_resets`
//! (the audit log's are in `audit.rs`). Rules that must hold under races (one owner at
//! least, an invitation, a reset or a recovery code used once) are decided inside one write
//! transaction each.

use async_trait::async_trait;
use paylink_domain::access::Role;
use paylink_domain::id::{InvitationId, MerchantId, SessionId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::*;

mod rows;

use rows::*;

use crate::sql::{int, Sql};
use crate::{backend, SqlStore};

impl SqlStore {
    /// Inside a write: refuses with `LastOwner` unless an owner other than `user` remains.
    /// The merchant's row is locked first, so two demotions racing see each other.
    async fn other_owner_remains(
        &self,
        tx: &mut sqlx::AnyConnection,
        merchant: &MerchantId,
        user: &UserId,
    ) -> StoreResult<()> {
        if let Some(q) = self.dialect.lock_row("merchants", merchant.as_str()) {
            q.query().execute(&mut *tx).await.map_err(backend)?;
        }
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM memberships WHERE merchant_id = ");
        q.bind(merchant.as_str())
            .push(" AND role = 'owner' AND user_id <> ")
            .bind(user.as_str());
        let row = q.query().fetch_one(&mut *tx).await.map_err(backend)?;
        if int(&row, "n")? == 0 {
            return Err(StoreError::Conflict(Conflict::LastOwner));
        }
        Ok(())
    }

    async fn member_role(
        &self,
        tx: &mut sqlx::AnyConnection,
        merchant: &MerchantId,
        user: &UserId,
    ) -> StoreResult<Role> {
        let mut q = Sql::new("SELECT role FROM memberships WHERE merchant_id = ");
        q.bind(merchant.as_str())
            .push(" AND user_id = ")
            .bind(user.as_str());
        let row = q.query().fetch_optional(&mut *tx).await.map_err(backend)?;
        role(&row.ok_or(StoreError::NotFound)?, "role")
    }

    /// Inside a write: `NotFound` unless `user` is a member, `ConcurrentUpdate` unless
    /// their role is still `from`.
    async fn role_still(
        &self,
        tx: &mut sqlx::AnyConnection,
        merchant: &MerchantId,
        user: &UserId,
        from: Role,
    ) -> StoreResult<()> {
        if self.member_role(tx, merchant, user).await? != from {
            return Err(StoreError::Conflict(Conflict::ConcurrentUpdate));
        }
        Ok(())
    }

    async fn membership_of(&self, merchant: &MerchantId, user: &UserId) -> StoreResult<Membership> {
        let mut q = Sql::new(&format!(
            "SELECT {MEMBERSHIP_COLS} FROM memberships m JOIN merchants mc ON mc.id = m.merchant_id \
             WHERE m.merchant_id = "
        ));
        q.bind(merchant.as_str())
            .push(" AND m.user_id = ")
            .bind(user.as_str());
        let row = self.row(&q).await.map_err(backend)?;
        membership(&row.ok_or(StoreError::NotFound)?)
    }
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(
        &self,
        u: &User,
        membership: Option<(&MerchantId, Role)>,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        insert_user(u).exec(&mut w.tx).await?;
        if let Some((merchant, role)) = membership {
            insert_membership(&u.id, merchant, role, u.created_at)
                .exec(&mut w.tx)
                .await?;
        }
        w.commit().await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.email = "));
        q.bind(email.to_lowercase());
        let row = self.row(&q).await.map_err(backend)?;
        row.as_ref().map(user).transpose()
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<User> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
        q.bind(id.as_str());
        let row = self.row(&q).await.map_err(backend)?;
        user(&row.ok_or(StoreError::NotFound)?)
    }

    async fn memberships(&self, u: &UserId) -> StoreResult<Vec<Membership>> {
        let mut q = Sql::new(&format!(
            "SELECT {MEMBERSHIP_COLS} FROM memberships m JOIN merchants mc ON mc.id = m.merchant_id \
             WHERE m.user_id = "
        ));
        q.bind(u.as_str()).push(" ORDER BY m.seq");
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter().map(membership).collect()
    }

    async fn list_members(&self, merchant: &MerchantId) -> StoreResult<Vec<(User, Membership)>> {
        let mut q = Sql::new(&format!(
            "SELECT {USER_COLS}, {MEMBERSHIP_COLS} FROM memberships m \
             JOIN merchants mc ON mc.id = m.merchant_id JOIN users u ON u.id = m.user_id \
             WHERE m.merchant_id = "
        ));
        q.bind(merchant.as_str()).push(" ORDER BY m.seq");
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter()
            .map(|r| Ok((user(r)?, membership(r)?)))
            .collect()
    }

    async fn set_role(
        &self,
        merchant: &MerchantId,
        u: &UserId,
        from: Role,
        to: Role,
    ) -> StoreResult<Membership> {
        let mut w = self.begin_write().await?;
        self.role_still(&mut w.tx, merchant, u, from).await?;
        if from == Role::Owner && to != Role::Owner {
            self.other_owner_remains(&mut w.tx, merchant, u).await?;
        }
        let mut q = Sql::new("UPDATE memberships SET role = ");
        q.bind(to.as_str());
        still(&mut q, merchant, u, from);
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::Conflict(Conflict::ConcurrentUpdate));
        }
        w.commit().await?;
        self.membership_of(merchant, u).await
    }

    async fn remove_member(
        &self,
        merchant: &MerchantId,
        u: &UserId,
        from: Role,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        self.role_still(&mut w.tx, merchant, u, from).await?;
        if from == Role::Owner {
            self.other_owner_remains(&mut w.tx, merchant, u).await?;
        }
        let mut q = Sql::new("DELETE FROM memberships");
        still(&mut q, merchant, u, from);
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::Conflict(Conflict::ConcurrentUpdate));
        }
        let mut q = Sql::new("DELETE FROM user_sessions WHERE merchant_id = ");
        q.bind(merchant.as_str())
            .push(" AND user_id = ")
            .bind(u.as_str());
        q.exec(&mut w.tx).await?;
        w.commit().await
    }

    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        Sql::insert(
            "user_sessions",
            vec![
                ("id", s.id.as_str().into()),
                ("token_hash", s.token_hash.as_str().into()),
                ("user_id", s.user_id.as_str().into()),
                ("merchant_id", s.merchant_id.as_str().into()),
                ("created_at", s.created_at.unix().into()),
                ("last_seen_at", s.last_seen_at.unix().into()),
                ("expires_at", s.expires_at.unix().into()),
                ("user_agent", s.user_agent.clone().into()),
                ("ip", s.ip.clone().into()),
            ],
        )
        .exec(&mut w.tx)
        .await?;
        // What has ended goes, and the oldest beyond the cap.
        let mut q = Sql::new("DELETE FROM user_sessions WHERE user_id = ");
        q.bind(s.user_id.as_str())
            .push(" AND (expires_at <= ")
            .bind(s.created_at.unix())
            .push(" OR last_seen_at <= ")
            .bind(s.created_at.unix() - SESSION_IDLE_SECS)
            .push(" OR seq <= (SELECT seq FROM user_sessions WHERE user_id = ")
            .bind(s.user_id.as_str())
            .push(&format!(
                " ORDER BY seq DESC LIMIT 1 OFFSET {SESSIONS_PER_USER}))"
            ));
        q.exec(&mut w.tx).await?;
        let mut q = Sql::new("UPDATE users SET last_login_at = ");
        q.bind(s.created_at.unix())
            .push(" WHERE id = ")
            .bind(s.user_id.as_str());
        q.exec(&mut w.tx).await?;
        w.commit().await
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<SignedIn>> {
        let mut q = Sql::new(&format!(
            "SELECT {SESSION_COLS}, {USER_COLS}, m.role FROM user_sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN memberships m ON m.user_id = s.user_id AND m.merchant_id = s.merchant_id \
             WHERE s.token_hash = "
        ));
        q.bind(token_hash)
            .push(" AND s.expires_at > ")
            .bind(now.unix())
            .push(" AND s.last_seen_at > ")
            .bind(now.unix() - SESSION_IDLE_SECS);
        let Some(row) = self.row(&q).await.map_err(backend)? else {
            return Ok(None);
        };
        let found = SignedIn {
            session: session(&row)?,
            user: user(&row)?,
            role: role(&row, "role")?,
        };
        if now.unix() - found.session.last_seen_at.unix() >= TOUCH_EVERY_SECS {
            let mut q = Sql::new("UPDATE user_sessions SET last_seen_at = ");
            q.bind(now.unix())
                .push(" WHERE id = ")
                .bind(found.session.id.as_str());
            self.write_one(&q).await?;
        }
        Ok(Some(found))
    }

    async fn list_sessions(&self, u: &UserId, now: Timestamp) -> StoreResult<Vec<SessionRecord>> {
        let mut q = Sql::new(&format!(
            "SELECT {SESSION_COLS} FROM user_sessions s WHERE s.user_id = "
        ));
        q.bind(u.as_str())
            .push(" AND s.expires_at > ")
            .bind(now.unix())
            .push(" AND s.last_seen_at > ")
            .bind(now.unix() - SESSION_IDLE_SECS)
            .push(" ORDER BY s.seq DESC");
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter().map(session).collect()
    }

    async fn end_session(&self, u: &UserId, id: &SessionId) -> StoreResult<()> {
        let mut q = Sql::new("DELETE FROM user_sessions WHERE id = ");
        q.bind(id.as_str()).push(" AND user_id = ").bind(u.as_str());
        match self.write_one(&q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn set_password(
        &self,
        u: &UserId,
        password_hash: &str,
        keep: Option<&SessionId>,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE users SET password_hash = ");
        q.bind(password_hash).push(" WHERE id = ").bind(u.as_str());
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::NotFound);
        }
        end_sessions(u, keep).exec(&mut w.tx).await?;
        let mut q = Sql::new("DELETE FROM password_resets WHERE user_id = ");
        q.bind(u.as_str());
        q.exec(&mut w.tx).await?;
        w.commit().await
    }

    async fn set_totp(
        &self,
        u: &UserId,
        secret: Option<&str>,
        recovery_hashes: &[String],
    ) -> StoreResult<()> {
        let mut q = Sql::new("UPDATE users SET totp_secret = ");
        q.bind(secret)
            .push(", recovery_codes = ")
            .bind(crate::sql::to_json(&recovery_hashes)?)
            .push(" WHERE id = ")
            .bind(u.as_str());
        match self.write_one(&q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn use_recovery_code(&self, u: &UserId, hash: &str) -> StoreResult<bool> {
        let mut w = self.begin_write().await?;
        if let Some(q) = self.dialect.lock_row("users", u.as_str()) {
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        let mut q = Sql::new("SELECT recovery_codes FROM users WHERE id = ");
        q.bind(u.as_str());
        let row = q.found(&mut w.tx).await?;
        let mut codes: Vec<String> = crate::sql::json_col(&row, "recovery_codes")?;
        let before = codes.len();
        codes.retain(|c| c != hash);
        if codes.len() == before {
            return Ok(false);
        }
        let mut q = Sql::new("UPDATE users SET recovery_codes = ");
        q.bind(crate::sql::to_json(&codes)?)
            .push(" WHERE id = ")
            .bind(u.as_str());
        q.exec(&mut w.tx).await?;
        w.commit().await?;
        Ok(true)
    }

    async fn use_totp_step(&self, u: &UserId, step: i64) -> StoreResult<bool> {
        let mut q = Sql::new("UPDATE users SET totp_last_step = ");
        q.bind(step)
            .push(" WHERE id = ")
            .bind(u.as_str())
            .push(" AND (totp_last_step IS NULL OR totp_last_step < ")
            .bind(step)
            .push(")");
        Ok(self.write_one(&q).await? == 1)
    }

    async fn create_invitation(&self, i: &Invitation) -> StoreResult<()> {
        let q = Sql::insert(
            "invitations",
            vec![
                ("id", i.id.as_str().into()),
                ("merchant_id", i.merchant_id.as_str().into()),
                ("email", i.email.to_lowercase().into()),
                ("role", i.role.as_str().into()),
                ("token_hash", i.token_hash.as_str().into()),
                (
                    "invited_by",
                    i.invited_by.as_ref().map(|u| u.as_str()).into(),
                ),
                ("created_at", i.created_at.unix().into()),
                ("expires_at", i.expires_at.unix().into()),
                ("accepted_at", i.accepted_at.map(|t| t.unix()).into()),
                ("revoked_at", i.revoked_at.map(|t| t.unix()).into()),
            ],
        );
        self.write_one(&q).await?;
        Ok(())
    }

    async fn list_invitations(
        &self,
        merchant: &MerchantId,
        now: Timestamp,
    ) -> StoreResult<Vec<Invitation>> {
        let mut q = Sql::new(&format!(
            "SELECT {INVITATION_COLS} FROM invitations WHERE merchant_id = "
        ));
        q.bind(merchant.as_str())
            .push(" AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ")
            .bind(now.unix())
            .push(" ORDER BY seq DESC");
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter().map(invitation).collect()
    }

    async fn get_invitation(
        &self,
        merchant: &MerchantId,
        id: &InvitationId,
    ) -> StoreResult<Invitation> {
        let mut q = Sql::new(&format!(
            "SELECT {INVITATION_COLS} FROM invitations WHERE id = "
        ));
        q.bind(id.as_str())
            .push(" AND merchant_id = ")
            .bind(merchant.as_str());
        let row = self.row(&q).await.map_err(backend)?;
        invitation(&row.ok_or(StoreError::NotFound)?)
    }

    async fn revoke_invitation(
        &self,
        merchant: &MerchantId,
        id: &InvitationId,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut q = Sql::new("UPDATE invitations SET revoked_at = ");
        q.bind(now.unix())
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(" AND merchant_id = ")
            .bind(merchant.as_str())
            .push(" AND accepted_at IS NULL AND revoked_at IS NULL");
        match self.write_one(&q).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn find_invitation(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Invitation>> {
        let mut q = Sql::new(&format!(
            "SELECT {INVITATION_COLS} FROM invitations WHERE token_hash = "
        ));
        q.bind(token_hash)
            .push(" AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ")
            .bind(now.unix());
        let row = self.row(&q).await.map_err(backend)?;
        row.as_ref().map(invitation).transpose()
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        invitee: &Invitee,
        now: Timestamp,
    ) -> StoreResult<Membership> {
        let mut w = self.begin_write().await?;
        // The guard of single use: only the accept that marks the row goes on.
        let row = spend(
            "invitations",
            "accepted_at",
            "accepted_at IS NULL AND revoked_at IS NULL",
            token_hash,
            now,
            "merchant_id, role",
        )
        .found(&mut w.tx)
        .await?;
        let merchant = MerchantId::from_trusted(text(&row, "merchant_id")?);
        let role = role(&row, "role")?;
        let user_id = match invitee {
            Invitee::New(u) => {
                insert_user(u).exec(&mut w.tx).await?;
                u.id.clone()
            }
            Invitee::Existing(id) => id.clone(),
        };
        insert_membership(&user_id, &merchant, role, now)
            .exec(&mut w.tx)
            .await?;
        w.commit().await?;
        self.membership_of(&merchant, &user_id).await
    }

    async fn create_reset(&self, r: &PasswordReset) -> StoreResult<()> {
        let q = Sql::insert(
            "password_resets",
            vec![
                ("token_hash", r.token_hash.as_str().into()),
                ("user_id", r.user_id.as_str().into()),
                ("created_at", r.created_at.unix().into()),
                ("expires_at", r.expires_at.unix().into()),
            ],
        );
        self.write_one(&q).await?;
        Ok(())
    }

    async fn find_reset(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<UserId>> {
        let mut q = Sql::new("SELECT user_id FROM password_resets WHERE token_hash = ");
        q.bind(token_hash)
            .push(" AND used_at IS NULL AND expires_at > ")
            .bind(now.unix());
        let row = self.row(&q).await.map_err(backend)?;
        row.map(|r| text(&r, "user_id").map(UserId::from_trusted))
            .transpose()
    }

    async fn use_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<UserId> {
        let mut w = self.begin_write().await?;
        let row = spend(
            "password_resets",
            "used_at",
            "used_at IS NULL",
            token_hash,
            now,
            "user_id",
        )
        .found(&mut w.tx)
        .await?;
        let u = UserId::from_trusted(text(&row, "user_id")?);
        let mut q = Sql::new("UPDATE users SET password_hash = ");
        q.bind(password_hash).push(" WHERE id = ").bind(u.as_str());
        q.exec(&mut w.tx).await?;
        end_sessions(&u, None).exec(&mut w.tx).await?;
        let mut q = Sql::new("DELETE FROM password_resets WHERE user_id = ");
        q.bind(u.as_str());
        q.exec(&mut w.tx).await?;
        w.commit().await?;
        Ok(u)
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        self.audit_append(entries).await
    }

    async fn list_audit(
        &self,
        merchant: &MerchantId,
        filter: &AuditFilter,
        page: &Page,
    ) -> StoreResult<Listed<AuditEntry>> {
        self.audit_list(merchant, filter, page).await
    }
}
