//! Kartoteka's Bitrix24 REST client: the only crate that speaks HTTP to the portal.
//!
//! - [`WebhookUrl`]: the secret webhook URL, redacted in every `Debug`, `Display`, log and error.
//! - [`Client`]: one serialized, rate-limited request pipeline per portal, with back-off and
//!   retry per [`RetryPolicy`]; `call`/`call_write`, `batch`/`batch_write`, and typed helpers
//!   for items (key-set scans chained 50 pages per `batch`), fields, users, stages, pipelines.
//! - [`parse_record`] and the [`values`] helpers absorb the portal's quirks (CONTRACT §8).
//! - [`encode_php_query`]: `http_build_query` for batch commands.
//! - [`SecretStore`]: the OS keyring ([`KeyringSecretStore`]) or memory ([`MemorySecretStore`]).
//!
//! # Retry policy ([`RetryPolicy::decide`], table-tested in `retry.rs`)
//! | failure | class | read ([`Client::call`], [`Client::batch`]) | write ([`Client::call_write`], [`Client::batch_write`]) |
//! |---|---|---|---|
//! | 503 `QUERY_LIMIT_EXCEEDED` | retry later | back-off `base × 1.5ⁿ` ±25 %, capped | same (refused before it ran) |
//! | 429 `OPERATION_TIME_LIMIT` | retry later | wait until `operating_reset_at`, at least `operating_limit_min_wait` | same |
//! | 503 `OVERLOAD_LIMIT` | permanent (blocked by support: stop, tell the user) | no retry | no retry |
//! | 5xx, HTML or truncated body, timeout, reset connection | retry later | back-off | **no retry** (it may have been applied) |
//! | connection refused | retry later | back-off | back-off (never sent) |
//! | `NO_AUTH_FOUND`, `expired_token`, `insufficient_scope`, 403 `ACCESS_DENIED`, redirect, … | auth | no retry | no retry |
//! | `NOT_FOUND`, 400 `ACCESS_DENIED`, `INVALID_ARG_VALUE`, `100`, `0`, `""`, … | permanent | no retry | no retry |
//!
//! A `batch` cut by the cloud's front (a 502/504 or other HTML page, or our own timeout:
//! [`BitrixError::is_cut`]) halves [`Client::batch_size`] ([`BatchSize`], down to 1). The
//! key-set scans (full pull, id scan, incremental pull, stage history) rebuild a cut read at the
//! smaller size at once (a shorter chain is just a shorter chunk; such a shrink does not use up
//! a retry); other batches are retried or returned per the table and callers chunk by
//! `batch_size()` from then on. The size grows back by a quarter after four answered batches
//! whose `time.processing` says the larger one would end within 40 s.
//!
//! Requests are serialized per [`Client`] (clones share the pipeline) and paced by a client-side
//! leaky bucket ([`RateLimit::STANDARD`] by default). Create one `Client` per portal.
//!
//! # Testing the real keyring
//! `tests/keyring.rs` runs only with `KARTOTEKA_TEST_REAL_KEYRING=1`; see its header for the
//! Secret Service and kernel-keyring commands.

mod batch_size;
mod client;
mod error;
mod history;
mod items;
mod parse;
mod php_query;
mod reference;
mod retry;
mod secret;
pub mod values;
mod webhook;
mod wire;

#[cfg(test)]
mod fixture_tests;

pub use batch_size::BatchSize;
pub use client::{Client, ClientOptions, RateLimit, MAX_BATCH_COMMANDS};
pub use error::{ApiError, BitrixError, ErrorClass, SecretError};
pub use history::StageHistoryRow;
pub use items::{ItemsChunk, UpdatedChunk, PAGE_SIZE};
pub use parse::{parse_record, DealContact, Profile};
pub use php_query::encode_php_query;
pub use reference::ReferenceBundle;
pub use retry::{RequestKind, RetryDecision, RetryPolicy};
pub use secret::{KeyringSecretStore, MemorySecretStore, SecretBackend, SecretStore};
pub use webhook::WebhookUrl;
pub use wire::{
    lenient_f64, lenient_i64, lenient_u64, lenient_unix_time, normalize_error_code, BatchCommand,
    BatchResult, CallResult, TimeInfo,
};
