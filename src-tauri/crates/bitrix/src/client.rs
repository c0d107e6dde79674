//! The request pipeline: one per portal, serialized, rate-limited, retried per [`RetryPolicy`].

use crate::batch_size::BatchSize;
use crate::error::BitrixError;
use crate::retry::{LeakyBucket, RequestKind, RetryDecision, RetryPolicy};
use crate::webhook::WebhookUrl;
use crate::wire::{
    batch_result_from, call_result_from_body, error_from_body, BatchCommand, BatchResult,
    CallResult, TimeInfo,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::time::Instant;

pub use crate::batch_size::MAX_BATCH_COMMANDS;

/// The portal's leaky bucket: `capacity` requests in a burst, then `drain_per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub capacity: f64,
    pub drain_per_second: f64,
}

impl RateLimit {
    /// Every plan but Enterprise: 50 / 2 per second.
    pub const STANDARD: RateLimit = RateLimit {
        capacity: 50.0,
        drain_per_second: 2.0,
    };
    /// Enterprise: 250 / 5 per second.
    pub const ENTERPRISE: RateLimit = RateLimit {
        capacity: 250.0,
        drain_per_second: 5.0,
    };
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// The client-side bucket; `None` turns it off (the portal still enforces its own).
    pub rate_limit: Option<RateLimit>,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Whole-request timeout (the cloud cuts requests at 60 s).
    pub request_timeout: Duration,
    pub user_agent: String,
    /// First back-off delay (1 s in production; small in tests).
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// Least wait after 429 `OPERATION_TIME_LIMIT` (10 s in production).
    pub operating_limit_min_wait: Duration,
    pub operating_limit_max_wait: Duration,
    /// Seed of the back-off jitter, so runs are reproducible.
    pub jitter_seed: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            rate_limit: Some(RateLimit::STANDARD),
            max_retries: 5,
            request_timeout: Duration::from_secs(75),
            user_agent: format!("kartoteka/{}", env!("CARGO_PKG_VERSION")),
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(30),
            operating_limit_min_wait: Duration::from_secs(10),
            operating_limit_max_wait: Duration::from_secs(600),
            jitter_seed: 0x6b61_7274_6f74_656b,
        }
    }
}

impl ClientOptions {
    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.retry_base_delay,
            max_delay: self.retry_max_delay,
            operating_min_wait: self.operating_limit_min_wait,
            operating_max_wait: self.operating_limit_max_wait,
        }
    }
}

