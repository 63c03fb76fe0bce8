//! `scan`, `probe`, `inventory` and `config check`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use certinspect_core::bindings_file::read_bindings;
use certinspect_core::findings::Severity;
use certinspect_core::plugins::PluginRegistry;
use certinspect_core::report::Report;
use certinspect_core::scan::{outcome, OpenError, ScanOptions};
use certinspect_core::verify::bare_endpoint;

use crate::config::Config;
use crate::exit;
use crate::output::{self, OutputArgs};
use crate::settings::{verify_options, VerifyArgs};

/// `inspect scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The configuration file.
    #[arg(short, long, value_name = "FILE", default_value = "inspect.toml")]
    config: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    verify: VerifyArgs,
}

/// `inspect probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Endpoints: HOST, HOST:PORT or [IPv6]:PORT (port 443 when omitted).
    #[arg(value_name = "HOST[:PORT]", required_unless_present_any = ["targets", "declared"])]
    endpoints: Vec<String>,
    /// Read endpoints from FILE, one per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Compare with what FILE declares (MATCH / STALE / FOREIGN): a JSON report, an
    /// inventory, JSON Lines, or CSV with the header host,port,sni,sha256.
    #[arg(long, value_name = "FILE")]
    declared: Option<PathBuf>,
    /// Send this server name instead of the host.
    #[arg(long, value_name = "NAME", conflicts_with = "no_sni")]
    sni: Option<String>,
    /// Send no server name.
    #[arg(long)]
    no_sni: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    verify: VerifyArgs,
}

/// `inspect inventory`.
#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// The configuration file.
    #[arg(short, long, value_name = "FILE", default_value = "inspect.toml")]
    config: PathBuf,
    /// Output format: table or json.
    #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
    format: InventoryFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InventoryFormat {
    Table,
    Json,
}

/// `inspect config ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file, including each plugin's section against that plugin's schema.
    #[command(after_help = "Example:\n  inspect config check --config inspect.toml")]
    Check {
        /// The configuration file.
        #[arg(short, long, value_name = "FILE", default_value = "inspect.toml")]
        config: PathBuf,
    },
}

/// One line on stderr and the usage exit code.
fn usage_error(message: impl std::fmt::Display) -> u8 {
    eprintln!("inspect: {message}");
    exit::USAGE
}

/// Load the configuration and the plugins, and check the sources it names
/// against them: each problem is a line naming the file, line and column.
fn load(config_path: &Path, plugin_dirs: &[PathBuf]) -> Result<(Config, PluginRegistry), u8> {
    let config = Config::load(config_path).map_err(usage_error)?;
    let mut dirs = plugin_dirs.to_vec();
    dirs.extend(config.file.plugin_dirs.iter().cloned());
    let registry = crate::registry::load(&dirs);
    for failure in registry.failures() {
        tracing::warn!("plugin not loaded: {failure}");
    }
    let errors = config.check_sources(&registry);
    if !errors.is_empty() {
        for error in &errors {
            eprintln!("inspect: {error}");
        }
        return Err(exit::USAGE);
    }
    Ok((config, registry))
}

/// Options for listing and verifying, from the file and the flags.
fn scan_options(config: &Config, verify: &VerifyArgs) -> Result<ScanOptions, u8> {
    let mut options = ScanOptions::default();
    options.verify = verify_options(&config.file.verify, verify).map_err(usage_error)?;
    options.collect.call_timeout = Duration::from_secs_f64(config.file.verify.plugin_call_timeout_secs);
    Ok(options)
}

/// A source error the engine returns before anything is scanned, placed in
/// the configuration file.
fn open_error(config: &Config, error: &OpenError) -> u8 {
    for located in config.locate(error) {
        eprintln!("inspect: {located}");
    }
    exit::USAGE
}

pub fn scan(args: &ScanArgs, plugin_dirs: &[PathBuf]) -> u8 {
    let (config, registry) = match load(&args.config, plugin_dirs) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let options = match scan_options(&config, &args.verify) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut sink = match output::open(&args.output) {
        Ok(sink) => sink,
        Err(message) => return usage_error(message),
    };
    let mut observer = output::Observer::new(&mut sink, std::io::stderr().is_terminal());
    let scanned = certinspect_core::scan::scan(&registry, &config.source_specs(), &options, &mut observer);
    observer.finish();
    match scanned {
        Ok(report) => finish(&mut sink, &report, args.output.fail_on),
        Err(error) => open_error(&config, &error),
    }
}

