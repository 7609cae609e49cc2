//! The edge: what every request meets before any route, and every answer before it leaves.
//!
//! - **Text inputs**: a NUL character (`%00` in the path or query, `\u0000` in a JSON body,
//!   `%00` in a form) or bytes that are not UTF-8 in the path or query are refused here, once
//!   for every route, with `400 parameter_invalid`. PostgreSQL cannot store NUL in text
//!   and SQLite would; refusing it at the edge makes both backends answer alike.
//! - **Bodies too large** are answered `413` with `Connection: close`: their rest is never
//!   read, so the connection ends with the answer.
//! - **Error bodies**: an error answered by the framework rather than by a handler (a path
//!   or form that does not parse, `413`, `415`) goes out as the contract's JSON error object,
//!   never as bare text.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::json::{too_large, MAX_BODY};

pub async fn guard(req: Request, next: Next) -> Response {
    if let Err(e) = check_uri(req.uri()) {
        return e.into_response();
    }
    let req = match check_body(req).await {
        Ok(req) => req,
        Err(e) => {
            let mut res = e.into_response();
            // The rest of a body too large is never read, so the connection cannot carry
            // another request: hyper closes it, and the answer says so, or a client that
            // keeps it alive sends its next request into a closed socket.
            if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return res;
        }
    };
    as_json_error(next.run(req).await)
}

fn nul(param: &str) -> ApiError {
    ApiError::invalid(
        "parameter_invalid",
        param,
        format!("`{param}` contains a NUL character, which no text field may hold"),
    )
}

fn not_utf8(param: &str) -> ApiError {
    ApiError::invalid(
        "parameter_invalid",
        param,
        format!("`{param}` is not valid UTF-8 once percent-decoded"),
    )
}

