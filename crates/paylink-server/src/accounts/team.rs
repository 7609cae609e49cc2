//! The team of a merchant: members and their roles, and invitations by e-mail. Admins manage
//! everyone but owners; only owners make, change or remove owners; the last owner stays.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::access::Role;
use paylink_domain::id::{InvitationId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::{Conflict, Invitation, Membership, StoreError, User, INVITATION_SECS};

use super::recovery::queue_account_email;
use super::tokens;
use crate::api::path::PathId;
use crate::api::routes::{list, reg, route, Route};
use crate::api::{Deleted, List};
use crate::auth::Access::Scope;
use crate::auth::{Auth, Caller};
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    let tag = "Team";
    vec![
        route(
            Method::GET,
            "/v1/team/members",
            tag,
            "List the merchant's members",
            Scope("team:read"),
            200,
            list::<MemberOut>,
            list_members,
        ),
        route(
            Method::PATCH,
            "/v1/team/members/{id}",
            tag,
            "Change a member's role",
            Scope("team:write"),
            200,
            reg::<MemberOut>,
            change_role,
        )
        .body(reg::<MemberPatch>)
        .errors(409, &["last_owner"]),
        route(
            Method::DELETE,
            "/v1/team/members/{id}",
            tag,
            "Remove a member (their sessions on this merchant end)",
            Scope("team:write"),
            200,
            reg::<Deleted>,
            remove_member,
        )
        .errors(409, &["last_owner"]),
        route(
            Method::POST,
            "/v1/team/invitations",
            tag,
            "Invite someone by e-mail (a single-use link, valid 7 days)",
            Scope("team:write"),
            201,
            reg::<InvitationOut>,
            invite,
        )
        .body(reg::<InvitationIn>)
        .errors(409, &["already_member"]),
        route(
            Method::GET,
            "/v1/team/invitations",
            tag,
            "List pending invitations",
            Scope("team:read"),
            200,
            list::<InvitationOut>,
            list_invitations,
        ),
        route(
            Method::DELETE,
            "/v1/team/invitations/{id}",
            tag,
            "Revoke a pending invitation",
            Scope("team:write"),
            200,
            reg::<Deleted>,
            revoke_invitation,
        ),
    ]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberOut {
    /// The member's user id.
    pub id: UserId,
    #[schema(value_type = String, example = "member")]
    pub object: &'static str,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// When they joined this merchant.
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

fn member_out(u: User, m: Membership) -> MemberOut {
    MemberOut {
        id: u.id,
        object: "member",
        email: u.email,
        name: u.name,
        role: m.role,
        created_at: m.created_at,
        last_login_at: u.last_login_at,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationOut {
    pub id: InvitationId,
    #[schema(value_type = String, example = "invitation")]
    pub object: &'static str,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

fn invitation_out(i: Invitation) -> InvitationOut {
    InvitationOut {
        id: i.id,
        object: "invitation",
        email: i.email,
        role: i.role,
        invited_by: i.invited_by,
        created_at: i.created_at,
        expires_at: i.expires_at,
    }
}

/// `403` unless the caller may give, change or take away `role`. Keys change the team only
/// in live mode: a test key (kept in CI, in a laptop's `.env`) is no way to a member who
/// acts on live money.
fn may_manage(auth: &Auth, role: Role) -> ApiResult<()> {
    if matches!(auth.caller, Caller::ApiKey(_)) && !auth.tenant.livemode() {
        return Err(ApiError::forbidden(
            "Test-mode keys cannot change the team; use a live key or sign in",
        ));
    }
    if auth.grant.manages(role) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Only an owner (a person) can manage the `{role}` role"
        )))
    }
}

fn last_owner() -> ApiError {
    ApiError::conflict(
        "last_owner",
        "The merchant's last owner can be neither removed nor demoted; make another owner first",
    )
}

fn member_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("member"),
        StoreError::Conflict(Conflict::LastOwner) => last_owner(),
        e => e.into(),
    }
}

pub async fn list_members(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let members = state
        .store
        .list_members(auth.tenant.merchant_id())
        .await?
        .into_iter()
        .map(|(u, m)| member_out(u, m))
        .collect();
    Ok(ok(&List::new(
        paylink_store::Listed {
            data: members,
            has_more: false,
        },
        "/v1/team/members",
    )))
}

