//! `inspect plugin-host LIBRARY` (hidden): the child process that runs one
//! plugin library for a source with `isolation = "process"`, and the
//! [`ProcessHost`] that starts it.

use std::path::PathBuf;

use certinspect_core::plugins::ProcessHost;

use crate::config::{IsolationSetting, PluginSettings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address-space cap, bytes.
    #[arg(long, value_name = "BYTES")]
    memory_limit: Option<u64>,
    /// The plugin library.
    library: PathBuf,
}

pub fn run(args: &Args) -> u8 {
    let code = certinspect_core::plugins::isolated::serve(&args.library, args.memory_limit);
    u8::try_from(code).unwrap_or(crate::exit::OPERATIONAL)
}

/// This binary as the plugin host, with a memory cap of `memory_limit_mib`.
pub fn process_host(memory_limit_mib: u64) -> Option<ProcessHost> {
    let exe = std::env::current_exe().ok()?;
    let mut host = ProcessHost::new(exe, ["plugin-host"]);
    host.memory_limit_bytes = Some(memory_limit_mib << 20);
    Some(host)
}

/// The plugin host that asks libraries for their info when they run in
/// child processes by default (`[plugins] isolation = "process"`): then
/// nothing of a library runs in `inspect` unless its source asks for
/// `in-process`.
pub fn info_host(plugins: &PluginSettings) -> Option<ProcessHost> {
    match plugins.isolation {
        IsolationSetting::Process => process_host(plugins.memory_limit_mib),
        IsolationSetting::InProcess => None,
    }
}
