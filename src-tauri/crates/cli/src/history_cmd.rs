//! `kartoteka-cli history list|export|verify`: the replica's history from the command line
//! (product.md §4, issue 6 §5). Supervisors (per the profile the last sync stored) also see
//! hidden entries, marked, as in the app.

use anyhow::{bail, Context};
use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand, ValueEnum};
use kartoteka_domain::history::ExportFormat;
use kartoteka_domain::{
    EntityType, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource, RecordKey,
};
use kartoteka_export::{author, describe, export_history, ExportProgress};
use kartoteka_store::{HistoryQuery, LocalActor, Store};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: HistoryCommand,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Events matching the filter, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// At most this many events (0: all).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Events matching the filter to an .xlsx or CSV file, with progress on stderr.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum)]
        format: FormatArg,
        #[arg(long)]
        out: PathBuf,
        /// Column ids, comma-separated, in order (default: all).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
    },
    /// Recompute every record's hash chain; fail and name the first broken link.
    Verify {
        #[arg(long)]
        db: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Xlsx,
    Csv,
}

#[derive(Args)]
struct FilterArgs {
    #[arg(long)]
    db: PathBuf,
    /// Entity type (lead, deal, contact, company).
    #[arg(long = "type")]
    entity_type: Option<EntityType>,
    /// One record (with --type).
    #[arg(long, requires = "entity_type")]
    id: Option<i64>,
    /// From this moment (inclusive): YYYY-MM-DD (that local day's start) or RFC 3339.
    #[arg(long)]
    from: Option<String>,
    /// Before this moment (exclusive): YYYY-MM-DD (that local day's start) or RFC 3339.
    #[arg(long)]
    to: Option<String>,
    /// Author's portal user id.
    #[arg(long)]
    author: Option<i64>,
    /// Event codes, comma-separated (field_changed, link_removed, …).
    #[arg(long = "event", value_delimiter = ',')]
    events: Vec<HistoryEventCode>,
    /// Field name (opportunity, UF_CRM_…, fm.PHONE, link.contact).
    #[arg(long)]
    field: Option<String>,
    /// Words in values, titles, labels, notes, authors.
    #[arg(long)]
    text: Option<String>,
    /// Source (deviceOnline, deviceOffline, peerLog, observed, stageHistory).
    #[arg(long)]
    source: Option<HistorySource>,
}

impl FilterArgs {
    fn filter(&self) -> anyhow::Result<HistoryFilter> {
        Ok(HistoryFilter {
            entity_type: self.entity_type,
            record: match (self.entity_type, self.id) {
                (Some(entity_type), Some(id)) => Some(RecordKey { entity_type, id }),
                _ => None,
            },
            from: self.from.as_deref().map(parse_moment).transpose()?,
            to: self.to.as_deref().map(parse_moment).transpose()?,
            author_id: self.author,
            events: self.events.clone(),
            field: self.field.clone(),
            source: self.source,
            text: self.text.clone(),
        })
    }
}

/// `YYYY-MM-DD` (the start of that day in the local time zone) or an RFC 3339 moment.
fn parse_moment(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = day.and_hms_opt(0, 0, 0).context("a day has a start")?;
        let local = Local
            .from_local_datetime(&start)
            .earliest()
            .with_context(|| format!("{s} has no start in the local time zone"))?;
        return Ok(local.with_timezone(&Utc));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("`{s}` is neither YYYY-MM-DD nor an RFC 3339 moment"))
}

pub fn run(args: HistoryArgs) -> anyhow::Result<()> {
    match args.command {
        HistoryCommand::List {
            filter,
            json,
            limit,
        } => list(&filter, json, limit),
        HistoryCommand::Export {
            filter,
            format,
            out,
            columns,
        } => export(&filter, format, &out, &columns),
        HistoryCommand::Verify { db } => verify(&db),
    }
}

fn open(db: &Path) -> anyhow::Result<Store> {
    anyhow::ensure!(db.exists(), "no replica at {}", db.display());
    Store::open(db).with_context(|| format!("opening the replica {}", db.display()))
}

fn list(args: &FilterArgs, json: bool, limit: u64) -> anyhow::Result<()> {
    let store = open(&args.db)?;
    let filter = args.filter()?;
    let q = HistoryQuery {
        filter: &filter,
        include_hidden: store.profile()?.is_supervisor,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut failed = None;
    store
        .history_each(&q, |e| {
            let line = if json {
                event_json(&e).to_string()
            } else {
                event_line(&e)
            };
            if let Err(err) = writeln!(out, "{line}") {
                failed = Some(err);
                return Ok(false);
            }
            printed += 1;
            Ok(limit == 0 || printed < limit)
        })
        .context("reading history")?;
    match failed {
        // A closed pipe (`| head`) is not an error.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Some(e) => return Err(e.into()),
        None => {}
    }
    out.flush().or_else(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => Ok(()),
        _ => Err(e),
    })?;
    Ok(())
}

