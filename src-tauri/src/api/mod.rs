//! The shell's API layer: what each command does, over the core crates. Knows nothing of Tauri,
//! so it can be driven by tests directly; commands are one-line calls into it.

pub mod card;
pub mod edits;
pub mod error;
pub mod events;
pub mod history;
pub mod history_export;
pub mod outbox;
pub mod portal;
pub mod records;
pub mod settings;
pub mod sync;

pub use events::EventSink;
pub use portal::Core;

#[cfg(all(test, unix))]
mod file_modes_tests;
#[cfg(test)]
mod offline_tests;
#[cfg(test)]
mod trust_tests;
