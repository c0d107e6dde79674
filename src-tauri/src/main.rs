// Release builds on Windows have no console window; a no-op elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc instead of the system allocator: a pull allocates and frees many small values per
/// record (field maps, history events); with it an incremental pull (all records changed) applies
/// ~8 % more records per CPU second (bench_apply; the initial pull is unchanged).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // WebKitGTK's accelerated compositing keeps a GL surface and its tile caches per page; on
    // machines without a GPU driver it renders through software GL. Our pages are lists and
    // forms, which need none of it: without it the web view's memory at idle measured 132 MB
    // instead of 263 MB (PSS, `bench_start` at 100k records) and the first list came sooner.
    // Set before any thread starts; a value the user set is kept.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    kartoteka_app::run();
}
