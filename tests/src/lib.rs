//! Kartoteka's cross-package tests.
//!
//! - `tests/*.rs`: cross-crate stories (core crates against the sandbox) and the end-to-end stories
//!   of the real app (`tests/e2e_*.rs`, ignored by default; run by `.ci/dev e2e`).
//! - [`e2e`]: the harness those end-to-end stories use.

pub mod e2e;
