//! The offline demo: the whole product against two emulated clouds.
//!
//! 1. Builds `inspect` and the provider plugins (as dynamic libraries).
//! 2. Generates an Alibaba Cloud world with planted drift: a stale
//!    certificate, a foreign one, an expired one, a name mismatch, a revoked
//!    one, and an auto-managed certificate that was renewed but not deployed.
//! 3. Starts the Alibaba API emulator and loopback TLS endpoints serving the
//!    world's certificates (the testbed).
//! 4. Starts the AWS world (`certinspect_testbed::aws`): the real
//!    `moto_server` (pinned, installed into a venv under
//!    `target/tmp/certinspect-aws` on first use), seeded with a re-imported
//!    ACM certificate an ALB still serves the old version of (STALE) and an
//!    NLB listener pointing at another certificate (FOREIGN), and its own
//!    loopback TLS endpoints. If Python or moto cannot be installed, the
//!    demo says so and goes on with the Alibaba part alone.
//! 5. Writes one configuration a user could copy (`target/demo/inspect.toml`)
//!    with both clouds' sources, credentials in the aliyun CLI's and AWS's
//!    own file formats, and routes for every declared endpoint.
//! 6. Runs `inspect scan` with it and prints one report; everything stops
//!    when the demo exits.
//!
//! Extra arguments go to `inspect scan` (`cargo xtask demo -- --format json`).

use std::process::Command;

use certinspect_testbed::aws::AwsWorld;
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
        alb: true,
        domains: 12,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift: true,
        crl: true,
        seed: 7,
        dir: dir.join("world"),
    })?;
    eprintln!("demo: starting moto with a seeded AWS account (the first run installs it, about a minute)...");
    let aws = match AwsWorld::start(&dir.join("aws"), &crate::target_dir().join("tmp").join("certinspect-aws")) {
        Ok(aws) => Some(aws),
        Err(e) if e.is_unavailable() => {
            eprintln!("demo: no AWS part ({e}); running the Alibaba part alone.");
            None
        }
        Err(e) => return Err(e.to_string()),
    };
    let (config, home) = testbed.write_inspect_config_with(&dir, aws.as_ref())?;
    eprintln!(
        "demo: Alibaba emulator at {}, {} TLS endpoints; configuration in {}",
        testbed.api_url(),
        testbed.routes().len(),
        config.display()
    );
    if let Some(aws) = &aws {
        eprintln!("demo: moto (AWS) at {}, {} TLS endpoints", aws.api_url(), aws.routes().len());
    }

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
        // The AWS source names its credentials file and profile; no real
        // AWS settings of the person running the demo may leak in either.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        // Never let a credential chain fall through to a metadata service
        // (Alibaba's 100.100.100.200, AWS's IMDS): the demo stays on loopback.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .status()
        .map_err(|e| format!("cannot run {}: {e}", inspect.display()))?;
    drop(aws);
    drop(testbed);
    // 0 clean, 1 findings (the planted drift), 3 something unchecked: all
    // are a demo that ran; anything else is a failure.
    match status.code() {
        Some(0 | 1 | 3) => Ok(()),
        other => Err(format!("inspect scan exited with {other:?}")),
    }
}
