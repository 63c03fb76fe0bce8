//! `inspect`: is every certificate your cloud says it deployed the one being
//! served, valid for its names, not expired, not revoked?
//!
//! This binary parses arguments, sets up logging and prints; the work is
//! done by `certinspect-core`.

mod plugins_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, documented in the README.
mod exit {
    /// Usage or configuration error.
    pub const USAGE: u8 = 2;
}

#[derive(Debug, Parser)]
#[command(
    name = "inspect",
    version,
    about = "Check that the TLS certificates your cloud declares are the ones being served"
)]
struct Cli {
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Extra directory to load plugin libraries from (repeatable). Also
    /// searched: CERTINSPECT_PLUGIN_PATH, then plugins/ next to this binary.
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the plugins found, and every library that failed to load and why.
    #[command(
        after_help = "Examples:\n  inspect plugins\n  inspect plugins --plugin-dir ./target/plugins --format json"
    )]
    Plugins(plugins_cmd::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose);
    match cli.command {
        Command::Plugins(args) => plugins_cmd::run(&args, &cli.plugin_dirs, cli.verbose > 0),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
