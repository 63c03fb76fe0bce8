//! `inspect plugins` as a user runs it.

use std::process::Command;

use certinspect_e2e::{fixture_plugin_dir, inspect_binary};

#[test]
fn lists_plugins_and_failures_with_reasons() {
    let output = Command::new(inspect_binary())
        .arg("plugins")
        .arg("--plugin-dir")
        .arg(fixture_plugin_dir())
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("example-inventory 0.3.1 (protocol 1)"), "{stdout}");
    assert!(stdout.contains("config:       inventory_url (string, required)"), "{stdout}");
    assert!(stdout.contains("from:         ") && stdout.contains("libexample_provider"), "{stdout}");
    assert!(stdout.contains("Failed to load:"), "{stdout}");
    assert!(stdout.contains("libabi_v2_plugin") && stdout.contains("built against certinspect-abi 2.0.0"), "{stdout}");
    // The panicking plugin's panic message goes to the host's log, not raw to stderr.
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
}

#[test]
fn json_output_parses_and_plugin_path_env_is_searched() {
    let output = Command::new(inspect_binary())
        .args(["plugins", "--format", "json"])
        .env("CERTINSPECT_PLUGIN_PATH", fixture_plugin_dir())
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<_> =
        json["plugins"].as_array().unwrap().iter().map(|p| p["info"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"example-inventory"), "{names:?}");
    assert!(json["failures"].as_array().unwrap().len() >= 4);
}

#[test]
fn a_wrong_flag_is_a_usage_error() {
    let output = Command::new(inspect_binary()).args(["plugins", "--no-such-flag"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
