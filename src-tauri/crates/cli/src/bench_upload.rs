//! `kartoteka-cli bench upload`: performance.md P6 (one offline edit made durable) and P7
//! (uploading 10k queued edits), each beside its bound measured in the same run: a durable
//! commit of one small transaction for P6; for P7 the protocol minimum of requests for a safe
//! upload (read current values, write, publish the log) and, with the standard rate limit on,
//! the time that limit allows. Prints figures and ratios; asserts nothing.

use anyhow::Context;
use clap::Args;
use kartoteka_bitrix::{Client, ClientOptions, RateLimit, WebhookUrl};
use kartoteka_domain::{EntityType, RecordEdit, RecordKey};
use kartoteka_sandbox::control::Control;
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use kartoteka_store::{LocalActor, Store};
use kartoteka_sync::{
    BitrixPortal, CancellationToken, Policy, ReconcilePolicy, SyncEngine, UploadSummary, Uploader,
};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Args)]
pub struct UploadBenchArgs {
    /// Edits queued and uploaded (one field of one record each).
    #[arg(long, default_value_t = 10_000)]
    edits: usize,
    /// Edits uploaded with the standard rate limit on (0 skips that part; 10,000 takes ≈3 min).
    #[arg(long, default_value_t = 10_000)]
    limited_edits: usize,
    /// Directory for the replica and the bound database.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn quantile_ms(mut times: Vec<f64>, q: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort_by(f64::total_cmp);
    let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
    times[i] * 1000.0
}

fn actor() -> LocalActor {
    LocalActor {
        user_id: Some(1),
        name: "Бенчмарк".into(),
        device_id: "bench".into(),
        online: false,
    }
}

/// Queues one edit per record (the first `n` records, all types): returns each save's time.
fn queue_edits(store: &Arc<Mutex<Store>>, n: usize, round: usize) -> anyhow::Result<Vec<f64>> {
    let mut s = store.lock().map_err(|_| anyhow::anyhow!("replica lock"))?;
    let mut keys: Vec<RecordKey> = Vec::new();
    for t in EntityType::ALL {
        for id in s.all_ids(t)? {
            if keys.len() >= n {
                break;
            }
            keys.push(RecordKey { entity_type: t, id });
        }
    }
    let me = actor();
    let mut times = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        let mut edit = RecordEdit::default();
        edit.fields.insert(
            "comments".into(),
            json!(format!("Правка {round}-{i}, сделанная офлайн")),
        );
        let t = Instant::now();
        s.edit_record(&me, key, &edit, 1_780_000_000_000 + i as i64)?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(times)
}

fn minimum_requests(records: u64) -> u64 {
    // Read: 2,500 records per request; write: 50 per batch; log: 50 per batch.
    records.div_ceil(2_500) + 2 * records.div_ceil(50)
}

fn print_upload(label: &str, u: &UploadSummary, seconds: f64) {
    let min = minimum_requests(u.records_written);
    println!(
        "{label}: {} entries, {} records in {:.1} s; requests {} (read {}, write {}, log {}) vs protocol minimum {} → {:.3}× (target ≤ 1.10)",
        u.uploaded,
        u.records_written,
        seconds,
        u.requests(),
        u.read_requests,
        u.write_requests,
        u.log_requests,
        min,
        u.requests() as f64 / min.max(1) as f64
    );
}

pub async fn run(args: UploadBenchArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kartoteka-bench-upload-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let records = args.edits.max(args.limited_edits) + 100;
    let sandbox = Sandbox::start(SandboxOptions {
        clock: ClockMode::Real,
        limits: LimitsPreset::Off,
        records: Some(records),
        ..SandboxOptions::default()
    })
    .await?;
    let webhook = WebhookUrl::parse(&sandbox.admin_webhook_url())?;
    let unlimited = Client::new(
        webhook.clone(),
        ClientOptions {
            rate_limit: None,
            ..ClientOptions::default()
        },
    )?;
    let path = dir.join("replica.db");
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(Mutex::new(Store::open(&path)?));
    SyncEngine::new(
        Arc::new(BitrixPortal::new(unlimited.clone())),
        Arc::clone(&store),
        Policy {
            reconcile: ReconcilePolicy::Never,
            ..Policy::default()
        },
        kartoteka_sync::no_events(),
    )
    .run(&CancellationToken::new())
    .await
    .context("pulling the portal")?;
    println!("sandbox and replica: {records} records");

    // P6.
    let times = queue_edits(&store, args.edits, 1)?;
    let bound = kartoteka_store::bench::durable_commit_bound(&dir, times.len())?;
    let (p50, p99) = (
        quantile_ms(times.clone(), 0.5),
        quantile_ms(times.clone(), 0.99),
    );
    let (b50, b99) = (quantile_ms(bound.clone(), 0.5), quantile_ms(bound, 0.99));
    println!(
        "P6 durable edit (replica row + outbox + history, synchronous=FULL), {} edits: p50 {p50:.2} ms, p99 {p99:.2} ms (target ≤ 10 ms); bound, one small durable commit: p50 {b50:.2} ms, p99 {b99:.2} ms → p99 {:.1}× the bound",
        times.len(),
        p99 / b99.max(1e-6)
    );

    // P7, limits off: requests against the protocol minimum.
    let uploader = Uploader::new(
        unlimited.clone(),
        Arc::clone(&store),
        kartoteka_sync::system_clock(),
    );
    let t = Instant::now();
    let summary = uploader.run(&CancellationToken::new()).await?;
    print_upload("P7 upload, limits off", &summary, t.elapsed().as_secs_f64());

    // P7, the standard rate limit on (50 burst, 2 requests/s) on both sides.
    if args.limited_edits > 0 {
        let control = Control::of(&sandbox);
        control
            .configure(json!({"rateLimit": {"enabled": true, "capacity": 50, "drainPerSecond": 2}}))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        queue_edits(&store, args.limited_edits, 2)?;
        let limited = Client::new(
            webhook,
            ClientOptions {
                rate_limit: Some(RateLimit::STANDARD),
                ..ClientOptions::default()
            },
        )?;
        // The bucket starts full of earlier traffic's drain: wait for it to empty.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let uploader = Uploader::new(limited, Arc::clone(&store), kartoteka_sync::system_clock());
        let t = Instant::now();
        let summary = uploader.run(&CancellationToken::new()).await?;
        let seconds = t.elapsed().as_secs_f64();
        print_upload("P7 upload, standard rate limit", &summary, seconds);
        // The first 50 requests go in one burst; each further one waits 0.5 s for the bucket.
        let allowed = (summary.requests().saturating_sub(50)) as f64 / 2.0;
        if allowed > 0.0 {
            println!(
                "P7 wall time with the limit: {seconds:.1} s vs {allowed:.1} s the limit allows for {} requests → {:.3}× (target ≤ 1.10)",
                summary.requests(),
                seconds / allowed
            );
        } else {
            println!(
                "P7 wall time with the limit: {seconds:.1} s; {} requests fit in the burst of 50 (use more --limited-edits for a ratio)",
                summary.requests()
            );
        }
    }
    sandbox.shutdown().await;
    Ok(())
}
