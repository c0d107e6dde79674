//! Kartoteka's Bitrix24 REST client: the only crate that speaks HTTP to the portal.
//!
//! - [`WebhookUrl`]: the secret webhook URL, redacted in every `Debug`, `Display`, log and error.
//! - [`Client`]: one serialized, rate-limited request pipeline per portal, with back-off and
//!   retry per [`RetryPolicy`]; `call`/`call_write`, `batch`/`batch_write`, and typed helpers
//!   for items (key-set scans chained 50 pages per `batch`), fields, users, stages, pipelines.
//! - [`parse_record`] and the [`values`] helpers absorb the portal's quirks (CONTRACT §8).
//! - [`encode_php_query`]: `http_build_query` for batch commands.
//! - [`SecretStore`]: the OS keyring ([`KeyringSecretStore`]) or memory ([`MemorySecretStore`]).

mod client;
mod error;
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

pub use client::{Client, ClientOptions, RateLimit, MAX_BATCH_COMMANDS};
pub use error::{ApiError, BitrixError, ErrorClass, SecretError};
pub use items::{ItemsChunk, UpdatedChunk, PAGE_SIZE};
pub use parse::{parse_record, DealContact, Profile};
pub use php_query::encode_php_query;
pub use retry::{RequestKind, RetryDecision, RetryPolicy};
pub use secret::{KeyringSecretStore, MemorySecretStore, SecretBackend, SecretStore};
pub use webhook::WebhookUrl;
pub use wire::{
    lenient_f64, lenient_i64, lenient_u64, lenient_unix_time, normalize_error_code, BatchCommand,
    BatchResult, CallResult, TimeInfo,
};
