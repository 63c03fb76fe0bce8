//! `inspect plugins`.

use std::io::{self, Write};
use std::path::PathBuf;

use certinspect_core::plugins::{AdmissionPolicy, PluginRegistry};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Apply this configuration's `[plugins]` rules (permission check,
    /// allow-list) and `plugin_dirs`, as a scan with it would.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: &Args, plugin_dirs: &[PathBuf], verbose: bool) -> u8 {
    let mut dirs = plugin_dirs.to_vec();
    let mut policy = AdmissionPolicy::default();
    let mut info_host = crate::plugin_host::info_host(&crate::config::PluginSettings::default());
    if let Some(path) = &args.config {
        match crate::config::Config::load(path) {
            Ok(config) => {
                dirs.extend(config.file.plugin_dirs.iter().cloned());
                policy = config.admission_policy();
                info_host = crate::plugin_host::info_host(&config.file.plugins);
            }
            Err(error) => {
                eprintln!("inspect: {error}");
                return crate::exit::USAGE;
            }
        }
    }
    let registry = crate::registry::load(&dirs, policy, info_host);
    let mut text = Vec::new();
    let written = match args.format {
        Format::Text => print_text(&mut text, &registry, verbose),
        Format::Json => writeln!(text, "{}", serde_json::to_string_pretty(&to_json(&registry)).unwrap_or_default()),
    };
    written.expect("writing to memory does not fail");
    crate::commands::write_stdout(&text, "the plugin list")
}

fn print_text(out: &mut dyn Write, registry: &PluginRegistry, verbose: bool) -> io::Result<()> {
    if registry.plugins().is_empty() {
        writeln!(out, "No plugins loaded.")?;
    }
    for plugin in registry.plugins() {
        let info = plugin.info();
        writeln!(out, "{} {} (protocol {})", info.name, info.version, info.protocol_version)?;
        if !info.description.is_empty() {
            writeln!(out, "  {}", info.description)?;
        }
        writeln!(out, "  provider:     {} [{}]", info.provider, info.services.join(", "))?;
        writeln!(out, "  capabilities: {}", info.capabilities.join(", "))?;
        writeln!(out, "  config:       {}", schema_summary(&info.config_schema))?;
        writeln!(out, "  from:         {}", plugin.origin())?;
        if let Some(sha256) = plugin.sha256() {
            writeln!(out, "  sha256:       {sha256}")?;
        }
    }
    for replaced in registry.replaced() {
        writeln!(out)?;
        writeln!(
            out,
            "The built-in {} {} is replaced by the library {}: a plugin library takes precedence over a built-in provider of the same name.",
            replaced.info.name,
            replaced.info.version,
            replaced.by.display()
        )?;
    }
    if !registry.failures().is_empty() {
        writeln!(out)?;
        writeln!(out, "Failed to load:")?;
        for failure in registry.failures() {
            writeln!(out, "  {failure}")?;
            if let (true, Some(detail)) = (verbose, &failure.detail) {
                for line in detail.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
        }
    }
    Ok(())
}

/// `field (type, required), ...` from a JSON Schema's top-level properties.
fn schema_summary(schema: &serde_json::Value) -> String {
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()).filter(|p| !p.is_empty()) else {
        return "(no settings)".into();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, spec)| {
            let kind = spec.get("type").map(|t| t.to_string().replace('"', "")).unwrap_or_else(|| "any".into());
            let req = if required.contains(&name.as_str()) { ", required" } else { "" };
            format!("{name} ({kind}{req})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_json(registry: &PluginRegistry) -> serde_json::Value {
    serde_json::json!({
        "plugins": registry.plugins().iter().map(|p| serde_json::json!({
            "info": p.info(),
            "origin": p.origin().to_string(),
            "sha256": p.sha256(),
        })).collect::<Vec<_>>(),
        "replaced": registry.replaced().iter().map(|r| serde_json::json!({
            "name": r.info.name,
            "version": r.info.version,
            "by": r.by.display().to_string(),
        })).collect::<Vec<_>>(),
        "failures": registry.failures().iter().map(|f| serde_json::json!({
            "origin": f.origin.to_string(),
            "reason": f.reason,
        })).collect::<Vec<_>>(),
    })
}
