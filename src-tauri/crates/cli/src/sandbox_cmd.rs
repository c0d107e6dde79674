//! `kartoteka-cli sandbox`: serves the sandbox and prints the admin webhook URL first.

use anyhow::Context;
use clap::{Args, ValueEnum};
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum Limits {
    Off,
    Standard,
    Enterprise,
}

#[derive(Args)]
pub struct SandboxArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Total number of demo records across the four types, 100..=1000000 (default: the
    /// ~425-record demo set).
    #[arg(long, value_parser = parse_records)]
    records: Option<usize>,
    /// Seed of the deterministic demo data and webhook codes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rate and operating limits.
    #[arg(long, value_enum, default_value = "standard")]
    limits: Limits,
    /// SQLite file to persist the portal in (loaded at start if it exists).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Freeze the virtual clock at the dataset epoch instead of running on the real clock.
    #[arg(long)]
    frozen_clock: bool,
}

/// The range of `--records` the command serves (the library itself takes any count).
const RECORDS: std::ops::RangeInclusive<usize> = 100..=1_000_000;

/// Parses `--records`: a whole number within [`RECORDS`].
fn parse_records(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of records"))?;
    if RECORDS.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} records is out of range: use {} to {} (leave --records out for the standard demo set)",
            RECORDS.start(),
            RECORDS.end()
        ))
    }
}

pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let opts = SandboxOptions {
            listen: args.listen,
            seed: args.seed,
            records: args.records,
            limits: match args.limits {
                Limits::Off => LimitsPreset::Off,
                Limits::Standard => LimitsPreset::Standard,
                Limits::Enterprise => LimitsPreset::Enterprise,
            },
            db_path: args.db,
            clock: if args.frozen_clock {
                ClockMode::Frozen
            } else {
                ClockMode::Real
            },
        };
        let sandbox = Sandbox::start(opts).await.context("starting the sandbox")?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sandbox.admin_webhook_url())?;
        out.flush()?;
        drop(out);
        eprintln!(
            "sandbox listening on {}; Ctrl-C to stop",
            sandbox.base_url()
        );
        wait_for_stop().await?;
        sandbox.shutdown().await;
        Ok(())
    })
}

/// Waits for Ctrl-C (or SIGTERM on Unix).
async fn wait_for_stop() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sandbox: SandboxArgs,
    }

    fn records(arg: &str) -> Result<Option<usize>, String> {
        Cli::try_parse_from(["kartoteka-cli", "--records", arg])
            .map(|c| c.sandbox.records)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn records_within_100_to_a_million_are_accepted() {
        assert_eq!(records("100"), Ok(Some(100)));
        assert_eq!(records("20000"), Ok(Some(20_000)));
        assert_eq!(records("1000000"), Ok(Some(1_000_000)));
    }

    #[test]
    fn records_outside_the_range_are_refused_with_the_range_named() {
        for bad in ["0", "99", "1000001"] {
            let err = records(bad).expect_err(bad);
            assert!(err.contains("100 to 1000000"), "{bad}: {err}");
        }
        let err = records("lots").expect_err("not a number");
        assert!(err.contains("not a whole number"), "{err}");
    }
}