pub fn probe(args: &ProbeArgs) -> u8 {
    let mut endpoints = args.endpoints.clone();
    if let Some(path) = &args.targets {
        match std::fs::read_to_string(path) {
            Ok(text) => endpoints.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim())
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            ),
            Err(e) => return usage_error(format!("{}: {e}", path.display())),
        }
    }
    let mut bindings = Vec::new();
    for (index, text) in endpoints.iter().enumerate() {
        let (host, port) = match parse_endpoint(text) {
            Ok(parsed) => parsed,
            Err(message) => {
                let place = args.targets.as_ref().filter(|_| index >= args.endpoints.len());
                let place = place.map(|p| format!("{}: ", p.display())).unwrap_or_default();
                return usage_error(format!("{place}'{text}': {message}"));
            }
        };
        let sni = if args.no_sni {
            None
        } else {
            args.sni.clone().or_else(|| host.parse::<std::net::IpAddr>().is_err().then(|| host.clone()))
        };
        bindings.push(bare_endpoint(&host, port, sni));
    }
    if let Some(path) = &args.declared {
        match read_bindings(path) {
            Ok(declared) => bindings.extend(declared),
            Err(error) => return usage_error(error),
        }
    }
    let options = match verify_options(&Default::default(), &args.verify) {
        Ok(options) => options,
        Err(message) => return usage_error(message),
    };
    let mut sink = match output::open(&args.output) {
        Ok(sink) => sink,
        Err(message) => return usage_error(message),
    };
    let mut observer = output::Observer::new(&mut sink, std::io::stderr().is_terminal());
    let report = certinspect_core::scan::probe(bindings, &options, &mut observer);
    observer.finish();
    finish(&mut sink, &report, args.output.fail_on)
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address.
fn parse_endpoint(text: &str) -> Result<(String, u16), String> {
    let bad_port = |p: &str| format!("'{p}' is not a port (1-65535)");
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed '[' (write IPv6 as [ADDRESS]:PORT)")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok().filter(|p| *p > 0).ok_or_else(|| bad_port(p))?,
            None if after.is_empty() => 443,
            None => return Err("expected :PORT after ']'".into()),
        };
        return Ok((host.to_owned(), port));
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((text.to_owned(), 443));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            Ok((host.to_owned(), port.parse().ok().filter(|p| *p > 0).ok_or_else(|| bad_port(port))?))
        }
        Some(_) => Err("empty host".into()),
        None if text.is_empty() => Err("empty host".into()),
        None => Ok((text.to_owned(), 443)),
    }
}

/// Write the report and decide the exit code.
fn finish(sink: &mut output::Sink, report: &Report, fail_on: Severity) -> u8 {
    if let Err(e) = sink.finish(report) {
        eprintln!("inspect: cannot write the report: {e}");
        return exit::OPERATIONAL;
    }
    exit::of_outcome(outcome(report, fail_on))
}

pub fn inventory(args: &InventoryArgs, plugin_dirs: &[PathBuf]) -> u8 {
    let (config, registry) = match load(&args.config, plugin_dirs) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let options = match scan_options(&config, &VerifyArgs::default()) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut progress = output::Progress(std::io::stderr().is_terminal());
    let inventory = match certinspect_core::scan::inventory(&registry, &config.source_specs(), &options, &mut progress)
    {
        Ok(inventory) => inventory,
        Err(error) => return open_error(&config, &error),
    };
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        InventoryFormat::Json => serde_json::to_writer_pretty(&mut stdout, &inventory)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout)),
        InventoryFormat::Table => output::inventory_table(&mut stdout, &inventory),
    };
    if let Err(e) = written {
        eprintln!("inspect: cannot write the inventory: {e}");
        return exit::OPERATIONAL;
    }
    for error in &inventory.source_errors {
        let scope = error.scope.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
        eprintln!("inspect: {}{scope}: {}", error.plugin, error.message);
    }
    if inventory.source_errors.is_empty() {
        exit::CLEAN
    } else {
        exit::INCOMPLETE
    }
}

pub fn config(command: &ConfigCommand, plugin_dirs: &[PathBuf]) -> u8 {
    match command {
        ConfigCommand::Check { config } => match load(config, plugin_dirs) {
            Ok((config, _)) => {
                println!("{}: OK ({} sources)", config.path.display(), config.file.sources.len());
                exit::CLEAN
            }
            Err(code) => code,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_a_user_writes_them() {
        assert_eq!(parse_endpoint("example.com").unwrap(), ("example.com".into(), 443));
        assert_eq!(parse_endpoint("example.com:8443").unwrap(), ("example.com".into(), 8443));
        assert_eq!(parse_endpoint("[::1]:9000").unwrap(), ("::1".into(), 9000));
        assert_eq!(parse_endpoint("::1").unwrap(), ("::1".into(), 443));
        assert_eq!(parse_endpoint("127.0.0.1:1").unwrap(), ("127.0.0.1".into(), 1));
        assert!(parse_endpoint("example.com:http").unwrap_err().contains("not a port"));
        assert!(parse_endpoint(":443").is_err());
        assert!(parse_endpoint("[::1").is_err());
        assert!(parse_endpoint("host:0").is_err());
    }
}
