//! `inspect`: is every certificate your cloud says it deployed the one being
//! served, valid for its names, not expired, not revoked?
//!
//! This binary parses arguments, reads the configuration, sets up logging
//! and output; the work is done by `certinspect-core`.

mod commands;
mod config;
mod exit;
mod output;
mod plugin_host;
mod plugins_cmd;
mod registry;
mod report_cmd;
mod serve;
mod settings;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "inspect",
    version,
    about = "Check that the TLS certificates your cloud declares are the ones being served",
    long_about = "Check that the TLS certificates your cloud declares are the ones being served: valid for their \
                  names, not expired, not revoked, and which ones need you first.",
    after_help = "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration error, \
                  3 some sources or endpoints could not be checked, 4 the tool itself failed (cannot write the report)."
)]
pub struct Cli {
    /// More log output on stderr (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Extra directory to load plugin libraries from (repeatable). Also
    /// searched: CERTINSPECT_PLUGIN_PATH, plugins/ next to this binary,
    /// PREFIX/lib/certinspect/plugins, ~/.local/share/certinspect/plugins.
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read what the configured providers declare, probe every endpoint, and reconcile.
    #[command(
        after_help = "Examples:\n  inspect scan --config inspect.toml\n  inspect scan --from-inventory inventory.jsonl --shard 2/4 --format json --output shard-2.json\n  inspect scan --config inspect.toml --format json --output report.json\n  inspect scan --config inspect.toml --fail-on high --format sarif --output certs.sarif"
    )]
    Scan(commands::ScanArgs),
    /// Scan on a schedule and serve the last complete scan to Prometheus (/metrics), with /healthz and /report.json.
    #[command(
        after_help = "SIGHUP rereads the configuration (a bad one is logged and the previous one kept); SIGTERM or \
                      SIGINT stops. Until the first scan completes, /metrics holds only the scan health and \
                      /report.json answers 503.\n\n\
                      Examples:\n  inspect serve --config inspect.toml\n  inspect serve --config inspect.toml --every 1h --listen 0.0.0.0:9314"
    )]
    Serve(serve::ServeArgs),
    /// Probe endpoints given on the command line or in a file (no cloud).
    #[command(
        after_help = "Examples:\n  inspect probe example.com\n  inspect probe example.com:8443 --sni www.example.com\n  inspect probe --targets hosts.txt --format jsonl\n  inspect probe --declared last-report.json\n  inspect probe shop.example.com --connect-to shop.example.com:443:127.0.0.1:8443"
    )]
    Probe(commands::ProbeArgs),
    /// List what the configured providers declare, without touching any endpoint.
    #[command(
        after_help = "Examples:\n  inspect inventory --config inspect.toml\n  inspect inventory --config inspect.toml --format json\n  inspect inventory --config inspect.toml --format jsonl > inventory.jsonl"
    )]
    Inventory(commands::InventoryArgs),
    /// List the providers built in, the plugin libraries found, and every library that failed to load and why.
    #[command(after_help = "Plugin libraries are searched in: --plugin-dir DIR (repeatable), the directories in \
                      CERTINSPECT_PLUGIN_PATH, plugins/ next to the inspect binary, PREFIX/lib/certinspect/plugins \
                      when inspect is installed as PREFIX/bin/inspect, and $XDG_DATA_HOME/certinspect/plugins \
                      (~/.local/share/certinspect/plugins). A library named like a built-in provider replaces it.\n\n\
                      Examples:\n  inspect plugins\n  inspect plugins --plugin-dir ./target/plugins --format json")]
    Plugins(plugins_cmd::Args),
    /// Work with reports: merge shard reports into one.
    #[command(subcommand)]
    Report(report_cmd::ReportCommand),
    /// What changed between two JSON reports: findings new, resolved and changed, matched by fingerprint.
    #[command(
        after_help = "Examples:\n  inspect diff yesterday.json today.json\n  inspect diff yesterday.json today.json --fail-on-new --fail-on high\n  inspect scan --config inspect.toml --baseline yesterday.json --fail-on-new"
    )]
    Diff(report_cmd::DiffArgs),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(commands::ConfigCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  inspect completions bash > /etc/bash_completion.d/inspect")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Serve one plugin library over stdin/stdout for a scan running it in
    /// a separate process (started by inspect itself).
    #[command(hide = true)]
    PluginHost(plugin_host::Args),
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  inspect man > inspect.1 && man ./inspect.1")]
    Man,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::CLEAN };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose);
    let code = match cli.command {
        Command::Plugins(args) => plugins_cmd::run(&args, &cli.plugin_dirs, cli.verbose > 0),
        Command::Scan(args) => commands::scan(&args, &cli.plugin_dirs),
        Command::Serve(args) => serve::serve(&args, &cli.plugin_dirs),
        Command::Probe(args) => commands::probe(&args),
        Command::Inventory(args) => commands::inventory(&args, &cli.plugin_dirs),
        Command::Report(command) => report_cmd::run(&command),
        Command::Diff(args) => report_cmd::diff(&args),
        Command::Config(command) => commands::config(&command, &cli.plugin_dirs),
        Command::PluginHost(args) => plugin_host::run(&args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "inspect", &mut script);
            commands::write_stdout(&script, "the completion script")
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => commands::write_stdout(&page, "the manual page"),
                Err(e) => {
                    eprintln!("inspect: cannot write the manual page: {e}");
                    exit::OPERATIONAL
                }
            }
        }
    };
    ExitCode::from(code)
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
    // Colour codes only for a person at a terminal, and never with NO_COLOR.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}
