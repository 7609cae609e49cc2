//! Getting in without a password: a reset link by e-mail (single use, 1 hour) and an
//! invitation link (single use, 7 days). The links leave only by e-mail, whose bodies the
//! outbox keeps sealed under the master key (opened when sent), so neither the database
//! nor `GET /v1/emails` shows a usable token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::email::Email;
use paylink_domain::id::{EmailId, MerchantId, UserId};
use paylink_domain::time::Timestamp;
use paylink_store::{
    Actor, Conflict, Invitee, PasswordReset, Store, StoreError, Tenant, User, RESET_SECS,
};

use super::sessions::NoContent;
use super::{link_invalid, passwords, record, tokens, Origin, UserOut};
use crate::api::routes::{reg, route, Route};
use crate::auth::Access::Public;
use crate::error::ApiResult;
use crate::json::{ok, reply, Json};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    let tag = "Accounts";
    vec![
        route(
            Method::POST,
            "/auth/forgot",
            tag,
            "Ask for a password reset link by e-mail (202 whether or not the account exists)",
            Public,
            202,
            reg::<NoContent>,
            forgot,
        )
        .body(reg::<ForgotIn>)
        .errors(429, &["too_many_attempts"]),
        route(
            Method::POST,
            "/auth/reset/{token}",
            tag,
            "Set a new password with a reset link's token (ends every session)",
            Public,
            200,
            reg::<UserOut>,
            reset,
        )
        .body(reg::<ResetIn>)
        .errors(400, &["password_too_weak"])
        .errors(404, &["resource_missing"]),
        route(
            Method::POST,
            "/auth/invitations/{token}/accept",
            tag,
            "Accept an invitation: a new account with this password, or an existing one's",
            Public,
            200,
            reg::<UserOut>,
            accept,
        )
        .body(reg::<AcceptIn>)
        .errors(400, &["password_too_weak"])
        .errors(401, &["invalid_credentials"])
        .errors(404, &["resource_missing"])
        .errors(429, &["too_many_attempts"]),
    ]
}

use crate::email::html_escape as escape;

/// Queues an e-mail that carries a token, its bodies sealed for this message only.
pub async fn queue_account_email(
    state: &AppState,
    merchant: &MerchantId,
    kind: &str,
    related_id: &str,
    to: &str,
    subject: &str,
    text: &str,
) -> ApiResult<()> {
    let id = EmailId::generate();
    let html = format!(
        "<!doctype html><html><body><p>{}</p></body></html>",
        escape(text).replace('\n', "<br>")
    );
    let email = Email {
        kind: kind.to_owned(),
        related_id: related_id.to_owned(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        text_body: state.sealer.seal(text, id.as_str()),
        html_body: state.sealer.seal(&html, id.as_str()),
        qr_url: None,
        status: state.outbox_status(),
        attempts: 0,
        last_error: None,
        livemode: false,
        created_at: Timestamp::now(),
        id,
    };
    state
        .store
        .queue_emails(&Tenant::stored(merchant.clone(), false), &[email], &[])
        .await?;
    Ok(())
}

/// A new reset of `user`'s password: the token, to be put in a link and forgotten.
pub async fn new_reset(store: &dyn Store, user: &UserId) -> Result<String, StoreError> {
    let token = tokens::new_token();
    let now = Timestamp::now();
    store
        .create_reset(&PasswordReset {
            token_hash: tokens::hash(&token),
            user_id: user.clone(),
            created_at: now,
            expires_at: now.plus_seconds(RESET_SECS),
        })
        .await?;
    Ok(token)
}

crate::patch_text_schema!(name_or_null, 1, 100, paylink_domain::text::TEXT_PATTERN);

/// An e-mail address, by the rule `text::email` checks.
fn email_schema() -> utoipa::openapi::schema::Object {
    paylink_domain::text::schema(1, 254, paylink_domain::text::EMAIL_PATTERN)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotIn {
    #[schema(schema_with = email_schema)]
    pub email: String,
}

/// E-mails a reset link to an account with this address. The answer is the same whatever
/// happens, and is given before any of the work (which differs when the account exists).
pub async fn forgot(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<ForgotIn>,
) -> ApiResult<Response> {
    let origin = Origin::of(addr.ip(), &headers);
    paylink_domain::text::email(&input.email, "email")?;
    state.logins.reset_asked(&input.email, origin.ip).await?;
    reset_after_answering(&state, input.email, origin);
    Ok(reply(StatusCode::ACCEPTED, &NoContent {}))
}

/// [`send_reset`] off the request's path: how long the answer takes says nothing of the
/// account. Failures are logged, never answered.
pub fn reset_after_answering(state: &AppState, email: String, origin: Origin) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send_reset(&state, &email, &origin).await {
            tracing::warn!(error = %e.message, "sending a password reset failed");
        }
    });
}

