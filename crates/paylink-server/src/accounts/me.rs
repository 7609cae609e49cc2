//! A signed-in person's own account: who they are, their sessions, their password.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::id::SessionId;
use paylink_domain::time::Timestamp;
use paylink_store::{Actor, SessionRecord, SESSION_IDLE_SECS};

use super::{passwords, record, Origin, UserOut};
use crate::api::path::PathId;
use crate::api::routes::{list, reg, route, Route};
use crate::api::Deleted;
use crate::auth::Access::Person;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::{ok, Json};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    let tag = "Accounts";
    vec![
        route(
            Method::GET,
            "/v1/me",
            tag,
            "The signed-in person, with their memberships",
            Person,
            200,
            reg::<UserOut>,
            me,
        ),
        route(
            Method::GET,
            "/v1/me/sessions",
            tag,
            "The person's live sessions",
            Person,
            200,
            list::<SessionOut>,
            sessions,
        ),
        route(
            Method::DELETE,
            "/v1/me/sessions/{id}",
            tag,
            "End one of the person's sessions",
            Person,
            200,
            reg::<Deleted>,
            end_session,
        ),
        route(
            Method::POST,
            "/v1/me/password",
            tag,
            "Change the password (ends every other session)",
            Person,
            200,
            reg::<UserOut>,
            change_password,
        )
        .body(reg::<PasswordIn>)
        .errors(400, &["password_too_weak", "incorrect_password"])
        .errors(429, &["too_many_attempts"]),
    ]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionOut {
    pub id: SessionId,
    #[schema(value_type = String, example = "session")]
    pub object: &'static str,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// When it ends unless used again (12 idle hours, at most 7 days after sign-in).
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session making this request.
    pub current: bool,
}

fn session_out(s: SessionRecord, current: &SessionId) -> SessionOut {
    let idle_end = s.last_seen_at.plus_seconds(SESSION_IDLE_SECS);
    SessionOut {
        current: &s.id == current,
        id: s.id,
        object: "session",
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: if idle_end.unix() < s.expires_at.unix() {
            idle_end
        } else {
            s.expires_at
        },
        user_agent: s.user_agent,
        ip: s.ip,
    }
}

pub async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let (user, _) = auth.person()?;
    Ok(ok(&UserOut::load(&state, user).await?))
}

pub async fn sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let (user, current) = auth.person()?;
    let all = state.store.list_sessions(user, Timestamp::now()).await?;
    let data: Vec<SessionOut> = all.into_iter().map(|s| session_out(s, current)).collect();
    Ok(ok(&crate::api::List::new(
        paylink_store::Listed {
            data,
            has_more: false,
        },
        "/v1/me/sessions",
    )))
}

pub async fn end_session(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
) -> ApiResult<Response> {
    let (user, _) = auth.person()?;
    state
        .store
        .end_session(user, &id)
        .await
        .map_err(crate::api::not_found_as("session"))?;
    Ok(ok(&Deleted::new(id, "session")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    #[schema(max_length = 1024)]
    pub current_password: String,
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: Auth,
    Json(input): Json<PasswordIn>,
) -> ApiResult<Response> {
    let (user_id, session) = auth.person()?;
    let origin = Origin::of(addr.ip(), &headers);
    let user = state.store.get_user(user_id).await?;
    super::sessions::confirm_password(
        &state,
        &user,
        &input.current_password,
        "current_password",
        &origin,
    )
    .await?;
    passwords::check_strength(
        &input.new_password,
        "new_password",
        &[&user.email, &user.name],
    )?;
    let hash = passwords::hash_blocking(input.new_password).await?;
    state
        .store
        .set_password(user_id, &hash, Some(session))
        .await?;
    record(
        &state,
        &[auth.tenant.merchant_id()],
        Actor::User(user_id.to_string()),
        "user.password_changed",
        Some(user_id.to_string()),
        &origin,
    )
    .await;
    Ok(ok(&UserOut::load(&state, user_id).await?))
}
