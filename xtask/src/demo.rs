//! The offline demo: the whole product against an emulated cloud.
//!
//! 1. Builds `inspect` and the Alibaba provider plugins (as dynamic libraries).
//! 2. Generates a world with planted drift: a stale certificate, a foreign
//!    one, an expired one, a name mismatch, a revoked one, and an
//!    auto-managed certificate that was renewed but not deployed.
//! 3. Starts the Alibaba API emulator and loopback TLS endpoints serving the
//!    world's certificates (the testbed).
//! 4. Writes a configuration a user could copy (`target/demo/inspect.toml`)
//!    and credentials in the aliyun CLI's own file format.
//! 5. Runs `inspect scan` with it and prints the report; everything stops
//!    when the demo exits.
//!
//! Extra arguments go to `inspect scan` (`cargo xtask demo -- --format json`).

use std::process::Command;

use certinspect_testbed::{Testbed, TestbedOptions};

/// Build, start, scan, clean up.
pub fn run(inspect_args: &[String]) -> Result<(), String> {
    let inspect_args: Vec<String> = inspect_args.iter().filter(|a| *a != "--").cloned().collect();
    eprintln!("demo: building inspect and the provider plugins...");
    crate::cargo(&["build", "--quiet", "-p", "certinspect-cli"])?;
    let plugin_dir = crate::plugins(false)?;

    let dir = crate::target_dir().join("demo");
    // A fresh world each run: stale files would confuse the reader.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!("demo: generating a world with planted drift and starting the emulated cloud...");
    let testbed = Testbed::start(&TestbedOptions {
        domains: 12,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift: true,
        seed: 7,
        dir: dir.join("world"),
    })?;
    let (config, home) = testbed.write_inspect_config(&dir)?;
    eprintln!(
        "demo: emulator at {}, {} TLS endpoints, configuration in {}",
        testbed.api_url(),
        testbed.routes().len(),
        config.display()
    );

    let inspect = crate::target_dir().join("debug").join(format!("inspect{}", std::env::consts::EXE_SUFFIX));
    let status = Command::new(&inspect)
        .arg("scan")
        .arg("--config")
        .arg(&config)
        .arg("--plugin-dir")
        .arg(&plugin_dir)
        .args(&inspect_args)
        // Credentials come from the aliyun CLI file under this HOME, as they
        // would for a user; nothing from the real environment leaks in.
        .env("HOME", &home)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("ALIBABA_CLOUD_PROFILE")
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        // Never let the credential chain fall through to the ECS metadata
        // service (100.100.100.200): the demo stays on loopback.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .status()
        .map_err(|e| format!("cannot run {}: {e}", inspect.display()))?;
    drop(testbed);
    // 0 clean, 1 findings (the planted drift), 3 something unchecked: all
    // are a demo that ran; anything else is a failure.
    match status.code() {
        Some(0 | 1 | 3) => Ok(()),
        other => Err(format!("inspect scan exited with {other:?}")),
    }
}