pub async fn send_reset(state: &AppState, email: &str, origin: &Origin) -> ApiResult<()> {
    if email.len() > 254 {
        return Ok(());
    }
    let Some(user) = state.store.find_user_by_email(email).await? else {
        return Ok(());
    };
    // The outbox is a merchant's: the message goes through the oldest membership's.
    let Some(first) = state.store.memberships(&user.id).await?.into_iter().next() else {
        return Ok(());
    };
    let token = new_reset(state.store.as_ref(), &user.id).await?;
    let url = format!("{}/reset/{token}", state.public_url);
    queue_account_email(
        state,
        &first.merchant_id,
        "password_reset",
        user.id.as_str(),
        &user.email,
        "Reset your Paylink password",
        &format!(
            "Someone asked to reset the password of your Paylink account.\n\nChoose a new one within an hour: {url}\n\nIf it was not you, ignore this e-mail: your password stays as it is.\n"
        ),
    )
    .await?;
    record(
        state,
        &[&first.merchant_id],
        Actor::Anonymous,
        "user.password_reset_requested",
        Some(user.id.to_string()),
        origin,
    )
    .await;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetIn {
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

/// Sets the password with a reset token; every session of the account ends.
pub async fn do_reset(
    state: &AppState,
    token: &str,
    password: String,
    origin: &Origin,
) -> ApiResult<UserId> {
    if !tokens::well_formed(token) {
        return Err(link_invalid("reset"));
    }
    // The link first: a made-up one costs no password hashing. Then the password, judged
    // knowing the account's address and name as an attacker would.
    let token_hash = tokens::hash(token);
    let user = state
        .store
        .find_reset(&token_hash, Timestamp::now())
        .await?
        .ok_or_else(|| link_invalid("reset"))?;
    let user = state.store.get_user(&user).await?;
    passwords::check_strength(&password, "password", &[&user.email, &user.name])?;
    let hash = passwords::hash_blocking(password).await?;
    let user = state
        .store
        .use_reset(&token_hash, &hash, Timestamp::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => link_invalid("reset"),
            e => e.into(),
        })?;
    let ms = state.store.memberships(&user).await?;
    let merchants: Vec<&MerchantId> = ms.iter().map(|m| &m.merchant_id).collect();
    record(
        state,
        &merchants,
        Actor::User(user.to_string()),
        "user.password_reset",
        Some(user.to_string()),
        origin,
    )
    .await;
    Ok(user)
}

pub async fn reset(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(input): Json<ResetIn>,
) -> ApiResult<Response> {
    let origin = Origin::of(addr.ip(), &headers);
    let user = do_reset(&state, &token, input.password, &origin).await?;
    Ok(ok(&UserOut::load(&state, &user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// Your name (a new account only).
    #[schema(schema_with = name_or_null)]
    pub name: Option<String>,
    /// A new account's password, or the existing account's.
    #[schema(max_length = 1024)]
    pub password: String,
    /// The existing account's current code, when it has a second factor.
    #[schema(max_length = 32)]
    pub totp: Option<String>,
}

/// Accepts an invitation: the invited address's account joins (after proving it with its
/// password), or a new account is made with this password.
pub async fn do_accept(
    state: &AppState,
    token: &str,
    name: Option<String>,
    password: String,
    totp: Option<&str>,
    origin: &Origin,
) -> ApiResult<UserId> {
    if !tokens::well_formed(token) {
        return Err(link_invalid("invitation"));
    }
    let now = Timestamp::now();
    let hash = tokens::hash(token);
    let inv = state
        .store
        .find_invitation(&hash, now)
        .await?
        .ok_or_else(|| link_invalid("invitation"))?;
    let invitee = match state.store.find_user_by_email(&inv.email).await? {
        Some(existing) => {
            // The account proves itself as it would signing in, second factor included.
            super::sessions::verify_person(state, &inv.email, &password, totp, origin).await?;
            Invitee::Existing(existing.id)
        }
        None => {
            let name = name.unwrap_or_default();
            let name = name.trim();
            paylink_domain::text::bounded(name, "name", 1, 100)?;
            passwords::check_strength(&password, "password", &[&inv.email, name])?;
            Invitee::New(User {
                id: UserId::generate(),
                email: inv.email.clone(),
                name: name.to_owned(),
                password_hash: passwords::hash_blocking(password).await?,
                totp_secret: None,
                created_at: now,
                last_login_at: None,
            })
        }
    };
    let joined = state
        .store
        .accept_invitation(&hash, &invitee, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => link_invalid("invitation"),
            StoreError::Conflict(Conflict::DuplicateObject) => link_invalid("invitation"),
            e => e.into(),
        })?;
    record(
        state,
        &[&joined.merchant_id],
        Actor::User(joined.user_id.to_string()),
        "team.invitation_accepted",
        Some(inv.id.to_string()),
        origin,
    )
    .await;
    Ok(joined.user_id)
}

pub async fn accept(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(input): Json<AcceptIn>,
) -> ApiResult<Response> {
    let origin = Origin::of(addr.ip(), &headers);
    super::at_most(&input.password, "password", 1024)?;
    if let Some(n) = &input.name {
        super::at_most(n, "name", 100)?;
    }
    let user = do_accept(
        &state,
        &token,
        input.name,
        input.password,
        input.totp.as_deref(),
        &origin,
    )
    .await?;
    Ok(ok(&UserOut::load(&state, &user).await?))
}
