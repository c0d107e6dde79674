//! `kartoteka-cli records count|show`: reads the replica file.

use anyhow::Context;
use clap::{Args, Subcommand};
use kartoteka_domain::{EntityType, RecordKey};
use kartoteka_store::Store;
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
