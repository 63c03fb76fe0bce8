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

use std::path::{Path, PathBuf};
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
    let home = dir.join("home");
    write_credentials(&testbed, &home)?;
    let config = dir.join("inspect.toml");
    std::fs::write(&config, config_text(&testbed)).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
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

/// `~/.aliyun/config.json` with one AK profile per account, as `aliyun configure` writes it.
fn write_credentials(testbed: &Testbed, home: &Path) -> Result<(), String> {
    let profiles: Vec<serde_json::Value> = testbed
        .generated
        .world
        .accounts
        .iter()
        .filter_map(|account| {
            let key = account.access_keys.iter().find(|k| k.enabled && k.security_token.is_none())?;
            Some(serde_json::json!({
                "name": account.name,
                "mode": "AK",
                "access_key_id": key.id,
                "access_key_secret": key.secret,
                "region_id": "cn-hangzhou",
            }))
        })
        .collect();
    let current = profiles.first().and_then(|p| p["name"].as_str()).unwrap_or("default").to_owned();
    let file = serde_json::json!({ "current": current, "profiles": profiles });
    let dir = home.join(".aliyun");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap_or_default())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The configuration file: one source per plugin and account, the
/// emulator as the API endpoint, the world's CA as the only trust anchor,
/// and routes from every declared endpoint to the loopback TLS farm.
fn config_text(testbed: &Testbed) -> String {
    let world = &testbed.generated.world;
    let regions: Vec<String> = world.regions.iter().map(|r| format!("{:?}", r.region_id)).collect();
    let mut text = String::from(
        "# certinspect configuration generated by `cargo xtask demo`.\n\
         # Against the real Alibaba Cloud, drop the `endpoint` lines and the [verify]\n\
         # routes, and name your own aliyun CLI profiles.\n\n",
    );
    for account in &world.accounts {
        for plugin in ["alibaba-cdn", "alibaba-slb", "alibaba-cas"] {
            text.push_str(&format!(
                "[[source]]\nplugin = \"{plugin}\"\n[source.config]\nendpoint = \"{}\"\ncredentials = {{ profile = \"{}\" }}\n",
                testbed.api_url(),
                account.name
            ));
            if plugin == "alibaba-slb" {
                text.push_str(&format!("regions = [{}]\n", regions.join(", ")));
            }
            text.push('\n');
        }
    }
    let ca = world.ca_pem.clone().unwrap_or_else(|| PathBuf::from("ca.pem"));
    text.push_str(&format!("[verify]\ntrust = \"none\"\nca_file = {:?}\nconnect_to = [\n", ca.display().to_string()));
    for route in testbed.connect_to() {
        text.push_str(&format!("    {route:?},\n"));
    }
    text.push_str("]\n");
    text
}
