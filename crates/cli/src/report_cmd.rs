//! `inspect report merge`: shard reports back into one report.

use std::path::{Path, PathBuf};

use certinspect_core::report::Report;

use crate::exit;
use crate::output::{self, OutputArgs};

/// `inspect report ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Combine the JSON reports of every shard (`inspect scan --from-inventory FILE --shard I/N --format
    /// json`) into the report one run over the whole inventory writes; exit 3 when a part is missing,
    /// truncated or from another inventory.
    #[command(after_help = "Example:\n  inspect report merge shard-*.json --format json --output report.json")]
    Merge(MergeArgs),
}

/// `inspect report merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' JSON reports, in any order.
    #[arg(value_name = "PART", required = true)]
    parts: Vec<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(command: &ReportCommand) -> u8 {
    match command {
        ReportCommand::Merge(args) => merge(args),
    }
}

fn merge(args: &MergeArgs) -> u8 {
    let parts: Result<Vec<Report>, String> = args.parts.iter().map(|path| read_report(path)).collect();
    let merged = parts.and_then(|parts| certinspect_core::shard::merge(parts).map_err(|e| e.to_string()));
    let report = match merged {
        Ok(report) => report,
        Err(message) => {
            // Not a usage error: the parts are what a run produced, and part of it is not there.
            eprintln!("inspect: cannot merge: {message}");
            return exit::INCOMPLETE;
        }
    };
    let mut sink = match output::open_whole(&args.output) {
        Ok(sink) => sink,
        Err(message) => {
            eprintln!("inspect: {message}");
            return exit::USAGE;
        }
    };
    crate::commands::finish(&mut sink, &report, args.output.fail_on)
}

/// A JSON report from `path`; a file that does not parse is named with why.
pub fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the file: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        let why = if e.is_eof() { "it ends early (truncated?)".to_owned() } else { e.to_string() };
        format!("{}: not a JSON report: {why}", path.display())
    })
}
