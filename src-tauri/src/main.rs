// Release builds on Windows have no console window; a no-op elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    kartoteka_app::run();
}
