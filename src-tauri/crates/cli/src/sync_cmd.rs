//! `kartoteka-cli sync`: pulls a portal into a replica file and prints a summary.
//! The webhook comes from `KARTOTEKA_WEBHOOK` only, so it never shows in the process list.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use kartoteka_bitrix::{Client, ClientOptions, WebhookUrl};
use kartoteka_domain::EntityType;
use kartoteka_store::Store;
use kartoteka_sync::{
    BitrixPortal, CancellationToken, EventSink, Policy, ReconcilePolicy, SyncEngine, SyncEvent,
    SyncSummary, Uploader,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, ValueEnum)]
pub enum Reconcile {
    Always,
    WhenCountsDiffer,
    Never,
}

#[derive(Args)]
pub struct SyncArgs {
    /// The replica file (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Entity types to pull, comma-separated (default: all four).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<EntityType>,
    /// Minutes before the last seen update time that an incremental pass starts.
    #[arg(long, default_value_t = 5)]
    overlap_minutes: i64,
    /// When to compare id sets with the portal to find deletions and lost access.
    #[arg(long, value_enum, default_value = "when-counts-differ")]
    reconcile: Reconcile,
    /// Turn off the client-side rate limiter (for a local sandbox with limits off).
    #[arg(long)]
    no_rate_limit: bool,
    /// Print progress events (JSON lines) to stderr.
    #[arg(long)]
    progress: bool,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Pull only: leave the outbox of local edits unsent.
    #[arg(long)]
    no_upload: bool,
}

pub fn run(args: SyncArgs) -> anyhow::Result<()> {
    let Ok(url) = std::env::var("KARTOTEKA_WEBHOOK") else {
        bail!("set KARTOTEKA_WEBHOOK to the portal's webhook URL");
    };
    let webhook =
        WebhookUrl::parse(&url).context("KARTOTEKA_WEBHOOK is not a usable webhook URL")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let options = ClientOptions {
            rate_limit: if args.no_rate_limit {
                None
            } else {
                ClientOptions::default().rate_limit
            },
            ..ClientOptions::default()
        };
        let client = Client::new(webhook, options).context("creating the Bitrix24 client")?;
        let store = Store::open(&args.db)
            .with_context(|| format!("opening the replica {}", args.db.display()))?;
        let policy = Policy {
            entity_types: if args.types.is_empty() {
                Policy::default().entity_types
            } else {
                args.types.clone()
            },
            overlap: chrono::TimeDelta::minutes(args.overlap_minutes),
            reconcile: match args.reconcile {
                Reconcile::Always => ReconcilePolicy::Always,
                Reconcile::WhenCountsDiffer => ReconcilePolicy::WhenCountsDiffer,
                Reconcile::Never => ReconcilePolicy::Never,
            },
            ..Policy::default()
        };
        let events: EventSink = if args.progress {
            Arc::new(print_event)
        } else {
            kartoteka_sync::no_events()
        };
        let replica = Arc::new(Mutex::new(store));
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cancelling; the next sync resumes from here");
                on_ctrl_c.cancel();
            }
        });
        // The outbox goes first: the pull that follows then brings the portal's versions of
        // what was just written (product.md §5).
        let upload = if args.no_upload {
            None
        } else {
            let uploader =
                Uploader::new(client.clone(), Arc::clone(&replica), kartoteka_sync::system_clock());
            Some(uploader.run(&cancel).await.context("upload failed")?)
        };
        let engine = SyncEngine::new(
            Arc::new(BitrixPortal::new(client.clone())),
            Arc::clone(&replica),
            policy,
            events,
        );
        let summary = engine.run(&cancel).await.context("sync failed")?;
        // Other Kartoteka users' change logs on the records this pull found changed.
        Uploader::new(client, Arc::clone(&replica), kartoteka_sync::system_clock())
            .read_peer_logs(&cancel)
            .await
            .context("reading other users' change logs failed")?;
        let missing = replica
            .lock()
            .map_err(|_| anyhow::anyhow!("the replica lock is poisoned"))?
            .missing_scopes()?;
        for scope in missing {
            eprintln!(
                "warning: the webhook lacks the `{}` scope: {}",
                scope.names()[0],
                scope.without()
            );
        }
        if args.json {
            // The pull summary as before, with the upload beside it.
            let mut out = serde_json::to_value(&summary)?;
            out["upload"] = serde_json::to_value(&upload)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            if let Some(u) = &upload {
                println!(
                    "upload: {} uploaded ({} created, {} deleted), {} conflicts, {} rejected, {} logs, {} requests",
                    u.uploaded, u.created, u.deleted, u.conflicts, u.rejected, u.logs, u.requests()
                );
            }
            print!("{}", render_summary(&summary));
        }
        Ok(())
    })
}

fn print_event(event: &SyncEvent) {
    if let Ok(line) = serde_json::to_string(event) {
        eprintln!("{line}");
    }
}

/// The summary as a table: records per type, requests made, seconds.
pub fn render_summary(summary: &SyncSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7}\n",
        "type", "pulled", "inserted", "updated", "unchanged", "deleted", "hidden"
    ));
    for s in &summary.types {
        out.push_str(&format!(
            "{:<8} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7}\n",
            s.entity_type.slug(),
            s.pulled,
            s.inserted,
            s.updated,
            s.unchanged,
            s.deleted,
            s.hidden
        ));
    }
    out.push_str(&format!(
        "records: {}  requests: {} ({} pulling records)  seconds: {:.2}\n",
        summary.total_pulled(),
        summary.requests,
        summary.pull_requests,
        summary.seconds
    ));
    out
}
