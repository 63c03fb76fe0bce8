//! `scan`, `probe`, `inventory` and `config check`.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use certinspect_core::bindings_file::{read_bindings, read_inventory, InventoryHeader};
use certinspect_core::plugins::PluginRegistry;
use certinspect_core::report::Report;
use certinspect_core::scan::{outcome, OpenError, ScanOptions};
use certinspect_core::shard::Shard;
use certinspect_core::verify::{BareEndpoint, ConnectTo};
use certinspect_probe::{parse_sni, parse_target_line, ProbeTarget};
use certinspect_protocol::Binding;

use crate::config::Config;
use crate::exit::{self, ClosedPipe};
use crate::output::{self, OutputArgs};
use crate::settings::{verify_options, VerifyArgs};

/// `inspect scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The configuration file [default: inspect.toml]; with --from-inventory only its [verify] section is
    /// read, and only when given or present.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Verify the bindings of an inventory (`inspect inventory --format jsonl`, or any file --declared
    /// reads; - for stdin) without calling any cloud API.
    #[arg(long, value_name = "FILE")]
    from_inventory: Option<PathBuf>,
    /// Verify only shard I of N (I from 0 to N-1) of the inventory, chosen by a stable hash of host, port
    /// and SNI; `auto` takes I from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) or
    /// AWS_BATCH_JOB_ARRAY_INDEX and N from --shard-count.
    #[arg(long, value_name = "I/N|auto", requires = "from_inventory")]
    shard: Option<String>,
    /// The number of shards for --shard auto.
    #[arg(long, value_name = "N", env = "CERTINSPECT_SHARD_COUNT")]
    shard_count: Option<u32>,
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
    /// Read endpoints from FILE, one per line: HOST[:PORT] [sni=NAME] [connect=ADDRESS[:PORT]]
    /// (# starts a comment).
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
    /// Output format: table, json, or jsonl (a header line with the inventory's id, then one binding per
    /// line: what `inspect scan --from-inventory` reads).
    #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
    format: InventoryFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InventoryFormat {
    Table,
    Json,
    Jsonl,
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
pub(crate) fn load(config_path: &Path, plugin_dirs: &[PathBuf]) -> Result<(Config, PluginRegistry), u8> {
    let config = Config::load(config_path).map_err(usage_error)?;
    let mut dirs = plugin_dirs.to_vec();
    dirs.extend(config.file.plugin_dirs.iter().cloned());
    let info_host = crate::plugin_host::info_host(&config.file.plugins);
    let registry = crate::registry::load(&dirs, config.admission_policy(), info_host);
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
pub(crate) fn scan_options(config: &Config, verify: &VerifyArgs) -> Result<ScanOptions, u8> {
    let mut options = ScanOptions::default();
    options.verify = verify_options(&config.file.verify, verify).map_err(usage_error)?;
    options.collect.call_timeout = Duration::from_secs_f64(config.file.verify.plugin_call_timeout_secs);
    options.isolation = config.file.plugins.isolation.into();
    options.process_host = crate::plugin_host::process_host(config.file.plugins.memory_limit_mib);
    Ok(options)
}

/// A source error the engine returns before anything is scanned, placed in
/// the configuration file: a usage error, except when the tool itself could
/// not start its HTTP transport.
pub(crate) fn open_error(config: &Config, error: &OpenError) -> u8 {
    for located in config.locate(error) {
        eprintln!("inspect: {located}");
    }
    match error {
        OpenError::Transport(_) => exit::OPERATIONAL,
        _ => exit::USAGE,
    }
}

/// The configuration file `scan` and `inventory` read when none is named.
const DEFAULT_CONFIG: &str = "inspect.toml";

pub fn scan(args: &ScanArgs, plugin_dirs: &[PathBuf]) -> u8 {
    if let Some(inventory) = &args.from_inventory {
        return scan_inventory(args, inventory);
    }
    let config_path = args.config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let (config, registry) = match load(&config_path, plugin_dirs) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut options = match scan_options(&config, &args.verify) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut sink = match output::open(&args.output, &config.file.output.labels_from_tags) {
        Ok(sink) => sink,
        Err(message) => return usage_error(message),
    };
    options.verify.keep_results = !sink.streams();
    let mut observer = output::Observer::new(&mut sink, std::io::stderr().is_terminal());
    let scanned = certinspect_core::scan::scan(&registry, &config.source_specs(), &options, &mut observer);
    observer.finish();
    match scanned {
        Ok(report) => finish(&mut sink, &report, &args.output),
        Err(error) => open_error(&config, &error),
    }
}

/// `scan --from-inventory [--shard]`: no plugin is loaded, no cloud called.
fn scan_inventory(args: &ScanArgs, inventory_path: &Path) -> u8 {
    let shard = match args.shard.as_deref().map(|spec| shard_of_spec(spec, args.shard_count)).transpose() {
        Ok(shard) => shard,
        Err(message) => return usage_error(format!("--shard: {message}")),
    };
    // The configuration's [verify] and [output] apply; its sources are not opened.
    let config = match &args.config {
        Some(path) => Config::load(path).map(Some),
        None if Path::new(DEFAULT_CONFIG).exists() => Config::load(Path::new(DEFAULT_CONFIG)).map(Some),
        None => Ok(None),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => return usage_error(error),
    };
    let defaults = Default::default();
    let verify = config.as_ref().map_or(&defaults, |c| &c.file.verify);
    let mut options = match verify_options(verify, &args.verify) {
        Ok(options) => options,
        Err(message) => return usage_error(message),
    };
    let inventory = match read_inventory(inventory_path) {
        Ok(inventory) => inventory,
        Err(error) => return usage_error(error),
    };
    let labels = config.as_ref().map(|c| c.file.output.labels_from_tags.as_slice()).unwrap_or_default();
    let mut sink = match output::open(&args.output, labels) {
        Ok(sink) => sink,
        Err(message) => return usage_error(message),
    };
    options.keep_results = !sink.streams();
    let mut observer = output::Observer::new(&mut sink, std::io::stderr().is_terminal());
    let report = certinspect_core::scan::scan_inventory(inventory, shard, &options, &mut observer);
    observer.finish();
    finish(&mut sink, &report, &args.output)
}

/// `I/N`, or `auto`: the index an array job gives (Kubernetes Indexed Jobs,
/// AWS Batch array jobs) and the count from `--shard-count`.
fn shard_of_spec(spec: &str, count: Option<u32>) -> Result<Shard, String> {
    if spec != "auto" {
        return spec.parse();
    }
    const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"];
    let (variable, index) = INDEX_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok().map(|value| (*name, value)))
        .ok_or_else(|| format!("auto needs {} in the environment", INDEX_VARIABLES.join(" or ")))?;
    let count = count.ok_or("auto needs the number of shards: --shard-count N or CERTINSPECT_SHARD_COUNT")?;
    let index: u32 = index.trim().parse().map_err(|_| format!("{variable}='{index}' is not a shard index"))?;
    Shard::new(index, count).ok_or_else(|| format!("{variable}={index} is not below the shard count {count}"))
}

pub fn probe(args: &ProbeArgs) -> u8 {
    let (endpoints, routes) = match probe_targets(args) {
        Ok(targets) => targets,
        Err(message) => return usage_error(message),
    };
    // With declarations the run is over whole bindings (targets first);
    // without, the targets are held small.
    let declared = match args.declared.as_deref().map(read_bindings).transpose() {
        Ok(declared) => declared,
        Err(error) => return usage_error(error),
    };
    // An empty list is almost always the wrong file; an empty report with
    // exit 0 would read as "all clear".
    if endpoints.is_empty() && declared.as_ref().is_none_or(Vec::is_empty) {
        let files: Vec<String> =
            [&args.targets, &args.declared].into_iter().flatten().map(|p| p.display().to_string()).collect();
        return usage_error(format!("{} names no endpoint to probe", files.join(" and ")));
    }
    let mut options = match verify_options(&Default::default(), &args.verify) {
        Ok(options) => options,
        Err(message) => return usage_error(message),
    };
    options.connect_to.extend(routes);
    let mut sink = match output::open(&args.output, &[]) {
        Ok(sink) => sink,
        Err(message) => return usage_error(message),
    };
    options.keep_results = !sink.streams();
    let mut observer = output::Observer::new(&mut sink, std::io::stderr().is_terminal());
    let report = match declared {
        None => certinspect_core::scan::probe_endpoints(endpoints, &options, &mut observer),
        Some(declared) => {
            let mut bindings: Vec<Binding> = endpoints.iter().map(BareEndpoint::binding).collect();
            bindings.extend(declared);
            certinspect_core::scan::probe(bindings, &options, &mut observer)
        }
    };
    observer.finish();
    finish(&mut sink, &report, &args.output)
}

/// The endpoints to probe, from the command line and the targets file
/// (`HOST[:PORT] [sni=NAME] [connect=ADDRESS[:PORT]]` per line), with the
/// routes the file's `connect=` words ask for. Names become A-labels; a
/// name that cannot is a usage error naming it.
fn probe_targets(args: &ProbeArgs) -> Result<(Vec<BareEndpoint>, Vec<ConnectTo>), String> {
    let flag_sni = args.sni.as_deref().map(parse_sni).transpose().map_err(|e| format!("--sni: {e}"))?;
    let sni_for = |host: &str, named: Option<String>| {
        if args.no_sni {
            None
        } else {
            named.or_else(|| flag_sni.clone()).or_else(|| host.parse::<IpAddr>().is_err().then(|| host.to_owned()))
        }
    };
    let bare = |host: &str, port: u16, sni: Option<String>| BareEndpoint::new(host, port, sni.as_deref());
    let mut endpoints = Vec::new();
    let mut routes = Vec::new();
    for text in &args.endpoints {
        let target: ProbeTarget = text.parse().map_err(|e| format!("'{text}': {e}"))?;
        endpoints.push(bare(&target.host, target.port, sni_for(&target.host, None)));
    }
    if let Some(path) = &args.targets {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            let parsed = parse_target_line(line).map_err(|e| format!("{}:{}: {e}", path.display(), number + 1))?;
            let Some(line) = parsed else { continue };
            if let Some((address, port)) = line.connect {
                routes.push(ConnectTo::new(&line.host, line.port, SocketAddr::new(address, port.unwrap_or(line.port))));
            }
            endpoints.push(bare(&line.host, line.port, sni_for(&line.host, line.sni)));
        }
    }
    Ok((endpoints, routes))
}

