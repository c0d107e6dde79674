//! The HTTP layer: routes `/rest/…`, `/oauth/token/` and `/_emu/…` onto the engine.

use crate::engine::{Engine, Reply, RestRequest};
use crate::php::{listify, parse_query};
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub type Shared = Arc<Mutex<Engine>>;

const MAX_BODY: usize = 64 * 1024 * 1024;

/// Splits `/rest/{user}/{code}/{method}[.json][/]` or `/rest/{method}[.json]`.
pub fn parse_rest_path(path: &str) -> Option<(Option<(i64, String)>, String)> {
    let rest = path.strip_prefix("/rest/")?.trim_end_matches('/');
    let parts: Vec<&str> = rest.split('/').collect();
    let strip = |m: &str| {
        let lower = m.to_ascii_lowercase();
        if lower.ends_with(".json") {
            m[..m.len() - 5].to_string()
        } else {
            m.to_string()
        }
    };
    match parts.as_slice() {
        [user, code, method] => {
            let user: i64 = user.parse().ok()?;
            Some((Some((user, code.to_string())), strip(method)))
        }
        [method] if !method.is_empty() => Some((None, strip(method))),
        _ => None,
    }
}

/// Parameters from the query string and the body (JSON or PHP form); the body wins.
pub fn parse_params(query: Option<&str>, content_type: &str, body: &[u8]) -> Result<Value, String> {
    let mut params = match query {
        Some(q) if !q.is_empty() => listify(parse_query(q)),
        _ => Value::Object(Map::new()),
    };
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(params);
    }
    let from_body = if content_type.contains("json") || trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => Value::Object(Map::new()),
            Err(_) if content_type.contains("json") => return Err("invalid JSON body".into()),
            Err(_) => listify(parse_query(trimmed)),
        }
    } else {
        listify(parse_query(trimmed))
    };
    if let (Value::Object(base), Value::Object(extra)) = (&mut params, from_body) {
        for (k, v) in extra {
            base.insert(k, v);
        }
    }
    Ok(params)
}

fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if reply.drop {
        let stream = futures_util::stream::iter([Err::<Vec<u8>, std::io::Error>(
            std::io::Error::other("dropped"),
        )]);
        let mut r = Response::new(Body::from_stream(stream));
        *r.status_mut() = StatusCode::OK;
        return r;
    }
    let mut body = reply.body;
    if reply.truncate {
        let mut cut = body.len() / 2;
        while cut > 0 && !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
    }
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let ct = if reply.html {
        "text/html; charset=UTF-8"
    } else {
        "application/json; charset=utf-8"
    };
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Some(loc) = reply.location {
        if let Ok(v) = HeaderValue::from_str(&loc) {
            r.headers_mut().insert(header::LOCATION, v);
        }
    }
    r
}

fn json_response(status: u16, v: &Value) -> Response {
    respond(Reply::json(status, v.to_string()))
}

pub async fn handle(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return json_response(
                400,
                &json!({"error": "INVALID_REQUEST", "error_description": "Body too large"}),
            )
        }
    };
    if let Some(rest) = path.strip_prefix("/_emu/") {
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    return json_response(400, &json!({"error": format!("invalid JSON: {e}")}))
                }
            }
        };
        let shared2 = shared.clone();
        let method = parts.method.to_string();
        let rest = rest.trim_end_matches('/').to_string();
        let ip = peer.ip().to_string();
        let res = tokio::task::spawn_blocking(move || {
            crate::emu::handle(&shared2, &method, &rest, query.as_deref(), body, &ip)
        })
        .await;
        return match res {
            Ok((status, v)) => json_response(status, &v),
            Err(_) => json_response(500, &json!({"error": "emulator task failed"})),
        };
    }
    if path.starts_with("/oauth/token") {
        let params = listify(parse_query(query.as_deref().unwrap_or("")));
        let mut engine = match shared.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        let (status, v) = engine.oauth_token(&params);
        return json_response(status, &v);
    }
    let Some((webhook, method)) = parse_rest_path(&path) else {
        return json_response(
            404,
            &json!({"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}),
        );
    };
    let params = match parse_params(query.as_deref(), &content_type, &bytes) {
        Ok(p) => p,
        Err(e) => {
            return json_response(
                400,
                &json!({"error": "INVALID_REQUEST", "error_description": e}),
            )
        }
    };
    let rest_req = RestRequest {
        http_method: parts.method.to_string(),
        path,
        ip: peer.ip().to_string(),
        webhook,
        method,
        params,
    };
    let shared2 = shared.clone();
    let reply = tokio::task::spawn_blocking(move || {
        let mut engine = match shared2.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        engine.handle_rest(rest_req)
    })
    .await
    .unwrap_or_else(|_| {
        Reply::json(
            500,
            json!({"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"})
                .to_string(),
        )
    });
    if reply.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(reply.delay_ms)).await;
    }
    respond(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_paths_parse_with_and_without_json_and_slash() {
        let (w, m) = parse_rest_path("/rest/1/abc/crm.item.list.json").unwrap();
        assert_eq!(w, Some((1, "abc".to_string())));
        assert_eq!(m, "crm.item.list");
        let (_, m) = parse_rest_path("/rest/1/abc/crm.item.list/").unwrap();
        assert_eq!(m, "crm.item.list");
        let (w, m) = parse_rest_path("/rest/profile").unwrap();
        assert_eq!((w, m.as_str()), (None, "profile"));
        assert!(parse_rest_path("/rest/x/abc/profile").is_none());
    }

    #[test]
    fn body_overrides_query_and_forms_parse_brackets() {
        let p = parse_params(
            Some("a=1&b=2"),
            "application/x-www-form-urlencoded",
            b"b=3&fields[TITLE]=x",
        )
        .unwrap();
        assert_eq!(p, json!({"a":"1","b":"3","fields":{"TITLE":"x"}}));
    }
}
