// Release builds on Windows have no console window; a no-op elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc instead of the system allocator: a pull allocates and frees many small values per
/// record (field maps, history events); with it an incremental pull (all records changed) applies
/// ~8 % more records per CPU second (bench_apply; the initial pull is unchanged).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    kartoteka_app::run();
}
