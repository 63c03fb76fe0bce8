//! `alibaba-emulator`: serve a world on loopback, or generate one.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use alibaba_emulator::generate::{generate, GenerateOptions};
use alibaba_emulator::{Emulator, EmulatorConfig, World};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "alibaba-emulator",
    about = "Strict loopback emulator of the Alibaba Cloud CDN/SLB/CAS APIs",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// World file to serve.
    #[arg(long)]
    world: Option<PathBuf>,
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Turn QPS limits off.
    #[arg(long)]
    no_qps: bool,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Stop by itself after this many seconds (default one hour; 0 = run until killed).
    #[arg(long, default_value_t = 3600)]
    exit_after: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a world with real certificates.
    Generate {
        #[arg(long)]
        domains: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// SLB regions, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "cn-hangzhou,cn-shanghai,cn-beijing")]
        regions: Vec<String>,
        #[arg(long, default_value_t = 2)]
        accounts: usize,
        /// Plant drift cases (listed in the world's manifest).
        #[arg(long)]
        drift: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Generate { domains, out, seed, regions, accounts, drift }) = cli.command {
        let g = generate(&GenerateOptions {
            domains,
            out_dir: out,
            seed,
            regions,
            accounts,
            drift,
            ..GenerateOptions::default()
        })?;
        // Write errors (a closed pipe) are not worth a panic: the world is on disk.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "wrote {} ({} certificates, {} accounts, {} drift cases) in {:.2?}",
            g.world_path.display(),
            g.certificates,
            g.world.accounts.len(),
            g.world.manifest.len(),
            g.elapsed
        );
        for a in &g.world.accounts {
            for k in a.access_keys.iter().filter(|k| k.enabled) {
                let _ = writeln!(out, "account {} key {} secret {}", a.id, k.id, k.secret);
            }
        }
        return Ok(());
    }
    let Some(path) = cli.world else {
        bail!("--world FILE is required (or use the generate subcommand)");
    };
    if !cli.listen.ip().is_loopback() {
        bail!("refusing to listen on {}: loopback addresses only", cli.listen);
    }
    let world = World::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let handle = Emulator::start(
        world,
        EmulatorConfig {
            listen: cli.listen,
            qps_enabled: !cli.no_qps,
            fault_seed: cli.fault_seed,
            ..EmulatorConfig::default()
        },
    )?;
    println!("listening on {}", handle.url());
    let _ = std::io::stdout().flush();
    if cli.exit_after > 0 {
        std::thread::sleep(std::time::Duration::from_secs(cli.exit_after));
        handle.shutdown();
        return Ok(());
    }
    loop {
        std::thread::park();
    }
}
