//! `kartoteka-cli records count|list|show`: reads the replica file.

use anyhow::Context;
use clap::{Args, Subcommand};
use kartoteka_domain::{EntityType, RecordKey};
use kartoteka_store::{Page, RecordFilter, Store};
use std::path::PathBuf;

#[derive(Args)]
pub struct RecordsArgs {
    #[command(subcommand)]
    command: RecordsCommand,
}

#[derive(Subcommand)]
enum RecordsCommand {
    /// Records in the replica per type (active; deleted and hidden shown beside).
    Count {
        #[arg(long)]
        db: PathBuf,
        #[arg(long = "type")]
        entity_type: Option<EntityType>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The first page of a type's list and its exact total, searched as the app's lists search
    /// (any part of a title, name, company, responsible, phone in any form, e-mail).
    List {
        #[arg(long)]
        db: PathBuf,
        #[arg(long = "type")]
        entity_type: EntityType,
        /// The search box's text.
        #[arg(long)]
        search: Option<String>,
        /// Rows on the page (the lists show 50).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON: `{"total": N, "rows": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// One record, as JSON.
    Show {
        #[arg(long)]
        db: PathBuf,
        #[arg(long = "type")]
        entity_type: EntityType,
        #[arg(long)]
        id: i64,
    },
}

pub fn run(args: RecordsArgs) -> anyhow::Result<()> {
    match args.command {
        RecordsCommand::Count {
            db,
            entity_type,
            json,
        } => {
            let store = open(&db)?;
            let counts: Vec<_> = store
                .counts()
                .context("reading record counts")?
                .into_iter()
                .filter(|c| entity_type.is_none_or(|t| t == c.entity_type))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&counts)?);
            } else if let (Some(_), [only]) = (entity_type, counts.as_slice()) {
                println!("{}", only.active);
            } else {
                for c in &counts {
                    println!(
                        "{:<8} {:>9}  (deleted {}, hidden {})",
                        c.entity_type.slug(),
                        c.active,
                        c.deleted,
                        c.hidden
                    );
                }
            }
            Ok(())
        }
        RecordsCommand::List {
            db,
            entity_type,
            search,
            limit,
            json,
        } => {
            let store = open(&db)?;
            let mut filter = RecordFilter::new(entity_type);
            filter.set_search(search.as_deref());
            let page = store
                .list_records(
                    &filter,
                    &Page {
                        sort: Default::default(),
                        after: None,
                        limit,
                    },
                )
                .context("reading the list")?;
            let total = page.total.unwrap_or(page.rows.len() as u64);
            if json {
                let out = serde_json::json!({"total": total, "rows": page.rows});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for row in &page.rows {
                    let contact = row.phone.as_deref().or(row.email.as_deref()).unwrap_or("");
                    println!("{:>9}  {}  {}", row.id, row.title, contact);
                }
                println!("total: {total}");
            }
            Ok(())
        }
        RecordsCommand::Show {
            db,
            entity_type,
            id,
        } => {
            let store = open(&db)?;
            let key = RecordKey { entity_type, id };
            let Some(record) = store.get_record(key).context("reading the record")? else {
                anyhow::bail!("no {} with id {id} in the replica", entity_type.slug());
            };
            println!("{}", serde_json::to_string_pretty(&record)?);
            Ok(())
        }
    }
}

fn open(db: &std::path::Path) -> anyhow::Result<Store> {
    anyhow::ensure!(db.exists(), "no replica at {}", db.display());
    Store::open(db).with_context(|| format!("opening the replica {}", db.display()))
}
