//! `scan`, `probe`, `inventory` and `config check`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certinspect_core::collect::{collect, CollectError, CollectOptions, Collected};
use certinspect_core::findings::{is_unchecked, Severity};
use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use certinspect_core::join::join;
use certinspect_core::plugins::{OpenedSource, PluginRegistry, PluginSearchPath};
use certinspect_core::report::Report;
use certinspect_core::verify::{bare_endpoint, verify_observed, VerifyInput};
use certinspect_protocol::{capability, error_kind};

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
    #[arg(value_name = "HOST[:PORT]", required_unless_present = "targets")]
    endpoints: Vec<String>,
    /// Read endpoints from FILE, one per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
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

/// Load the configuration and the plugins it names, and check one against the other.
fn load(config_path: &Path, plugin_dirs: &[PathBuf]) -> Result<(Config, PluginRegistry), u8> {
    let config = Config::load(config_path).map_err(usage_error)?;
    let mut dirs = plugin_dirs.to_vec();
    dirs.extend(config.file.plugin_dirs.iter().cloned());
    let mut registry = PluginRegistry::new();
    registry.load_search_path(&PluginSearchPath::from_process(&dirs));
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

fn host(cancel: &CancelFlag) -> Result<Host, u8> {
    let transport = HttpTransport::new(TransportConfig::default()).map_err(|e| {
        eprintln!("inspect: {e}");
        exit::OPERATIONAL
    })?;
    Ok(Host::new(transport, cancel.clone()))
}

/// Open every configured source. A configuration the plugin refuses is a
/// usage error; anything else (credentials, network) is a source failure
/// that the scan reports and goes past.
fn open_sources(
    config: &Config,
    registry: &PluginRegistry,
    host: &Host,
) -> Result<(Vec<Arc<OpenedSource>>, Vec<CollectError>), u8> {
    let mut sources = Vec::new();
    let mut failures = Vec::new();
    for (index, source) in config.file.sources.iter().enumerate() {
        let name = source.plugin.get_ref();
        let plugin = registry.get(name).expect("checked by check_sources");
        match plugin.open(&config.source_settings(index), host.for_plugin(name)) {
            Ok(opened) => sources.push(Arc::new(opened)),
            Err(e) if e.error.kind == error_kind::INVALID_CONFIG => {
                return Err(usage_error(format!(
                    "{}: [[source]] '{name}': {}",
                    config.path.display(),
                    e.error.message
                )));
            }
            Err(e) => failures.push(CollectError { plugin: name.clone(), scope: None, message: e.error.to_string() }),
        }
    }
    Ok((sources, failures))
}

/// Open every configured source and collect its bindings. Sources that
/// could not be opened are among the collection's errors.
fn collect_configured(config: &Config, registry: &PluginRegistry) -> Result<(Vec<Arc<OpenedSource>>, Collected), u8> {
    let host = host(&CancelFlag::default())?;
    let (sources, mut failures) = open_sources(config, registry, &host)?;
    let options = CollectOptions {
        call_timeout: Duration::from_secs_f64(config.file.verify.plugin_call_timeout_secs),
        ..CollectOptions::default()
    };
    let progress = std::io::stderr().is_terminal();
    if progress {
        eprint!("\r\x1b[2Klisting {} sources...", sources.len());
    }
    let mut collected = collect(&sources, &options);
    failures.append(&mut collected.errors);
    collected.errors = failures;
    if progress {
        let pages: usize = collected.stats.iter().map(|s| s.pages).sum();
        eprintln!(
            "\r\x1b[2Klisted {} bindings in {pages} pages from {} sources, {} failed",
            collected.bindings.len(),
            sources.len(),
            collected.errors.len()
        );
    }
    Ok((sources, collected))
}

pub fn scan(args: &ScanArgs, plugin_dirs: &[PathBuf]) -> u8 {
    let (config, registry) = match load(&args.config, plugin_dirs) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let options = match verify_options(&config.file.verify, &args.verify) {
        Ok(options) => options,
        Err(message) => return usage_error(message),
    };
    let (sources, collected) = match collect_configured(&config, &registry) {
        Ok(collected) => collected,
        Err(code) => return code,
    };
    let revocation_sources = sources
        .iter()
        .filter(|s| registry.get(s.plugin()).is_some_and(|p| p.info().has_capability(capability::REVOCATION_LOOKUP)))
        .cloned()
        .collect();
    let input = VerifyInput {
        bindings: collected.bindings,
        revocation_sources,
        source_errors: collected.errors,
        source_stats: collected.stats,
    };
    run_verification(input, &options, &args.output)
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
    let options = match verify_options(&Default::default(), &args.verify) {
        Ok(options) => options,
        Err(message) => return usage_error(message),
    };
    run_verification(VerifyInput { bindings, ..VerifyInput::default() }, &options, &args.output)
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

fn run_verification(input: VerifyInput, options: &certinspect_core::verify::VerifyOptions, args: &OutputArgs) -> u8 {
    let mut sink = match output::open(args) {
        Ok(sink) => sink,
        Err(message) => return usage_error(message),
    };
    let mut observer = output::Observer::new(&mut sink, std::io::stderr().is_terminal());
    let report = verify_observed(input, options, &mut observer);
    observer.finish();
    if let Err(e) = sink.finish(&report) {
        eprintln!("inspect: cannot write the report: {e}");
        return exit::OPERATIONAL;
    }
    exit_code(&report, args.fail_on)
}

/// 1 when something checked is wrong at or above the threshold, else 3
/// when something could not be checked, else 0.
fn exit_code(report: &Report, fail_on: Severity) -> u8 {
    if report.findings_at_least(fail_on).any(|f| !is_unchecked(&f.code)) {
        exit::FINDINGS
    } else if report.incomplete() {
        exit::INCOMPLETE
    } else {
        exit::CLEAN
    }
}

pub fn inventory(args: &InventoryArgs, plugin_dirs: &[PathBuf]) -> u8 {
    let (config, registry) = match load(&args.config, plugin_dirs) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let (_sources, mut collected) = match collect_configured(&config, &registry) {
        Ok(collected) => collected,
        Err(code) => return code,
    };
    let joined = join(&mut collected.bindings);
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        InventoryFormat::Json => {
            let document = serde_json::json!({
                "bindings": collected.bindings,
                "join": joined,
                "source_errors": collected.errors,
                "source_stats": collected.stats,
            });
            serde_json::to_writer_pretty(&mut stdout, &document)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(stdout))
        }
        InventoryFormat::Table => output::inventory_table(&mut stdout, &collected, &joined),
    };
    if let Err(e) = written {
        eprintln!("inspect: cannot write the inventory: {e}");
        return exit::OPERATIONAL;
    }
    for error in &collected.errors {
        let scope = error.scope.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
        eprintln!("inspect: {}{scope}: {}", error.plugin, error.message);
    }
    if collected.errors.is_empty() {
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
