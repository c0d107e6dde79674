//! The Tauri shell of Kartoteka: window, IPC commands, the event stream. The only crate that
//! knows Tauri; everything it does is a thin layer over `api`, which works on the core crates.

pub mod api;
mod app;
mod commands;
mod events;
mod launch;
mod navigation;

pub use app::run;
pub use launch::LaunchOptions;