/// The member's current role (`404` when they are not one).
async fn role_of(state: &AppState, auth: &Auth, user: &UserId) -> ApiResult<Role> {
    state
        .store
        .list_members(auth.tenant.merchant_id())
        .await?
        .into_iter()
        .find(|(u, _)| &u.id == user)
        .map(|(_, m)| m.role)
        .ok_or_else(|| ApiError::not_found("member"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    /// The new role (absent: unchanged).
    pub role: Option<Role>,
}

pub async fn change_role(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<UserId>,
    Json(input): Json<MemberPatch>,
) -> ApiResult<Response> {
    let old = role_of(&state, &auth, &id).await?;
    may_manage(&auth, old)?;
    let role = input.role.unwrap_or(old);
    may_manage(&auth, role)?;
    let m = state
        .store
        .set_role(auth.tenant.merchant_id(), &id, old, role)
        .await
        .map_err(member_error)?;
    let u = state.store.get_user(&id).await?;
    Ok(ok(&member_out(u, m)))
}

pub async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<UserId>,
) -> ApiResult<Response> {
    let old = role_of(&state, &auth, &id).await?;
    may_manage(&auth, old)?;
    state
        .store
        .remove_member(auth.tenant.merchant_id(), &id, old)
        .await
        .map_err(member_error)?;
    Ok(ok(&Deleted::new(id, "member")))
}

/// An e-mail address, by the rule `text::email` checks.
fn email_schema() -> utoipa::openapi::schema::Object {
    paylink_domain::text::schema(1, 254, paylink_domain::text::EMAIL_PATTERN)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationIn {
    #[schema(schema_with = email_schema)]
    pub email: String,
    pub role: Role,
}

pub async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<InvitationIn>,
) -> ApiResult<Response> {
    super::at_most(&input.email, "email", 254)?;
    paylink_domain::text::email(&input.email, "email")?;
    may_manage(&auth, input.role)?;
    let merchant = auth.tenant.merchant_id();
    let email = input.email.to_lowercase();
    let members = state.store.list_members(merchant).await?;
    if members.iter().any(|(u, _)| u.email == email) {
        return Err(ApiError::conflict(
            "already_member",
            "This person is already a member",
        ));
    }
    let token = tokens::new_token();
    let now = Timestamp::now();
    let invitation = Invitation {
        id: InvitationId::generate(),
        merchant_id: merchant.clone(),
        email: email.clone(),
        role: input.role,
        token_hash: tokens::hash(&token),
        invited_by: match &auth.caller {
            Caller::User { id, .. } => Some(id.clone()),
            Caller::ApiKey(_) => None,
        },
        created_at: now,
        expires_at: now.plus_seconds(INVITATION_SECS),
        accepted_at: None,
        revoked_at: None,
    };
    state.store.create_invitation(&invitation).await?;
    let settings = state.public_settings(merchant).await?;
    let url = format!("{}/invite/{token}", state.public_url);
    queue_account_email(
        &state,
        merchant,
        "invitation",
        invitation.id.as_str(),
        &email,
        &format!("You're invited to {} on Paylink", settings.business_name),
        &format!(
            "You have been invited to join {} on Paylink as {}.\n\nAccept within 7 days: {url}\n\nIf you did not expect this, ignore this e-mail.\n",
            settings.business_name, input.role
        ),
    )
    .await?;
    Ok(created(&invitation_out(invitation)))
}

pub async fn list_invitations(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let data = state
        .store
        .list_invitations(auth.tenant.merchant_id(), Timestamp::now())
        .await?
        .into_iter()
        .map(invitation_out)
        .collect();
    Ok(ok(&List::new(
        paylink_store::Listed {
            data,
            has_more: false,
        },
        "/v1/team/invitations",
    )))
}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<InvitationId>,
) -> ApiResult<Response> {
    let merchant = auth.tenant.merchant_id();
    let inv = state
        .store
        .get_invitation(merchant, &id)
        .await
        .map_err(crate::api::not_found_as("invitation"))?;
    may_manage(&auth, inv.role)?;
    state
        .store
        .revoke_invitation(merchant, &id, Timestamp::now())
        .await
        .map_err(crate::api::not_found_as("invitation"))?;
    Ok(ok(&Deleted::new(id, "invitation")))
}
