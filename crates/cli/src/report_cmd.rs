//! `inspect report merge` (shard reports back into one report) and
//! `inspect diff` (what changed between two reports).

use std::io::Write;
use std::path::{Path, PathBuf};

use certinspect_core::findings::Severity;
use certinspect_core::report::{Report, OLDEST_DIFFABLE_SCHEMA_VERSION, REPORT_SCHEMA_VERSION};

use crate::exit::{self, ClosedPipe};
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

/// `inspect diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier JSON report.
    old: PathBuf,
    /// The later JSON report.
    new: PathBuf,
    /// Output format: table (one line per finding new, changed or resolved) or json.
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    format: DiffFormat,
    /// Exit with 1 when a new finding is at or above this severity (with --fail-on-new).
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = output::parse_severity)]
    fail_on: Severity,
    /// Exit with 1 when NEW has findings at or above --fail-on that OLD does not (regressions).
    #[arg(long)]
    fail_on_new: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DiffFormat {
    Table,
    Json,
}

pub fn diff(args: &DiffArgs) -> u8 {
    let (old, new) = match (read_report(&args.old), read_report(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(message), _) | (_, Err(message)) => {
            eprintln!("inspect: {message}");
            return exit::USAGE;
        }
    };
    let changes = certinspect_core::diff::diff(&old, &new);
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        DiffFormat::Table => certinspect_render::render_diff(&changes, &mut stdout),
        DiffFormat::Json => certinspect_render::render_diff_json(&changes, &mut stdout),
    };
    if let Err(e) = written.and_then(|()| stdout.flush()).filter_closed_pipe() {
        eprintln!("inspect: cannot write the diff: {e}");
        return exit::OPERATIONAL;
    }
    if args.fail_on_new && changes.new_at_least(args.fail_on).next().is_some() {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
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
    crate::commands::finish(&mut sink, &report, &args.output)
}

/// A JSON report from `path`; a file that does not parse is named with why.
/// Reports of schema versions 3 and 4 are read (their findings compare
/// alike, so `diff` and `--baseline` work across the upgrade); `report
/// merge` then refuses parts older than this version.
pub fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the file: {e}", path.display()))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        let why = if e.is_eof() { "it ends early (truncated?)".to_owned() } else { e.to_string() };
        format!("{}: not a JSON report: {why}", path.display())
    })?;
    let readable = OLDEST_DIFFABLE_SCHEMA_VERSION..=REPORT_SCHEMA_VERSION;
    if !readable.contains(&report.schema_version) {
        return Err(format!(
            "{}: a report of schema version {}; this inspect reads versions {} to {}",
            path.display(),
            report.schema_version,
            readable.start(),
            readable.end()
        ));
    }
    Ok(report)
}
