//! The dashboard's door to the API: every page reads and every form writes through the
//! `/v1` routes themselves, called in this process with the person's own session token.
//! So a rule, a permission and an error message are the API's whichever door a merchant
//! uses, every change is in the audit log and the events, and nothing is written twice.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::ServiceExt;

/// The `/v1` router, with its layers (authentication, rate limits, idempotency, audit).
#[derive(Clone)]
pub struct Api(pub Arc<Router>);

/// Who calls: the signed-in person's token and where they are.
pub struct Caller<'a> {
    pub token: &'a str,
    /// The session as the page read it: the API need not read it again.
    pub vouched: Option<&'a crate::accounts::sessions::Vouched>,
    pub live: bool,
    pub addr: SocketAddr,
    pub user_agent: Option<&'a str>,
}

/// The API's refusal, as it would answer it.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
}

impl Refusal {
    fn of(status: StatusCode, body: &Value) -> Self {
        let e = &body["error"];
        let text = |k: &str| e[k].as_str().map(str::to_owned);
        Self {
            status,
            code: text("code").unwrap_or_else(|| "api_error".into()),
            message: text("message").unwrap_or_else(|| "Something went wrong".into()),
            param: text("param"),
        }
    }

    fn internal(why: impl std::fmt::Display) -> Self {
        tracing::error!(error = %why, "a dashboard call to the API failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "api_error".into(),
            message: "Something went wrong on our side; try again".into(),
            param: None,
        }
    }
}

impl Api {
    /// `method path` with `body` as `who`; the answer's JSON, or the API's refusal.
    /// `idempotency_key` makes a form sent twice (a double click, a reload) change once.
    pub async fn call(
        &self,
        who: &Caller<'_>,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Refusal> {
        let (status, bytes) = self.send(who, method, path, body, idempotency_key).await?;
        let json: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(Refusal::internal)?
        };
        if status.is_success() {
            Ok(json)
        } else {
            Err(Refusal::of(status, &json))
        }
    }

    async fn send(
        &self,
        who: &Caller<'_>,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, axum::body::Bytes), Refusal> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Token {}", who.token));
        if who.live {
            req = req.header("paylink-mode", "live");
        }
        if let Some(ua) = who.user_agent {
            req = req.header(header::USER_AGENT, ua);
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).map_err(Refusal::internal)?;
        req.extensions_mut().insert(ConnectInfo(who.addr));
        if let Some(v) = who.vouched {
            req.extensions_mut().insert(v.clone());
        }
        let res = self
            .0
            .as_ref()
            .clone()
            .oneshot(req)
            .await
            .map_err(Refusal::internal)?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .map_err(Refusal::internal)?;
        Ok((status, bytes))
    }

    /// A read of something not JSON (a QR code), as its bytes.
    pub async fn raw(&self, who: &Caller<'_>, path: &str) -> Result<axum::body::Bytes, Refusal> {
        let (status, bytes) = self.send(who, Method::GET, path, None, None).await?;
        if status.is_success() {
            Ok(bytes)
        } else {
            let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Err(Refusal::of(status, &json))
        }
    }

    /// A read, as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        who: &Caller<'_>,
        path: &str,
    ) -> Result<T, Refusal> {
        let v = self.call(who, Method::GET, path, None, None).await?;
        serde_json::from_value(v).map_err(Refusal::internal)
    }
}

/// A page of a list as the API answers it.
#[derive(serde::Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// A list page's rows as a page shows them: the rows made of a `/v1` list's page, or none
/// and the API's refusal in its words (with the field it names).
pub struct Rows<R> {
    pub rows: Vec<R>,
    pub has_more: bool,
    pub error: Option<String>,
    pub error_param: String,
}

impl Api {
    /// `GET path` (a `/v1` list) as rows made by `row`.
    pub async fn rows<T: DeserializeOwned, R>(
        &self,
        who: &Caller<'_>,
        path: &str,
        row: impl Fn(&T) -> R,
    ) -> Rows<R> {
        match self.get::<Page<T>>(who, path).await {
            Ok(p) => Rows {
                rows: p.data.iter().map(row).collect(),
                has_more: p.has_more,
                error: None,
                error_param: String::new(),
            },
            Err(r) => Rows {
                rows: Vec::new(),
                has_more: false,
                error: Some(r.message),
                error_param: r.param.unwrap_or_default(),
            },
        }
    }
}
