//! `kartoteka-cli edit|create|delete|restore|outbox`: local edits recorded exactly as the app records them (one
//! durable transaction: replica row, outbox entries, history), no network needed; the outbox
//! as a table or JSON lines with conflicts per field.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::UncertainChoice;
use kartoteka_domain::{EntityType, MultiFieldEdit, MultiFieldKind, RecordEdit, RecordKey};
use kartoteka_store::{LocalActor, Store, StoreError};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct EditArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long = "type")]
    entity_type: EntityType,
    #[arg(long, allow_hyphen_values = true)]
    id: i64,
    /// FIELD=VALUE; FIELD by its crm.item name (camelCase) or custom-field name (UF_CRM_… or
    /// its camelCase form); VALUE as JSON when it parses (numbers, arrays, null), else text.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Add a phone: VALUE or TYPE:VALUE (WORK, MOBILE, …).
    #[arg(long = "add-phone")]
    add_phone: Vec<String>,
    /// Add an e-mail: VALUE or TYPE:VALUE.
    #[arg(long = "add-email")]
    add_email: Vec<String>,
    /// Remove a phone or e-mail entry by its id.
    #[arg(long = "remove-fm")]
    remove_fm: Vec<i64>,
    /// Record the edit as made while online (default: offline).
    #[arg(long)]
    online: bool,
}

#[derive(Args)]
pub struct CreateArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long = "type")]
    entity_type: EntityType,
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    #[arg(long = "add-phone")]
    add_phone: Vec<String>,
    #[arg(long = "add-email")]
    add_email: Vec<String>,
    #[arg(long)]
    online: bool,
}

/// `delete` and `restore`: one record of the replica.
#[derive(Args)]
pub struct RecordArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long = "type")]
    entity_type: EntityType,
    #[arg(long, allow_hyphen_values = true)]
    id: i64,
    /// Record it as done while online (default: offline).
    #[arg(long)]
    online: bool,
}

#[derive(Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    command: OutboxCommand,
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Unsent edits with their state (conflicts per field: mine, theirs, original).
    List {
        #[arg(long)]
        db: PathBuf,
        /// Also entries already uploaded or discarded.
        #[arg(long)]
        all: bool,
        /// One JSON object per entry.
        #[arg(long)]
        json: bool,
    },
    /// Write the unsent edits to a JSON file (before signing out or deleting local data).
    Export {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Queue edits from such a file again (in this replica, as this device's user). Only a
    /// replica of the portal and user the file names takes it.
    Import {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        file: PathBuf,
        /// For a file of the first format, which names no portal and no user: confirm that its
        /// edits were made on this replica's portal by its user.
        #[arg(long)]
        made_here: bool,
    },
    /// Put rejected entries (or one entry) back in the queue.
    Retry {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        id: Option<i64>,
    },
    /// An uncertain create (it may be on the portal, where you cannot see it) is not there:
    /// send it again.
    SendAgain {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        id: i64,
    },
    /// An uncertain create is on the portal: it is done, and its record leaves this replica
    /// (you may not read it there); its later entries are discarded.
    Arrived {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        id: i64,
    },
}

/// What an uncertain create tells before the user chooses (`outbox list`).
fn uncertain_details(e: &kartoteka_domain::OutboxEntry) -> Option<String> {
    let u = e.uncertain.as_ref()?;
    let sent = match u.sent_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(t) => format!("sent {} UTC, no answer", t.format("%Y-%m-%d %H:%M")),
        None => "sent before, answer not known".to_string(),
    };
    let whose = if u.assignee_name.is_empty() {
        "you may not see it".to_string()
    } else {
        format!(
            "would be assigned to {}, whose records you cannot see",
            u.assignee_name
        )
    };
    let later = if u.later_entries > 0 {
        format!(
            "; {} later entr(ies) are dropped if it arrived",
            u.later_entries
        )
    } else {
        String::new()
    };
    Some(format!(
        "{sent}; {whose}: check in Bitrix24 whether \"{}\" exists, then `outbox send-again --id {}` or `outbox arrived --id {}`{later}",
        e.record_title, e.id, e.id
    ))
}

fn open(db: &Path) -> anyhow::Result<Store> {
    Store::open(db).with_context(|| format!("opening the replica {}", db.display()))
}

fn actor(store: &mut Store, online: bool) -> anyhow::Result<LocalActor> {
    store
        .local_actor(online)
        .context("reading the signed-in user")
}

/// `ufCrm5Size` → `UF_CRM_5_SIZE` style lookup against the replica's field metadata.
fn field_name(store: &Store, t: EntityType, given: &str) -> anyhow::Result<String> {
    let metas = store.field_meta(t).context("reading field metadata")?;
    if metas.is_empty() || metas.iter().any(|m| m.name == given) {
        return Ok(given.to_string());
    }
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    match metas.iter().find(|m| squash(&m.name) == squash(given)) {
        Some(m) => Ok(m.name.clone()),
        None => bail!("{t} has no field \"{given}\""),
    }
}

