//! `inspect plugin-host LIBRARY` (hidden): the child process that runs one
//! plugin library for a source with `isolation = "process"`, and the
//! [`ProcessHost`] that starts it.

use std::path::PathBuf;

use certinspect_core::plugins::ProcessHost;

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
