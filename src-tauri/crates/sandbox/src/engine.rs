//! The engine: portal + config + clock + limits + faults + request log, and the `/rest/`
//! request pipeline (route → authenticate → scope → rate limit → operating limit → method).

use crate::api::{dispatch, scope_of, ApiError, Call, Out};
use crate::clock::{fmt_datetime, Clock};
use crate::config::Config;
use crate::faults::{Action, Faults};
use crate::limits::Limits;
use crate::reqlog::{LogEntry, RequestLog};
use crate::state::Portal;
use serde_json::{json, Value};
use std::time::Instant;

/// Calls this short are not counted by the operating limit (`loadlimiter.php`).
const FREE_CALL_SECONDS: f64 = 0.1;

pub struct Engine {
    pub portal: Portal,
    pub cfg: Config,
    pub clock: Clock,
    pub seed: u64,
    pub records: Option<usize>,
    pub limits: Limits,
    pub faults: Faults,
    pub log: RequestLog,
    pub persist: Option<crate::persist::Persist>,
    pub oauth: crate::oauth::Tokens,
}

/// A parsed `/rest/` request.
pub struct RestRequest {
    pub http_method: String,
    pub path: String,
    pub ip: String,
    /// Webhook `(userId, code)`, or `None` for token calls.
    pub webhook: Option<(i64, String)>,
    pub method: String,
    pub params: Value,
}

/// What the HTTP layer must do with an answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub html: bool,
    pub location: Option<String>,
    pub delay_ms: u64,
    pub drop: bool,
    pub truncate: bool,
}

impl Reply {
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            body,
            ..Default::default()
        }
    }
    pub fn error(e: &ApiError) -> Reply {
        Reply::json(e.status, e.body().to_string())
    }
}

/// What the cloud's front (nginx) answers for a request that ran past its time limit.
pub fn gateway_timeout_page() -> String {
    "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n".to_string()
}

impl Reply {
    /// A request cut by the front: 504 with its HTML page (what already ran stays applied).
    pub fn gateway_timeout() -> Reply {
        Reply {
            status: 504,
            body: gateway_timeout_page(),
            html: true,
            ..Default::default()
        }
    }
}

pub fn html_page(status: u16) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>{status} Server Error</title></head><body><h1>{status}</h1><p>The server is temporarily unable to service your request.</p></body></html>"
    )
}

/// Who is calling.
pub struct Caller {
    pub user: i64,
    pub credential: String,
    pub scopes: Vec<String>,
    /// The OAuth application's client id; `None` for webhooks.
    pub app: Option<String>,
}

impl Engine {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A measured time as answers show it: 0 with `zeroTimings` (so frozen-clock runs answer byte for byte alike).
    pub fn measured(&self, real: f64) -> f64 {
        if self.cfg.zero_timings {
            0.0
        } else {
            real
        }
    }

    /// How long one call of `method` took: its `callSeconds` when configured, else the measured
    /// time. This is what the front's cut-off, the operating limit and `time` see.
    pub fn call_seconds(&self, method: &str, real: f64) -> f64 {
        let cfg = &self.cfg.call_seconds;
        cfg.get(method)
            .or_else(|| cfg.get("*"))
            .copied()
            .unwrap_or_else(|| self.measured(real))
    }

    /// True once a request has run as long as the front lets it (`requestCutoffSeconds`).
    pub fn past_cutoff(&self, seconds: f64) -> bool {
        self.cfg
            .request_cutoff_seconds
            .is_some_and(|c| seconds >= c)
    }

    /// The operating-time budget a call is counted in. The server keys it by (auth type,
    /// entity, method) (`rest/lib/engine/access/loadlimiter.php`): the entity of a direct
    /// webhook call is the webhook, of an OAuth call the application. Inside `batch` a sub-call
    /// only gets `setApplicationId($server->getClientId())`, which is null for a webhook, so
    /// every webhook's batch commands of one method share ONE budget of the portal, apart from
    /// each webhook's direct calls (`sharedBatchBudget: false` keys them by webhook instead).
    pub fn budget_key(&self, caller: &Caller, in_batch: bool) -> String {
        match &caller.app {
            Some(app) => format!("app:{app}"),
            None if in_batch && self.cfg.operating.shared_batch_budget => "apauth".to_string(),
            None => caller.credential.clone(),
        }
    }

