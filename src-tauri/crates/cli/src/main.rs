//! `kartoteka-cli`: the headless command line over Kartoteka's core crates.

mod bench_cmd;
mod bench_history;
mod bench_peer;
mod bench_responsive;
mod bench_upload;
mod edit_cmd;
mod history_cmd;
mod records_cmd;
mod sandbox_cmd;
mod sync_cmd;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a pull allocates and frees many small values per
/// record (field maps, history events); with it an incremental pull (all records changed) applies
/// ~8 % more records per CPU second (bench_apply; the initial pull is unchanged).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "kartoteka-cli", version, about = "Kartoteka command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Bitrix24-compatible sandbox until stopped (Ctrl-C).
    Sandbox(sandbox_cmd::SandboxArgs),
    /// Pull a portal into a replica file (webhook from KARTOTEKA_WEBHOOK) and print a summary.
    Sync(sync_cmd::SyncArgs),
    /// Record an edit of a record, exactly as the app does (no network needed).
    Edit(edit_cmd::EditArgs),
    /// Create a record locally (uploaded at the next sync).
    Create(edit_cmd::CreateArgs),
    /// Delete a record locally (the deletion is uploaded at the next sync).
    Delete(edit_cmd::RecordArgs),
    /// Restore a deleted record (a deletion not yet uploaded is undone; otherwise the record
    /// is created again at the next sync).
    Restore(edit_cmd::RecordArgs),
    /// The outbox of unsent edits.
    Outbox(edit_cmd::OutboxArgs),
    /// Read records from a replica file.
    Records(records_cmd::RecordsArgs),
    /// History of the replica: list, export, verify the hash chains.
    History(history_cmd::HistoryArgs),
    /// Benchmarks (performance.md).
    Bench(bench_cmd::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Sandbox(args) => sandbox_cmd::run(args),
        Command::Sync(args) => sync_cmd::run(args),
        Command::Records(args) => records_cmd::run(args),
        Command::Edit(args) => edit_cmd::run_edit(args),
        Command::Create(args) => edit_cmd::run_create(args),
        Command::Delete(args) => edit_cmd::run_delete(args),
        Command::Restore(args) => edit_cmd::run_restore(args),
        Command::Outbox(args) => edit_cmd::run_outbox(args),
        Command::History(args) => history_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
    }
}
