//! JSON in and out: a body extractor whose every rejection is the contract's error object,
//! naming the offending field path (`line_items[2].quantity`). Structs are read from JSON
//! objects only ([`objects`]); a route that documents no body takes none ([`no_body`]).

mod objects;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use objects::Objects;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body. An empty body reads as `{}` so that action endpoints need none.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "body_unreadable",
                    "The request body could not be read",
                )
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// The body of a route that documents none: nothing, or `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoBody {}

/// For a route that documents no body (an action, a delete): a body other than nothing or
/// `{}` is refused as a route with a body refuses it (`invalid_json`, `parameter_unknown`,
/// …), never ignored while the action goes ahead.
pub async fn no_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return too_large().into_response();
    };
    if let Err(mut e) = parse::<NoBody>(&bytes) {
        if e.code == "parameter_invalid" {
            e.message = "This route takes no body: send none, or `{}`".into();
        }
        return e.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "body_too_large",
        format!("The request body is larger than {} KiB", MAX_BODY / 1024),
    )
}

/// Parses a JSON body, mapping each failure to a clear error with its field path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // No body (or JSON's own whitespace only) is an empty object; a form feed is no JSON.
    let bytes: &[u8] = if bytes.iter().all(|b| b" \t\r\n".contains(b)) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(Objects(&mut *de)) {
        Ok(v) => v,
        // JSON has one number type: `500.0` is the integer 500 (as JSON Schema says). Only
        // a body that was refused for a float is read again, so a right one costs nothing.
        Err(e)
            if e.inner()
                .to_string()
                .starts_with("invalid type: floating point") =>
        {
            let mut v: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|e| json_error(&e, String::new()))?;
            integral_floats_to_integers(&mut v);
            return serde_path_to_error::deserialize(Objects(v)).map_err(path_error);
        }
        Err(e) => return Err(path_error(e)),
    };
    de.end().map_err(|e| json_error(&e, String::new()))?;
    Ok(value)
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let param = if path == "." { String::new() } else { path };
    json_error(&inner, param)
}

/// Rewrites every number with no fraction that a double holds exactly (|n| ≤ 2⁵³) as an
/// integer; other numbers stay as they are and are refused as before.
fn integral_floats_to_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT) {
                // In range and integral: the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *v = Value::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

fn json_error(e: &serde_json::Error, param: String) -> ApiError {
    use serde_json::error::Category;
    let msg = e.to_string();
    // serde_json appends " at line L column C"; keep the message about the value.
    let detail = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_json",
            format!("The request body is not valid JSON: {detail}"),
        ),
        Category::Data if detail.starts_with("unknown field") => {
            let field = detail.split('`').nth(1).unwrap_or("").to_owned();
            let param = if param.is_empty() { field } else { param };
            ApiError::invalid(
                "parameter_unknown",
                param,
                format!("Unknown parameter: {detail}"),
            )
        }
        Category::Data if detail.starts_with("missing field") => {
            let field = detail.split('`').nth(1).unwrap_or("").to_owned();
            let param = if param.is_empty() {
                field
            } else {
                format!("{param}.{field}")
            };
            ApiError::invalid(
                "parameter_missing",
                param,
                format!("Missing required parameter: {detail}"),
            )
        }
        Category::Data if param.is_empty() => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_invalid",
            format!("Invalid request body: {detail}"),
        ),
        Category::Data => ApiError::invalid(
            "parameter_invalid",
            param,
            format!("Invalid value: {detail}"),
        ),
    }
}

/// Query-string parameters, rejected with the contract's error object.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                let code = if msg.starts_with("unknown field") {
                    "parameter_unknown"
                } else {
                    "parameter_invalid"
                };
                let param = if path == "." {
                    msg.split('`').nth(1).unwrap_or("").to_owned()
                } else {
                    path
                };
                ApiError::invalid(code, param, format!("Invalid query parameter: {msg}"))
            })
    }
}

/// A JSON answer with a status.
pub fn reply<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

pub fn ok<T: Serialize>(body: &T) -> Response {
    reply(StatusCode::OK, body)
}

pub fn created<T: Serialize>(body: &T) -> Response {
    reply(StatusCode::CREATED, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        amount: i64,
        quantities: Vec<u32>,
    }

    #[test]
    fn integral_floats_are_integers() {
        let b: Body = parse(br#"{"amount": 500.0, "quantities": [1.0, 2]}"#).unwrap();
        assert_eq!(
            b,
            Body {
                amount: 500,
                quantities: vec![1, 2]
            }
        );
        for (body, param) in [
            (&br#"{"amount": 5.5, "quantities": []}"#[..], "amount"),
            (br#"{"amount": 1e300, "quantities": []}"#, "amount"),
            (
                br#"{"amount": 9007199254740994.0, "quantities": []}"#,
                "amount",
            ),
            (br#"{"amount": 1, "quantities": [-1.0]}"#, "quantities[0]"),
            (br#"{"amount": 1.0, "quantities": [], "x": 1}"#, "x"),
        ] {
            let e = parse::<Body>(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{e:?}");
        }
    }
}
