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

#[derive(Debug, Clone)]
pub struct Client {
    pub secret: String,
    pub user_id: i64,
    pub scopes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Tokens {
    pub access: HashMap<String, AccessToken>,
    /// refresh token → (client id, expiry)
    pub refresh: HashMap<String, (String, i64)>,
    pub clients: HashMap<String, Client>,
    pub issued: u64,
    /// `http://127.0.0.1:PORT`, for `client_endpoint`.
    pub base_url: String,
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
            app: Some(t.client_id.clone()),
        })
    }
}

const REFRESH_TTL: i64 = 180 * 86_400;

fn token(seed: u64, n: u64) -> String {
    use rand::{Rng, SeedableRng};
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| ALPHA[rng.random_range(0..ALPHA.len())] as char)
        .collect()
}

impl crate::engine::Engine {
    /// Issues a new token pair for a client (F9 shape).
    fn issue(&mut self, client_id: &str) -> serde_json::Value {
        let now = self.clock.now();
        let Some(c) = self.oauth.clients.get(client_id).cloned() else {
            return serde_json::json!({});
        };
        self.oauth.issued += 1;
        let access = token(self.seed, self.oauth.issued * 2);
        let refresh = token(self.seed, self.oauth.issued * 2 + 1);
        let ttl = self.cfg.access_token_ttl;
        self.oauth.access.insert(
            access.clone(),
            AccessToken {
                user_id: c.user_id,
                client_id: client_id.to_string(),
                scopes: c.scopes.clone(),
                expires_at: now + ttl,
            },
        );
        self.oauth
            .refresh
            .insert(refresh.clone(), (client_id.to_string(), now + REFRESH_TTL));
        let base = &self.oauth.base_url;
        serde_json::json!({
            "access_token": access, "client_endpoint": format!("{base}/rest/"), "domain": "127.0.0.1",
            "expires": now + ttl, "expires_in": ttl, "member_id": format!("{:032x}", self.seed),
            "refresh_token": refresh, "scope": c.scopes.join(","), "server_endpoint": format!("{base}/oauth/"),
            "status": "L", "user_id": c.user_id,
        })
    }

    /// `GET /oauth/token/` (refresh_token grant).
    pub fn oauth_token(&mut self, params: &serde_json::Value) -> (u16, serde_json::Value) {
        let get = |k: &str| crate::api::param_str(params, k).unwrap_or_default();
        let err = |e: &str, d: &str| (400, serde_json::json!({"error": e, "error_description": d}));
        let client_id = get("client_id");
        let Some(client) = self.oauth.clients.get(&client_id).cloned() else {
            return err("invalid_client", "Invalid client.");
        };
        if client.secret != get("client_secret") {
            return err("invalid_client", "Invalid client secret.");
        }
        match get("grant_type").as_str() {
            "refresh_token" => {
                let rt = get("refresh_token");
                match self.oauth.refresh.remove(&rt) {
                    Some((cid, exp)) if cid == client_id && exp > self.clock.now() => {
                        (200, self.issue(&client_id))
                    }
                    _ => err("invalid_grant", "Invalid refresh token."),
                }
            }
            "authorization_code" => err("invalid_grant", "Invalid authorization code."),
            _ => err("invalid_request", "Unsupported grant type."),
        }
    }
}

pub fn create_client(
    engine: &mut crate::engine::Engine,
    body: &serde_json::Value,
    user: i64,
    scopes: Vec<String>,
) -> (u16, serde_json::Value) {
    let get = |k: &str| {
        body.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let client_id = get("clientId");
    if client_id.is_empty() {
        return (400, serde_json::json!({"error": "clientId is required"}));
    }
    engine.oauth.clients.insert(
        client_id.clone(),
        Client {
            secret: get("clientSecret"),
            user_id: user,
            scopes,
        },
    );
    (200, engine.issue(&client_id))
}
