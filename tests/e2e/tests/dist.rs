//! `cargo xtask dist` as a release engineer runs it, and the archive as a
//! user installs it: unpacked in a temporary directory, `inspect --version`,
//! `inspect plugins` (the Alibaba providers built in, nothing else set up)
//! and a scan of the demo's emulated world with the demo's configuration.
//! The container recipe copies only paths the archive has.

use std::path::{Path, PathBuf};
use std::process::Command;

use certinspect_e2e::{inspect_binary, target_dir, workspace_root};
use certinspect_testbed::{Testbed, TestbedOptions};

/// Run `cargo xtask dist` with the debug build the other tests use.
fn dist(out: &Path) -> PathBuf {
    // Built first with the tests' own package set, so the dist build finds it fresh.
    inspect_binary();
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["run", "--quiet", "-p", "xtask", "--", "dist", "--profile", "dev", "--out"])
        .arg(out)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

#[test]
fn the_release_archive_installs_and_scans() {
    let dir = target_dir().join("e2e-dist").join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let archive = dist(&dir.join("out"));
    let name = archive.file_name().unwrap().to_str().unwrap().strip_suffix(".tar.gz").unwrap().to_owned();
    assert!(name.starts_with("certinspect-0.") && name.contains("-linux"), "{name}");

    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&unpacked).status().unwrap();
    assert!(status.success());
    let prefix = unpacked.join(&name);
    for path in [
        "bin/inspect",
        "lib/certinspect/plugins",
        "share/man/man1/inspect.1",
        "share/bash-completion/completions/inspect",
        "share/zsh/site-functions/_inspect",
        "share/fish/vendor_completions.d/inspect.fish",
        "share/doc/certinspect/README.md",
        "share/doc/certinspect/LICENSE-MIT",
        "share/doc/certinspect/LICENSE-APACHE",
        "share/doc/certinspect/docs/REPORT.md",
    ] {
        assert!(prefix.join(path).exists(), "the archive has no {path}");
    }
    let inspect = prefix.join("bin/inspect");
    let home = dir.join("home");
    let run = |args: &[&str]| {
        Command::new(&inspect)
            .args(args)
            .env_clear()
            .env("HOME", &home)
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    };

    let version = run(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("inspect {}", env!("CARGO_PKG_VERSION")));

    let plugins = run(&["plugins"]);
    let listing = String::from_utf8_lossy(&plugins.stdout);
    for name in ["alibaba-cdn", "alibaba-slb", "alibaba-cas", "alibaba-alb", "aws"] {
        assert!(listing.contains(&format!("{name} ")), "{listing}");
    }
    assert!(listing.contains("from:         (built in)"), "{listing}");

    // The demo's world and configuration, scanned with nothing but the archive.
    let testbed = Testbed::start(&TestbedOptions {
        alb: false,
        domains: 4,
        accounts: 1,
        regions: vec!["cn-hangzhou".into()],
        drift: true,
        crl: false,
        seed: 3,
        dir: dir.join("world"),
    })
    .unwrap();
    let (config, world_home) = testbed.write_inspect_config(&dir.join("demo")).unwrap();
    std::fs::rename(world_home, &home).unwrap();
    let scan = run(&["scan", "--format", "json", "--config", config.to_str().unwrap()]);
    assert_eq!(scan.status.code(), Some(1), "{}", String::from_utf8_lossy(&scan.stderr));
    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert!(report["summary"]["results"].as_u64().unwrap() > 0, "{}", report["summary"]);
    assert_eq!(report["summary"]["source_errors"], 0, "{}", report["source_errors"]);

    // What the container recipe copies out of the archive exists there.
    let dockerfile = std::fs::read_to_string(workspace_root().join("docs/deploy/Dockerfile")).unwrap();
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY ${DIST}/"))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .collect();
    assert!(copied.len() >= 3, "{copied:?}");
    for path in copied {
        assert!(prefix.join(path).exists(), "docs/deploy/Dockerfile copies {path}, which the archive lacks");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
