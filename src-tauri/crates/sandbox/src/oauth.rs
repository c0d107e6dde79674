//! OAuth tokens (`GET /oauth/token/` stands in for oauth.bitrix.info).

use crate::api::ApiError;
use crate::engine::Caller;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub user_id: i64,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

#[derive(Debug, Default)]
pub struct Tokens {
    pub access: HashMap<String, AccessToken>,
}

impl Tokens {
    pub fn check_access(&self, token: &str, now: i64) -> Result<Caller, ApiError> {
        let t = self.access.get(token).ok_or_else(|| {
            ApiError::new(
                401,
                "invalid_token",
                "The access token provided is invalid.",
            )
        })?;
        if t.expires_at <= now {
            return Err(ApiError::new(
                401,
                "expired_token",
                "The access token provided has expired.",
            ));
        }
        Ok(Caller {
            user: t.user_id,
            credential: token.to_string(),
            scopes: t.scopes.clone(),
        })
    }
}

pub fn create_client(
    _engine: &mut crate::engine::Engine,
    _body: &serde_json::Value,
    _user: i64,
    _scopes: Vec<String>,
) -> (u16, serde_json::Value) {
    (501, serde_json::json!({"error": "not yet"}))
}

impl crate::engine::Engine {
    pub fn oauth_token(&mut self, _params: &serde_json::Value) -> (u16, serde_json::Value) {
        (400, serde_json::json!({"error": "invalid_request"}))
    }
}