    /// The `time` block of an answer; `processing` is already the call's time as shown
    /// ([`Engine::call_seconds`] or [`Engine::measured`]).
    pub fn time_block(
        &self,
        start_ms: i64,
        processing: f64,
        operating: Option<(f64, Option<i64>)>,
    ) -> Value {
        let start = start_ms as f64 / 1000.0;
        let finish = start + processing;
        let off = self.cfg.portal_offset;
        let mut t = json!({
            "start": start,
            "finish": finish,
            "duration": processing,
            "processing": processing,
            "date_start": fmt_datetime(start_ms.div_euclid(1000), off),
            "date_finish": fmt_datetime(finish.floor() as i64, off),
        });
        if let Some((op, reset)) = operating {
            if let Some(r) = reset {
                t["operating_reset_at"] = json!(r);
            }
            t["operating"] = json!(op);
        }
        t
    }

    fn authenticate(&mut self, req: &RestRequest) -> Result<Caller, ApiError> {
        let now = self.clock.now();
        let bad = || {
            let desc = if self.cfg.bad_auth_code == "INVALID_CREDENTIALS" {
                "Invalid request credentials"
            } else {
                "Wrong authorization data"
            };
            ApiError::new(self.cfg.bad_auth_status, &self.cfg.bad_auth_code, desc)
        };
        if let Some((user, code)) = &req.webhook {
            let cred = self.portal.credentials.get(code).ok_or_else(bad)?;
            if cred.kind != "webhook" || cred.user_id != *user || cred.revoked {
                return Err(bad());
            }
            if cred.expires_at.is_some_and(|e| e <= now) {
                return Err(ApiError::new(
                    401,
                    "expired_token",
                    "The access token provided has expired.",
                ));
            }
            if !self.portal.users.get(user).is_some_and(|u| u.active) {
                return Err(ApiError::new(
                    401,
                    "authorization_error",
                    "Unable to authorize user",
                ));
            }
            return Ok(Caller {
                user: *user,
                credential: code.clone(),
                scopes: cred.scopes.clone(),
                app: None,
            });
        }
        let token = crate::api::param_str(&req.params, "auth").unwrap_or_default();
        if token.is_empty() {
            return Err(ApiError::new(
                401,
                "NO_AUTH_FOUND",
                "Wrong authorization data",
            ));
        }
        self.oauth.check_access(&token, now)
    }

    pub fn scope_check(&self, caller: &Caller, method: &str) -> Result<(), ApiError> {
        let need = scope_of(method);
        if need == "basic"
            || caller
                .scopes
                .iter()
                .any(|s| s == need || (need == "user_brief" && (s == "user" || s == "user_basic")))
        {
            Ok(())
        } else {
            Err(ApiError::new(
                self.cfg.insufficient_scope_status,
                "insufficient_scope",
                "The request requires higher privileges than provided by the webhook token",
            ))
        }
    }

    /// Checks the operating limit of one method in one budget ([`Engine::budget_key`]) before
    /// the call.
    pub fn operating_check(&mut self, budget: &str, method: &str) -> Result<(), ApiError> {
        if !self.cfg.operating.enabled {
            return Ok(());
        }
        let (spent, _) = self.limits.operating(budget, method, self.now_ms());
        // §5.4: blocked once the total exceeds the limit (reaching it exactly is still allowed)
        if spent > self.cfg.operating.limit_seconds {
            return Err(ApiError::new(
                429,
                "OPERATION_TIME_LIMIT",
                "Method is blocked due to operation time limit.",
            ));
        }
        Ok(())
    }

    /// Charges one call to its operating budget: `costPerCallSeconds` when set, else the call's
    /// time ([`Engine::call_seconds`]; 0 with `zeroTimings`, so frozen-clock runs stay
    /// byte-identical). A call of 0.1 s or less costs nothing, as the server registers
    /// only longer ones (`rest/lib/engine/access/loadlimiter.php`).
    pub fn charge_call(&mut self, budget: &str, method: &str, seconds: f64) -> (f64, Option<i64>) {
        let timed = if seconds > FREE_CALL_SECONDS {
            seconds
        } else {
            0.0
        };
        let cost = self.cfg.operating.cost_per_call_seconds.unwrap_or(timed);
        let now = self.now_ms();
        self.limits.charge(budget, method, now, cost);
        self.limits.operating(budget, method, now)
    }

    /// Runs one method for a caller of the REST pipeline or `batch`: `scope` answers from the
    /// caller's credential, everything else runs as its user ([`Engine::run_method`]).
    pub fn run_as(
        &mut self,
        caller: &Caller,
        method: &str,
        params: &Value,
    ) -> Result<Out, ApiError> {
        if method.eq_ignore_ascii_case("scope") {
            return Ok(crate::users::scope(&caller.scopes, params));
        }
        self.run_method(caller.user, Some(caller.credential.clone()), method, params)
    }

