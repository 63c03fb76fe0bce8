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

/// Under process isolation (the default) `inspect plugins` asks each
/// library for its info in a child process: a library that aborts in
/// `info()` is listed as a failure that says so, and `inspect` lives on.
#[test]
fn a_library_that_aborts_in_info_is_a_listed_failure_not_a_crash() {
    let output = Command::new(inspect_binary())
        .arg("plugins")
        .arg("--plugin-dir")
        .arg(fixture_plugin_dir())
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        // The crashing fixture's switch, inherited by the plugin processes.
        .env("CERTINSPECT_CRASHING_INFO", "abort")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("example-inventory 0.3.1 (protocol 1)"), "{stdout}");
    let failure = stdout.lines().find(|l| l.contains("libcrashing_provider")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(failure.ends_with(": the plugin process was killed by signal 6 (SIGABRT) during info"), "{failure}");
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

/// The providers `inspect` is built with (feature `bundled-providers`).
const BUILT_IN: [&str; 5] = ["alibaba-cdn", "alibaba-slb", "alibaba-cas", "alibaba-alb", "aws"];

/// What `inspect plugins --format json` says, run with `args` from a copy of
/// the binary at `PREFIX/bin/inspect` (an installed layout) in an empty
/// environment: no plugin path, no home with plugins.
fn installed_plugins_json(prefix: &std::path::Path, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let bin = prefix.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let inspect = bin.join("inspect");
    std::fs::copy(inspect_binary(), &inspect).unwrap();
    let output = Command::new(&inspect)
        .args(["plugins", "--format", "json"])
        .args(args)
        .env_clear()
        .env("HOME", prefix)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn origins(json: &serde_json::Value) -> Vec<(String, String)> {
    json["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["info"]["name"].as_str().unwrap().to_owned(), p["origin"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn the_alibaba_providers_are_built_in_and_a_library_of_the_same_name_replaces_one() {
    let prefix = certinspect_e2e::target_dir().join("e2e-installed").join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&prefix);

    let json = installed_plugins_json(&prefix, &[]);
    let expected: Vec<(String, String)> =
        BUILT_IN.iter().map(|name| ((*name).to_owned(), "(built in)".to_owned())).collect();
    assert_eq!(origins(&json), expected);
    assert!(json["failures"].as_array().unwrap().is_empty(), "{json}");

    // The installed layout's plugin directory is searched: a library there
    // with a built-in provider's name replaces it, and the listing says so.
    let plugins = prefix.join("lib/certinspect/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let cdn = certinspect_test_support::plugin("alibaba-cdn").file_name();
    std::fs::copy(certinspect_e2e::alibaba_plugin_dir().join(&cdn), plugins.join(&cdn)).unwrap();
    let json = installed_plugins_json(&prefix, &[]);
    let used: Vec<(String, String)> = origins(&json);
    assert!(used.iter().any(|(name, origin)| name == "alibaba-cdn" && origin.ends_with(&cdn)), "{used:?}");
    assert_eq!(used.iter().filter(|(_, origin)| origin == "(built in)").count(), BUILT_IN.len() - 1, "{used:?}");
    let replaced = &json["replaced"][0];
    assert_eq!(replaced["name"], "alibaba-cdn");
    assert!(replaced["by"].as_str().unwrap().ends_with(&cdn), "{replaced}");
    std::fs::remove_dir_all(&prefix).unwrap();
}