fn parse_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(
            v @ (Value::Number(_)
            | Value::Array(_)
            | Value::Null
            | Value::Bool(_)
            | Value::Object(_)),
        ) => v,
        _ => Value::String(text.to_string()),
    }
}

fn multi(kind: MultiFieldKind, spec: &str) -> MultiFieldEdit {
    let (value_type, value) = match spec.split_once(':') {
        Some((t, v)) if t.chars().all(|c| c.is_ascii_uppercase()) && !t.is_empty() => (t, v),
        _ => ("WORK", spec),
    };
    MultiFieldEdit::Add {
        kind,
        value_type: value_type.to_string(),
        value: value.to_string(),
    }
}

fn build_edit(
    store: &Store,
    t: EntityType,
    set: &[String],
    phones: &[String],
    emails: &[String],
    remove: &[i64],
) -> anyhow::Result<RecordEdit> {
    let mut edit = RecordEdit::default();
    for pair in set {
        let Some((field, value)) = pair.split_once('=') else {
            bail!("--set takes FIELD=VALUE, got \"{pair}\"");
        };
        edit.fields
            .insert(field_name(store, t, field.trim())?, parse_value(value));
    }
    edit.multi_fields
        .extend(phones.iter().map(|p| multi(MultiFieldKind::Phone, p)));
    edit.multi_fields
        .extend(emails.iter().map(|p| multi(MultiFieldKind::Email, p)));
    edit.multi_fields
        .extend(remove.iter().map(|&id| MultiFieldEdit::Remove { id }));
    if edit.is_empty() {
        bail!(
            "nothing to change: give --set FIELD=VALUE (or --add-phone, --add-email, --remove-fm)"
        );
    }
    Ok(edit)
}

fn explain(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Invalid(problems) => anyhow::anyhow!(
            "the edit was refused, nothing was queued:\n{}",
            problems
                .iter()
                .map(|p| format!("  {}: {}", p.field, p.message_en))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        StoreError::NotFound => anyhow::anyhow!("no such record in the replica"),
        StoreError::NotAllowed(why) => anyhow::anyhow!("not done: {why}"),
        other => anyhow::Error::new(other),
    }
}