    /// Runs one method as a user (used by the pipeline, by batch and by `/_emu/act`).
    pub fn run_method(
        &mut self,
        user: i64,
        credential: Option<String>,
        method: &str,
        params: &Value,
    ) -> Result<Out, ApiError> {
        let now = self.clock.now();
        let mut call = Call {
            portal: &mut self.portal,
            cfg: &self.cfg,
            now,
            user,
            credential,
            touched: Vec::new(),
            dirty: false,
        };
        let r = dispatch(&mut call, method, params);
        let touched = std::mem::take(&mut call.touched);
        let dirty = call.dirty;
        if let Some(p) = &self.persist {
            if dirty || !touched.is_empty() {
                p.record(&self.portal, &touched, dirty);
            }
        }
        r
    }

    /// The whole `/rest/` pipeline for one request.
    pub fn handle_rest(&mut self, req: RestRequest) -> Reply {
        let started = Instant::now();
        let start_ms = self.now_ms();
        let method = req.method.to_ascii_lowercase();
        let mut entry = LogEntry::new(&req, start_ms, self.cfg.portal_offset);
        let fault = self.faults.take(
            &method,
            None,
            req.webhook.as_ref().map(|w| w.1.as_str()),
            &mut self.portal,
        );
        let reply = self.pipeline(&req, &method, start_ms, started, fault.as_ref(), &mut entry);
        entry.finish(&reply);
        self.log.push(entry);
        reply
    }

    fn pipeline(
        &mut self,
        req: &RestRequest,
        method: &str,
        start_ms: i64,
        started: Instant,
        fault: Option<&Action>,
        entry: &mut LogEntry,
    ) -> Reply {
        let mut reply_mod = Reply::default();
        if let Some(a) = fault {
            match a {
                Action::Delay(ms) => reply_mod.delay_ms = *ms,
                Action::Drop => reply_mod.drop = true,
                Action::Truncate => reply_mod.truncate = true,
                Action::CommitThenFail(_) => {}
                other => return other.reply(),
            }
        }
        let caller = match self.authenticate(req) {
            Ok(c) => c,
            Err(e) => return merge(Reply::error(&e), &reply_mod),
        };
        entry.user = Some(caller.user);
        if method != "batch" {
            if let Err(e) = self.scope_check(&caller, method) {
                return merge(Reply::error(&e), &reply_mod);
            }
        }
        if self.cfg.rate.enabled {
            let key = if self.cfg.rate.key == "credential" {
                caller.credential.clone()
            } else {
                req.ip.clone()
            };
            let (cap, drain) = (self.cfg.rate.capacity, self.cfg.rate.drain_per_second);
            let ok = self.limits.admit(&key, start_ms, cap, drain);
            entry.bucket = Some(self.limits.level(&key, start_ms, drain));
            if !ok {
                return merge(
                    Reply::error(&ApiError::new(
                        503,
                        "QUERY_LIMIT_EXCEEDED",
                        "Too many requests",
                    )),
                    &reply_mod,
                );
            }
        }
        let body = if method == "batch" {
            let (body, cmds) = crate::batch::run(self, &caller, &req.params, start_ms, started);
            entry.commands = cmds;
            match body {
                Some(body) => body,
                None => return merge(Reply::gateway_timeout(), &reply_mod),
            }
        } else {
            let budget = self.budget_key(&caller, false);
            if let Err(e) = self.operating_check(&budget, method) {
                return merge(Reply::error(&e), &reply_mod);
            }
            let r = self.run_as(&caller, method, &req.params);
            let seconds = self.call_seconds(method, started.elapsed().as_secs_f64());
            let op = self.charge_call(&budget, method, seconds);
            if self.past_cutoff(seconds) {
                // the method ran (a write landed); the front had stopped waiting
                return merge(Reply::gateway_timeout(), &reply_mod);
            }
            match r {
                Ok(out) => envelope(&out, &self.time_block(start_ms, seconds, Some(op))),
                Err(e) => return merge(Reply::error(&e), &reply_mod),
            }
        };
        if let Some(Action::CommitThenFail(status)) = fault {
            return Reply::error(&ApiError::new(
                *status,
                "INTERNAL_SERVER_ERROR",
                "Internal server error",
            ));
        }
        merge(Reply::json(200, body), &reply_mod)
    }
}

fn merge(mut r: Reply, m: &Reply) -> Reply {
    r.delay_ms = m.delay_ms;
    r.drop = m.drop;
    r.truncate = m.truncate;
    r
}

/// `{"result": …, "total"?, "next"?, "time": …}`.
pub fn envelope(out: &Out, time: &Value) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"result\":");
    out.result.write(&mut s);
    if let Some(n) = out.next {
        s.push_str(&format!(",\"next\":{n}"));
    }
    if let Some(t) = out.total {
        s.push_str(&format!(",\"total\":{t}"));
    }
    s.push_str(",\"time\":");
    s.push_str(&time.to_string());
    s.push('}');
    s
}