/// A Bitrix24 REST client for one portal and one webhook. Cheap to clone; clones share one
/// pipeline, so create one `Client` per portal and pass clones around.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    webhook: WebhookUrl,
    http: reqwest::Client,
    opts: ClientOptions,
    policy: RetryPolicy,
    /// Held for one HTTP exchange at a time: no parallel request series (§5.3).
    pipeline: tokio::sync::Mutex<Option<LeakyBucket>>,
    requests: AtomicU64,
    /// Per method: how long after the noted instant its operating-time baskets reset (§5.4).
    operating: StdMutex<HashMap<String, (Instant, Duration)>>,
    jitter: StdMutex<u64>,
    /// Commands per `batch` now: fewer after a batch was cut (see [`BatchSize`]).
    batch_size: StdMutex<BatchSize>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("webhook", &self.inner.webhook)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(webhook: WebhookUrl, opts: ClientOptions) -> Result<Client, BitrixError> {
        let mut builder = reqwest::Client::builder()
            .timeout(opts.request_timeout)
            .user_agent(opts.user_agent.clone())
            // A redirect would carry the secret to another host: never follow one (§1.3).
            .redirect(reqwest::redirect::Policy::none());
        if webhook.is_loopback() {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| BitrixError::Setup(e.without_url().to_string()))?;
        let bucket = opts
            .rate_limit
            .map(|r| LeakyBucket::new(r.capacity, r.drain_per_second));
        Ok(Client {
            inner: Arc::new(Inner {
                policy: opts.policy(),
                jitter: StdMutex::new(opts.jitter_seed),
                webhook,
                http,
                opts,
                pipeline: tokio::sync::Mutex::new(bucket),
                requests: AtomicU64::new(0),
                operating: StdMutex::new(HashMap::new()),
                batch_size: StdMutex::new(BatchSize::default()),
            }),
        })
    }

    pub fn webhook(&self) -> &WebhookUrl {
        &self.inner.webhook
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// HTTP requests sent so far (retries included), for benchmarks and tests.
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Calls a reading method; transient failures are retried per policy.
    pub async fn call(&self, method: &str, params: Value) -> Result<CallResult, BitrixError> {
        self.call_as(RequestKind::Read, method, params).await
    }

    /// Calls a writing method; retried only when the request certainly did not run
    /// (see [`RequestKind::Write`]).
    pub async fn call_write(&self, method: &str, params: Value) -> Result<CallResult, BitrixError> {
        self.call_as(RequestKind::Write, method, params).await
    }

    pub async fn call_as(
        &self,
        kind: RequestKind,
        method: &str,
        params: Value,
    ) -> Result<CallResult, BitrixError> {
        self.call_rebuilding(kind, method, false, || Ok(params.clone()))
            .await
    }

    /// How many commands a `batch` should carry now: [`MAX_BATCH_COMMANDS`] until a batch was
    /// cut, then fewer for a while. Callers that split work into batches chunk by this.
    pub fn batch_size(&self) -> usize {
        self.inner
            .batch_size
            .lock()
            .map(|s| s.current())
            .unwrap_or(MAX_BATCH_COMMANDS)
    }

    /// The retry loop. `params` is asked anew before every attempt; with `rebuilds`, a `batch`
    /// that was cut is rebuilt by it at the smaller [`Client::batch_size`], and such a cut does
    /// not use up an attempt (the request is a different, smaller one) until the size is 1.
    async fn call_rebuilding(
        &self,
        kind: RequestKind,
        method: &str,
        rebuilds: bool,
        mut params: impl FnMut() -> Result<Value, BitrixError> + Send,
    ) -> Result<CallResult, BitrixError> {
        let mut attempt = 0u32;
        loop {
            let params = params()?;
            let sent = (method == "batch")
                .then(|| params.get("cmd").and_then(Value::as_object).map(Map::len))
                .flatten();
            let outcome = self.send_once(method, &params).await;
            let err = match outcome {
                Ok(r) => {
                    if let Some(t) = &r.time {
                        self.note_time(method, t);
                    }
                    if let Some(n) = sent {
                        let seconds = r.time.as_ref().and_then(|t| t.processing.or(t.duration));
                        let ran = commands_answered(&r.result);
                        self.with_batch_size(|s| s.answered(n, ran, seconds));
                    }
                    return Ok(r);
                }
                Err(e) => e,
            };
            let shrank = match sent {
                Some(n) if err.is_cut() => {
                    let shrank = self.with_batch_size(|s| s.cut(n)).unwrap_or(false);
                    tracing::info!(
                        commands = n,
                        next = self.batch_size(),
                        "a batch was cut; fewer commands per batch from now"
                    );
                    shrank
                }
                _ => false,
            };
            let counted = if shrank && rebuilds { 0 } else { attempt };
            let wait = self.operating_wait(method);
            match self.retry_decision(&err, counted, kind, wait) {
                RetryDecision::GiveUp => {
                    tracing::debug!(method, attempt, class = ?err.class(), "giving up");
                    return Err(err);
                }
                RetryDecision::RetryAfter(delay) => {
                    tracing::debug!(
                        method,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                    if !(shrank && rebuilds) {
                        attempt += 1;
                    }
                }
            }
        }
    }

    fn with_batch_size<T>(&self, f: impl FnOnce(&mut BatchSize) -> T) -> Option<T> {
        self.inner.batch_size.lock().ok().map(|mut s| f(&mut s))
    }

    /// Sends up to 50 reading commands in one request. `halt` stops at the first failing command.
    pub async fn batch(
        &self,
        commands: &[BatchCommand],
        halt: bool,
    ) -> Result<BatchResult, BitrixError> {
        self.batch_as(RequestKind::Read, commands, halt).await
    }

    /// [`Client::batch`] for commands that write.
    pub async fn batch_write(
        &self,
        commands: &[BatchCommand],
        halt: bool,
    ) -> Result<BatchResult, BitrixError> {
        self.batch_as(RequestKind::Write, commands, halt).await
    }

    pub async fn batch_as(
        &self,
        kind: RequestKind,
        commands: &[BatchCommand],
        halt: bool,
    ) -> Result<BatchResult, BitrixError> {
        if commands.is_empty() {
            return Ok(BatchResult::default());
        }
        let params = batch_params(commands, halt)?;
        let r = self
            .call_rebuilding(kind, "batch", false, || Ok(params.clone()))
            .await?;
        self.batch_answer(commands, r)
    }

    /// A reading batch built for the current [`Client::batch_size`]: `build(n)` makes at most
    /// `n` commands (`n` ≤ `wanted`), and after a cut it is asked again with a smaller `n`.
    /// Returns the commands that were answered and their results.
    pub async fn batch_sized(
        &self,
        wanted: usize,
        halt: bool,
        build: impl Fn(usize) -> Vec<BatchCommand> + Send + Sync,
    ) -> Result<(Vec<BatchCommand>, BatchResult), BitrixError> {
        let mut sent = Vec::new();
        let r = self
            .call_rebuilding(RequestKind::Read, "batch", true, || {
                sent = build(wanted.min(self.batch_size()).max(1));
                batch_params(&sent, halt)
            })
            .await?;
        let result = self.batch_answer(&sent, r)?;
        Ok((sent, result))
    }

    fn batch_answer(
        &self,
        commands: &[BatchCommand],
        r: CallResult,
    ) -> Result<BatchResult, BitrixError> {
        let out = batch_result_from(r.result)?;
        for c in commands {
            if let Some(t) = out.times.get(&c.key) {
                self.note_time(&c.method, t);
            }
        }
        tracing::debug!(
            commands = commands.len(),
            failed = out.errors.len(),
            "batch done"
        );
        Ok(out)
    }

    /// The policy's decision for a failure, with fresh jitter.
    pub(crate) fn retry_decision(
        &self,
        err: &BitrixError,
        attempt: u32,
        kind: RequestKind,
        operating_wait: Option<Duration>,
    ) -> RetryDecision {
        let jitter = self.next_jitter();
        self.inner
            .policy
            .decide(err, attempt, kind, operating_wait, jitter)
    }

    /// How long until `method`'s operating-time baskets reset, if a response told us.
    pub(crate) fn operating_wait(&self, method: &str) -> Option<Duration> {
        let map = self.inner.operating.lock().ok()?;
        let (noted, after) = map.get(method)?;
        Some(after.saturating_sub(noted.elapsed()))
    }

    /// Remembers `operating_reset_at` relative to the server's own clock (`finish`/`start`),
    /// so the local clock's skew does not matter.
    fn note_time(&self, method: &str, t: &TimeInfo) {
        let (Some(reset), Some(now)) = (t.operating_reset_at, t.finish.or(t.start)) else {
            return;
        };
        if reset <= now {
            return;
        }
        if let Ok(mut map) = self.inner.operating.lock() {
            map.insert(
                method.to_string(),
                (Instant::now(), Duration::from_secs_f64(reset - now)),
            );
        }
    }

    /// SplitMix64 over the seed: a number in [0, 1).
    fn next_jitter(&self) -> f64 {
        let Ok(mut s) = self.inner.jitter.lock() else {
            return 0.5;
        };
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One HTTP exchange: wait for the bucket, POST, read and classify the body.
    async fn send_once(&self, method: &str, params: &Value) -> Result<CallResult, BitrixError> {
        let inner = &self.inner;
        let mut bucket = inner.pipeline.lock().await;
        if let Some(b) = bucket.as_mut() {
            let wait = b.reserve(Instant::now());
            if !wait.is_zero() {
                tracing::trace!(
                    method,
                    wait_ms = wait.as_millis() as u64,
                    "rate limit pause"
                );
                tokio::time::sleep(wait).await;
            }
        }
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let sent = inner
            .http
            .post(inner.webhook.method_url(method))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(params)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(e)),
        };
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            let new_host = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url::Url::parse(l).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "an unknown address".into());
            return Err(BitrixError::Redirected { new_host });
        }
        let answered = started.elapsed();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(self.transport_error(e)),
        };
        let received = started.elapsed();
        let result = self.decode(status, &body);
        if let Err(BitrixError::Api { code, .. }) = &result {
            if code == "QUERY_LIMIT_EXCEEDED" {
                if let Some(b) = bucket.as_mut() {
                    b.mark_full(Instant::now());
                }
            }
        }
        tracing::debug!(
            method,
            status,
            ok = result.is_ok(),
            bytes = body.len(),
            answer_ms = answered.as_millis() as u64,
            body_ms = (received - answered).as_millis() as u64,
            decode_ms = (started.elapsed() - received).as_millis() as u64,
            "bitrix request"
        );
        result
    }

    pub(crate) fn decode(&self, status: u16, body: &[u8]) -> Result<CallResult, BitrixError> {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let start = body.iter().find(|b| !b.is_ascii_whitespace());
                let reason = match start {
                    None => "empty body".to_string(),
                    Some(b'<') => crate::error::HTML_PAGE.to_string(),
                    Some(_) if e.is_eof() => "truncated JSON".to_string(),
                    Some(_) => format!("not JSON ({})", e.classify_text()),
                };
                return Err(BitrixError::MalformedResponse {
                    http_status: status,
                    reason,
                });
            }
        };
        let Value::Object(map) = value else {
            return Err(BitrixError::MalformedResponse {
                http_status: status,
                reason: "the body is not a JSON object".into(),
            });
        };
        if let Some(err) = error_from_body(&map) {
            let err = crate::error::ApiError {
                description: self.inner.webhook.scrub(&err.description),
                code: self.inner.webhook.scrub(&err.code),
            };
            return Err(err.into_error(status));
        }
        if !(200..300).contains(&status) {
            return Err(BitrixError::MalformedResponse {
                http_status: status,
                reason: "an error status without an error code".into(),
            });
        }
        call_result_from_body(map, status)
    }

    fn transport_error(&self, e: reqwest::Error) -> BitrixError {
        if e.is_timeout() {
            return BitrixError::Timeout;
        }
        let not_sent = e.is_connect();
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        BitrixError::Network {
            message: self.inner.webhook.scrub(&message),
            not_sent,
        }
    }
}

/// How many commands of a `batch` answer ran: those with a result or an error (`halt` stops
/// at the first error; the maps may be `{}` or, empty, `[]`).
fn commands_answered(result: &Value) -> usize {
    let len = |key: &str| match result.get(key) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    len("result") + len("result_error")
}

/// The `batch` parameters for `commands` (at most [`MAX_BATCH_COMMANDS`], keys unique).
fn batch_params(commands: &[BatchCommand], halt: bool) -> Result<Value, BitrixError> {
    if commands.len() > MAX_BATCH_COMMANDS {
        return Err(BitrixError::InvalidRequest(format!(
            "a batch takes at most {MAX_BATCH_COMMANDS} commands, got {}",
            commands.len()
        )));
    }
    let mut cmd = Map::new();
    for c in commands {
        if cmd
            .insert(c.key.clone(), Value::String(c.encode()))
            .is_some()
        {
            return Err(BitrixError::InvalidRequest(format!(
                "duplicate batch key '{}'",
                c.key
            )));
        }
    }
    Ok(json!({ "halt": if halt { 1 } else { 0 }, "cmd": cmd }))
}

trait ClassifyText {
    fn classify_text(&self) -> &'static str;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "truncated",
            serde_json::error::Category::Io => "read error",
        }
    }
}