fn event_json(e: &HistoryEvent) -> serde_json::Value {
    json!({
        "seq": e.seq,
        "happenedAt": e.happened_at.to_rfc3339(),
        "receivedAt": e.received_at.map(|t| t.to_rfc3339()),
        "type": e.record.map(|k| k.entity_type.slug()),
        "id": e.record.map(|k| k.id),
        "title": e.record_title,
        "author": e.author_id,
        "authorName": e.author_name,
        "authorKind": e.author_kind.as_str(),
        "event": e.event.as_str(),
        "field": e.field,
        "fieldLabel": e.field_label,
        "old": e.old_value,
        "new": e.new_value,
        "oldDisplay": e.old_display,
        "newDisplay": e.new_display,
        "note": e.note,
        "source": e.source.as_str(),
        "syncState": e.sync_state.as_str(),
        "deviceId": e.device_id,
        "groupId": e.group_id,
        "hidden": e.hidden,
        "description": describe(e),
    })
}

fn event_line(e: &HistoryEvent) -> String {
    let record = e
        .record
        .map(|k| format!("{} {}", k.entity_type.slug(), k.id))
        .unwrap_or_else(|| "-".into());
    format!(
        "{}  #{:<8} {:<14} {:<22} {}{}",
        e.happened_at.format("%Y-%m-%d %H:%M:%SZ"),
        e.seq,
        record,
        author(e),
        describe(e),
        if e.hidden { "  [скрыто]" } else { "" }
    )
}

fn export(
    args: &FilterArgs,
    format: FormatArg,
    out: &Path,
    columns: &[String],
) -> anyhow::Result<()> {
    let mut store = open(&args.db)?;
    // One pass over many rows: a small page cache keeps an export of a million rows in budget (P8).
    store.limit_page_cache(kartoteka_export::EXPORT_CACHE_KIB)?;
    let filter = args.filter()?;
    let profile = store.profile()?;
    let format = match format {
        FormatArg::Xlsx => ExportFormat::Xlsx,
        FormatArg::Csv => ExportFormat::Csv,
    };
    let q = HistoryQuery {
        filter: &filter,
        include_hidden: profile.is_supervisor,
    };
    let started = std::time::Instant::now();
    let mut report = |p: ExportProgress| {
        let pct = if p.total == 0 {
            100.0
        } else {
            100.0 * p.done as f64 / p.total as f64
        };
        eprint!("\rexporting: {} / {} rows ({pct:.0}%)", p.done, p.total);
    };
    let outcome = export_history(
        &store,
        &q,
        format,
        out,
        columns,
        &mut report,
        &AtomicBool::new(false),
    )
    .context("exporting history")?;
    eprintln!();
    if outcome.cancelled {
        bail!("export cancelled after {} rows", outcome.rows);
    }
    let name = profile
        .user_id
        .and_then(|id| {
            store
                .users()
                .ok()?
                .into_iter()
                .find(|u| u.id == id)
                .map(|u| u.display_name())
        })
        .unwrap_or_default();
    let actor = LocalActor {
        user_id: profile.user_id,
        name,
        device_id: store.device_id()?,
        online: true,
    };
    store
        .record_export(
            &actor,
            Utc::now().timestamp_millis(),
            &filter,
            outcome.rows,
            &format!("История в .{}", format.extension()),
        )
        .context("recording the export in the history")?;
    println!(
        "{} rows written to {} in {:.1} s",
        outcome.rows,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn verify(db: &Path) -> anyhow::Result<()> {
    let store = open(db)?;
    let (checked, broken) = store.verify_history().context("verifying history")?;
    match broken {
        None => {
            println!("history intact: {checked} events checked");
            Ok(())
        }
        Some(b) => {
            let record = b
                .record
                .map(|k| format!("{} {}", k.entity_type.slug(), k.id))
                .unwrap_or_else(|| "no record".into());
            bail!(
                "history broken at event seq {} ({record}): {} ({checked} events before it are intact)",
                b.seq,
                b.reason
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_days_or_rfc3339() {
        let t = parse_moment("2024-05-01T10:00:00+03:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-05-01T07:00:00+00:00");
        let day = parse_moment("2024-05-01").unwrap();
        let local = day.with_timezone(&Local);
        assert_eq!(
            local.format("%Y-%m-%d %H:%M").to_string(),
            "2024-05-01 00:00",
            "a date is the start of that local day"
        );
        assert!(parse_moment("01.05.2024").is_err());
    }
}
