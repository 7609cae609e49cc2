//! The team: members with their roles (changed or removed where the caller may), pending
//! invitations (revoked), and the invitation form. The API decides who may do what (only
//! owners touch owners; the last owner stays); the page offers what the role holds.

use askama::Template;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

use paylink_domain::access::Role;

use super::client::{Api, Page};
use super::view::{clean, when};
use super::{page, refused, see_other, Shell, Visit};

#[derive(Deserialize)]
struct MemberIn {
    id: String,
    email: String,
    name: String,
    role: Role,
    last_login_at: Option<paylink_domain::time::Timestamp>,
}

#[derive(Deserialize)]
struct InvitationIn {
    id: String,
    email: String,
    role: Role,
    expires_at: paylink_domain::time::Timestamp,
}

pub struct MemberRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: &'static str,
    pub last_seen: String,
    pub is_me: bool,
    /// Whether the signed-in person may change or remove this member.
    pub manageable: bool,
}

pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: &'static str,
    pub expires: String,
    pub manageable: bool,
}

#[derive(Template)]
#[template(path = "dashboard/team.html")]
struct TeamPage {
    shell: Shell,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    /// The roles the signed-in person may give.
    roles: Vec<&'static str>,
    email: String,
    error: Option<String>,
}

async fn team_page(
    v: &Visit,
    api: &Api,
    error: Option<(StatusCode, String)>,
    email: String,
) -> Response {
    let who = v.caller();
    let (members, invitations) = tokio::join!(
        api.get::<Page<MemberIn>>(&who, "/v1/team/members"),
        api.get::<Page<InvitationIn>>(&who, "/v1/team/invitations"),
    );
    let members = match members {
        Ok(m) => m.data,
        Err(r) => return refused(v, &r),
    };
    let manages = |r: Role| v.role.manages(r);
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        &TeamPage {
            shell: v.shell("Team", "team"),
            members: members
                .into_iter()
                .map(|m| MemberRow {
                    is_me: m.id == v.user.id.as_str(),
                    manageable: manages(m.role),
                    last_seen: m.last_login_at.map(when).unwrap_or_else(|| "never".into()),
                    role: m.role.as_str(),
                    id: m.id,
                    email: m.email,
                    name: m.name,
                })
                .collect(),
            invitations: invitations
                .map(|p| p.data)
                .unwrap_or_default()
                .into_iter()
                .map(|i| InvitationRow {
                    manageable: manages(i.role),
                    role: i.role.as_str(),
                    expires: when(i.expires_at),
                    id: i.id,
                    email: i.email,
                })
                .collect(),
            roles: Role::ALL
                .into_iter()
                .filter(|r| manages(*r))
                .map(Role::as_str)
                .collect(),
            email,
            error,
        },
    )
}

pub async fn show(v: Visit, Extension(api): Extension<Api>) -> Response {
    team_page(&v, &api, None, String::new()).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn invite(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<InviteForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let email = clean(Some(&f.email), 254);
    let body = json!({"email": email, "role": clean(Some(&f.role), 20)});
    match api
        .call(
            &v.caller(),
            Method::POST,
            "/v1/team/invitations",
            Some(&body),
            None,
        )
        .await
    {
        Ok(_) => see_other("/dashboard/team"),
        Err(r) => team_page(&v, &api, Some((r.status, r.message)), email).await,
    }
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

/// Changes a member's role (`action` = `role`) or removes them (`remove`).
pub async fn member_act(
    v: Visit,
    Extension(api): Extension<Api>,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<MemberForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let path = format!("/v1/team/members/{id}");
    let (method, body) = match action.as_str() {
        "role" => (
            Method::PATCH,
            Some(json!({"role": clean(Some(&f.role), 20)})),
        ),
        "remove" => (Method::DELETE, None),
        _ => return super::no_such(&v),
    };
    match api
        .call(&v.caller(), method, &path, body.as_ref(), None)
        .await
    {
        // Someone who removed themselves has no team page any more.
        Ok(_) if action == "remove" && id == v.user.id.as_str() => see_other("/login"),
        Ok(_) => see_other("/dashboard/team"),
        Err(r) => team_page(&v, &api, Some((r.status, r.message)), String::new()).await,
    }
}

/// Revokes an invitation.
pub async fn revoke(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<MemberForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id) else {
        return super::no_such(&v);
    };
    let path = format!("/v1/team/invitations/{id}");
    match api
        .call(&v.caller(), Method::DELETE, &path, None, None)
        .await
    {
        Ok(_) => see_other("/dashboard/team"),
        Err(r) => team_page(&v, &api, Some((r.status, r.message)), String::new()).await,
    }
}