/// Write the report, say what changed since the baseline, and decide the
/// exit code.
pub fn finish(sink: &mut output::Sink, report: &Report, output: &OutputArgs) -> u8 {
    if let Err(e) = sink.finish(report).filter_closed_pipe() {
        eprintln!("inspect: cannot write the report: {e}");
        return exit::OPERATIONAL;
    }
    let Some(baseline) = &sink.baseline else {
        return exit::of_outcome(outcome(report, output.fail_on));
    };
    let changes = certinspect_core::diff::diff(baseline, report);
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "inspect: since the baseline:");
    let _ = certinspect_render::render_diff(&changes, &mut stderr);
    if output.fail_on_new {
        exit::of_outcome(certinspect_core::diff::outcome_of_new(report, &changes, output.fail_on))
    } else {
        exit::of_outcome(outcome(report, output.fail_on))
    }
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
        InventoryFormat::Jsonl => inventory_jsonl(&mut stdout, &inventory),
        InventoryFormat::Table => output::inventory_table(&mut stdout, &inventory),
    };
    if let Err(e) = written.filter_closed_pipe() {
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

/// The inventory as JSON Lines: the header, then one binding per line.
fn inventory_jsonl(out: &mut dyn Write, inventory: &certinspect_core::scan::Inventory) -> std::io::Result<()> {
    let mut header = InventoryHeader::new(&inventory.bindings, &inventory.source_errors, &inventory.source_stats);
    header.source_warnings.clone_from(&inventory.source_warnings);
    serde_json::to_writer(&mut *out, &header)?;
    writeln!(out)?;
    for binding in &inventory.bindings {
        serde_json::to_writer(&mut *out, binding)?;
        writeln!(out)?;
    }
    out.flush()
}

pub fn config(command: &ConfigCommand, plugin_dirs: &[PathBuf]) -> u8 {
    match command {
        ConfigCommand::Check { config } => match load(config, plugin_dirs) {
            Ok((config, _)) => {
                let line = format!("{}: OK ({} sources)\n", config.path.display(), config.file.sources.len());
                write_stdout(line.as_bytes(), "the result")
            }
            Err(code) => code,
        },
    }
}

/// Write `bytes` to standard output: a closed pipe is quiet success (see
/// [`ClosedPipe`]), any other failure an operational error naming `what`.
pub fn write_stdout(bytes: &[u8], what: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()).filter_closed_pipe() {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("inspect: cannot write {what}: {e}");
            exit::OPERATIONAL
        }
    }
}