pub fn run_edit(args: EditArgs) -> anyhow::Result<()> {
    let mut store = open(&args.db)?;
    let edit = build_edit(
        &store,
        args.entity_type,
        &args.set,
        &args.add_phone,
        &args.add_email,
        &args.remove_fm,
    )?;
    let actor = actor(&mut store, args.online)?;
    let key = RecordKey {
        entity_type: args.entity_type,
        id: args.id,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let saved = store
        .edit_record(&actor, key, &edit, now)
        .map_err(explain)?;
    println!(
        "saved {} #{}: {} change(s) queued",
        key.entity_type.slug(),
        key.id,
        saved.queued
    );
    Ok(())
}

pub fn run_create(args: CreateArgs) -> anyhow::Result<()> {
    let mut store = open(&args.db)?;
    let edit = build_edit(
        &store,
        args.entity_type,
        &args.set,
        &args.add_phone,
        &args.add_email,
        &[],
    )?;
    let actor = actor(&mut store, args.online)?;
    let now = chrono::Utc::now().timestamp_millis();
    let saved = store
        .create_record(&actor, args.entity_type, &edit, now)
        .map_err(explain)?;
    println!(
        "created {} with local id {} (uploaded at the next sync)",
        saved.key.entity_type.slug(),
        saved.key.id
    );
    Ok(())
}

/// Moves a record to the recycle bin, as the card's «Удалить» does; the deletion is uploaded at
/// the next sync.
pub fn run_delete(args: RecordArgs) -> anyhow::Result<()> {
    let mut store = open(&args.db)?;
    let actor = actor(&mut store, args.online)?;
    let key = RecordKey {
        entity_type: args.entity_type,
        id: args.id,
    };
    let saved = store
        .delete_record(&actor, key, chrono::Utc::now().timestamp_millis())
        .map_err(explain)?;
    if saved.queued == 0 {
        println!(
            "deleted {} #{}; it never reached the portal, so nothing is sent",
            key.entity_type.slug(),
            key.id
        );
    } else {
        println!(
            "deleted {} #{}; the deletion is uploaded at the next sync",
            key.entity_type.slug(),
            key.id
        );
    }
    Ok(())
}

/// Brings a deleted record back, as the card's «Восстановить» does.
pub fn run_restore(args: RecordArgs) -> anyhow::Result<()> {
    let mut store = open(&args.db)?;
    let actor = actor(&mut store, args.online)?;
    let key = RecordKey {
        entity_type: args.entity_type,
        id: args.id,
    };
    let saved = store
        .restore_record(&actor, key, chrono::Utc::now().timestamp_millis())
        .map_err(explain)?;
    if saved.key == key {
        println!(
            "restored {} #{}{}",
            key.entity_type.slug(),
            key.id,
            if saved.queued == 0 {
                "; its deletion had not been sent, so nothing is sent"
            } else {
                "; it is created on the portal at the next sync"
            }
        );
    } else {
        println!(
            "restored {} #{} as a new record (local id {}), created on the portal at the next sync",
            key.entity_type.slug(),
            key.id,
            saved.key.id
        );
    }
    Ok(())
}

/// The user's word on an uncertain create.
fn settle(db: &Path, id: i64, choice: UncertainChoice) -> anyhow::Result<()> {
    let mut store = open(db)?;
    let actor = actor(&mut store, false)?;
    let key = store
        .settle_uncertain(&actor, id, choice, chrono::Utc::now().timestamp_millis())
        .map_err(explain)?;
    match choice {
        UncertainChoice::SendAgain => println!(
            "entry {id} is back in the queue: the next sync sends it ({} #{})",
            key.entity_type.slug(),
            key.id
        ),
        UncertainChoice::Arrived => println!(
            "entry {id} is done: {} #{} is on the portal, not in this replica",
            key.entity_type.slug(),
            key.id
        ),
    }
    Ok(())
}

pub fn run_outbox(args: OutboxArgs) -> anyhow::Result<()> {
    match args.command {
        OutboxCommand::List { db, all, json } => {
            let store = open(&db)?;
            let list = store
                .outbox_list(&OutboxListRequest {
                    include_closed: all,
                    record: None,
                })
                .context("reading the outbox")?;
            if json {
                for e in &list.entries {
                    println!("{}", serde_json::to_string(e)?);
                }
                return Ok(());
            }
            println!(
                "{:>6}  {:<8} {:>16}  {:<24} {:<10} {:>3}  details",
                "id", "type", "record", "field", "state", "try"
            );
            for e in &list.entries {
                // The replica's words (titles, names) where it has them, else the raw value.
                let shown = |text: &Option<String>, raw: &Value| match text {
                    Some(t) => t.clone(),
                    None if raw.is_null() => "—".into(),
                    None => raw.to_string(),
                };
                let (base, mine) = (shown(&e.texts.base, &e.base), shown(&e.texts.mine, &e.mine));
                let details = match (&e.theirs, &e.last_error) {
                    _ if e.uncertain.is_some() => uncertain_details(e).unwrap_or_default(),
                    (Some(theirs), _) => format!(
                        "mine {mine} · theirs {} · original {base}",
                        shown(&e.texts.theirs, theirs)
                    ),
                    (None, Some(err)) => err.clone(),
                    (None, None) => format!("{base} → {mine}"),
                };
                println!(
                    "{:>6}  {:<8} {:>16}  {:<24} {:<10} {:>3}  {}",
                    e.id,
                    e.key.entity_type.slug(),
                    e.key.id,
                    e.field,
                    e.state.as_str(),
                    e.attempts,
                    details
                );
            }
            println!(
                "open: {}  conflicts: {}  uncertain: {}",
                list.open, list.conflicts, list.uncertain
            );
            Ok(())
        }
        OutboxCommand::Export { db, out } => {
            let store = open(&db)?;
            let edits = store.export_unsent_edits().context("reading the outbox")?;
            // The user's alone (0600 on unix), written whole or not at all.
            kartoteka_store::write_private_file(&out, &serde_json::to_vec_pretty(&edits)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} unsent edit(s) written to {}",
                edits.edits.len(),
                out.display()
            );
            Ok(())
        }
        OutboxCommand::Import {
            db,
            file,
            made_here,
        } => {
            let mut store = open(&db)?;
            let text =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let edits: kartoteka_store::ExportedEdits = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not a file of unsent edits", file.display()))?;
            let actor = actor(&mut store, false)?;
            let n = store
                .import_unsent_edits(
                    &actor,
                    &edits,
                    chrono::Utc::now().timestamp_millis(),
                    made_here,
                )
                .map_err(|e| match e {
                    StoreError::EditsOriginUnknown { .. } => {
                        anyhow::anyhow!("{e}\nIf they were, run this again with --made-here.")
                    }
                    e => explain(e),
                })?;
            println!("{n} change(s) queued again");
            Ok(())
        }
        OutboxCommand::SendAgain { db, id } => settle(&db, id, UncertainChoice::SendAgain),
        OutboxCommand::Arrived { db, id } => settle(&db, id, UncertainChoice::Arrived),
        OutboxCommand::Retry { db, id } => {
            let mut store = open(&db)?;
            let n = store.retry_outbox(id).context("retrying")?;
            println!(
                "{n} entr{} back in the queue",
                if n == 1 { "y" } else { "ies" }
            );
            Ok(())
        }
    }
}