fn check_uri(uri: &axum::http::Uri) -> Result<(), ApiError> {
    let path = uri.path();
    if path.contains('%') {
        let decoded: Vec<u8> = percent_decode(path.as_bytes());
        if decoded.contains(&0) {
            return Err(nul("path"));
        }
        if std::str::from_utf8(&decoded).is_err() {
            return Err(not_utf8("path"));
        }
    }
    if let Some(q) = uri.query() {
        if q.contains('%') {
            for pair in q.split('&') {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let name_bytes = percent_decode(name.as_bytes());
                let shown = String::from_utf8_lossy(&name_bytes).into_owned();
                for part in [&name_bytes, &percent_decode(value.as_bytes())] {
                    if part.contains(&0) {
                        return Err(nul(&shown));
                    }
                    if std::str::from_utf8(part).is_err() {
                        return Err(not_utf8(&shown));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `%XX` decoded (a `%` not followed by two hex digits stays as it is); `+` is left alone,
/// as it cannot hide a NUL or break UTF-8.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s.get(i).copied().unwrap_or_default();
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Whether a JSON text holds a NUL: a raw 0 byte, or a `\u0000` escape (not an escaped
/// backslash followed by `u0000`, which is text).
pub fn json_has_nul(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        match body.get(i) {
            Some(0) => return true,
            Some(b'\\') => {
                if body.get(i + 1) == Some(&b'u') && body.get(i + 2..i + 6) == Some(b"0000") {
                    return true;
                }
                // Skip the escaped character, whatever it is.
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

async fn check_body(req: Request) -> Result<Request, ApiError> {
    use axum::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD)
        || req.headers().get(header::CONTENT_LENGTH) == Some(&HeaderValue::from_static("0"))
    {
        return Ok(req);
    }
    // Forms are percent-encoded; anything else is read as JSON (`Json` takes a body of any
    // content type), so it is scanned as JSON.
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let (parts, body) = req.into_parts();
    let bytes: Bytes = to_bytes(body, MAX_BODY).await.map_err(|_| too_large())?;
    // Whatever the content type says, `Json` may read the body: it is always scanned as
    // JSON, and a form also once percent-decoded.
    let bad = json_has_nul(&bytes) || (form && percent_decode(&bytes).contains(&0));
    if bad {
        return Err(nul("body"));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// An error answer without a JSON or HTML body becomes the contract's error object.
fn as_json_error(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let typed = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if typed {
        return res;
    }
    let mut e = framework_error(status);
    if let Some(after) = res.headers().get(header::RETRY_AFTER) {
        e.retry_after = after.to_str().ok().and_then(|v| v.parse().ok());
    }
    let mut out = e.into_response();
    for name in [header::ALLOW, header::CONNECTION] {
        if let Some(v) = res.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// The error object for a bare status the framework (or the HTTP layer) answered.
pub fn framework_error(status: StatusCode) -> ApiError {
    let (kind, code, message) = match status {
        StatusCode::BAD_REQUEST => (
            "invalid_request_error",
            "invalid_request",
            "The request could not be read (a path, query or body that does not parse)",
        ),
        StatusCode::NOT_FOUND => ("not_found", "route_not_found", "No such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "invalid_request_error",
            "method_not_allowed",
            "This route does not accept that HTTP method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "invalid_request_error",
            "unsupported_media_type",
            "This route does not accept a body of that content type",
        ),
        StatusCode::URI_TOO_LONG => (
            "invalid_request_error",
            "uri_too_long",
            "The request's URI is too long",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "invalid_request_error",
            "headers_too_large",
            "The request has too many or too large headers",
        ),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED => (
            "invalid_request_error",
            "http_version_not_supported",
            "Use HTTP/1.1",
        ),
        s if s.is_server_error() => ("api_error", "internal_error", "An internal error occurred"),
        _ => (
            "invalid_request_error",
            "invalid_request",
            "The request could not be processed",
        ),
    };
    ApiError::new(status, kind, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(json_has_nul(br#"{"a":"x\u0000y"}"#));
        assert!(json_has_nul(b"{\"a\":\"x\0\"}"));
        assert!(json_has_nul(br#"{"a\u0000":1}"#));
        assert!(!json_has_nul(br#"{"a":"x\\u0000y"}"#));
        assert!(json_has_nul(br#"{"a":"x\\\u0000y"}"#));
        assert!(!json_has_nul(br#"{"a":"\u0001"}"#));
        assert!(!json_has_nul(br#"{"a":"\\"}"#));
        assert!(!json_has_nul(b"\\"));
    }

    #[test]
    fn uris_with_nul_or_bad_utf8_are_refused() {
        let bad = |u: &str| check_uri(&u.parse().unwrap()).unwrap_err();
        assert_eq!(bad("/l/a%00b").param.as_deref(), Some("path"));
        assert_eq!(bad("/l/%ff%fe").param.as_deref(), Some("path"));
        assert_eq!(bad("/v1/x?q=a%00").param.as_deref(), Some("q"));
        assert_eq!(
            bad("/v1/x?limit=1&email=%C3").param.as_deref(),
            Some("email")
        );
        assert!(check_uri(&"/l/caf%C3%A9?q=%25%30%30&x=%zz".parse().unwrap()).is_ok());
        assert!(check_uri(&"/v1/x?q=plain".parse().unwrap()).is_ok());
        // `%+0` is no escape.
        assert!(check_uri(&"/v1/x?q=%+0".parse().unwrap()).is_ok());
    }

    #[test]
    fn bare_errors_become_json() {
        let res = (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Expected form").into_response();
        let out = as_json_error(res);
        assert_eq!(out.status(), 415);
        assert_eq!(out.headers()[header::CONTENT_TYPE], hv("application/json"));
        let html = (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, hv("text/html; charset=utf-8"))],
            "<p>gone</p>",
        )
            .into_response();
        assert_eq!(
            as_json_error(html).headers()[header::CONTENT_TYPE],
            hv("text/html; charset=utf-8")
        );
    }
}
