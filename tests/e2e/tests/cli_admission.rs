//! Who may put code into the scan, as a new user meets it: a plugin library
//! that other users can write (or that lies in a directory they can write)
//! is refused with the path and the fix; `inspect plugins` shows each
//! library's SHA-256; `[plugins] allow` pins exactly which libraries load.
//! And a crashing plugin library under the default process isolation is one
//! source error of `inspect inventory`, whose other sources are all listed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use certinspect_e2e::{fixture_plugin, inspect_binary, library_file_name};

/// A fresh directory (mode 755) holding a copy of the crashing fixture plugin (mode 644).
fn plugin_dir(name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("admission-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lib = dir.join(library_file_name("crashing_provider"));
    std::fs::copy(fixture_plugin("crashing-provider"), &lib).unwrap();
    set_mode(&dir, 0o755);
    set_mode(&lib, 0o644);
    (dir, lib)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn inspect(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(inspect_binary()).args(args).env_remove("CERTINSPECT_PLUGIN_PATH").output().unwrap()
}

fn plugins_json(dir: &Path, config: Option<&Path>) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["plugins".as_ref(), "--format".as_ref(), "json".as_ref()];
    args.extend(["--plugin-dir".as_ref(), dir.as_os_str()]);
    if let Some(config) = config {
        args.extend(["--config".as_ref(), config.as_os_str()]);
    }
    let output = inspect(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The crashing plugin's entry in `inspect plugins --format json`, or its refusal.
fn crashing(json: &serde_json::Value) -> Result<serde_json::Value, String> {
    let loaded = json["plugins"].as_array().unwrap().iter().find(|p| p["info"]["name"] == "crashing");
    match loaded {
        Some(plugin) => Ok(plugin.clone()),
        None => Err(json["failures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["origin"].as_str().unwrap().contains("crashing_provider"))
            .map(|f| f["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("neither loaded nor refused: {json:#}"))),
    }
}

#[test]
fn a_world_writable_library_or_directory_is_refused_with_the_fix() {
    let (dir, lib) = plugin_dir("modes");
    let sha = crashing(&plugins_json(&dir, None)).expect("mode 644 in a 755 directory loads")["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sha.len(), 64);

    // (file mode, directory mode, the path named in the refusal)
    for (file_mode, dir_mode, at_fault) in [(0o666, 0o755, &lib), (0o644, 0o777, &dir), (0o664, 0o755, &lib)] {
        set_mode(&lib, file_mode);
        set_mode(&dir, dir_mode);
        let reason = crashing(&plugins_json(&dir, None)).expect_err("refused");
        let at_fault = at_fault.display();
        assert!(reason.contains(&format!("{at_fault} is writable by other users")), "{reason}");
        assert!(reason.contains(&format!("chmod go-w {at_fault}")), "{reason}");
    }

    // The explicit opt-out.
    let config = dir.join("inspect.toml");
    std::fs::write(&config, "[plugins]\ncheck_permissions = false\n").unwrap();
    set_mode(&config, 0o644);
    assert!(crashing(&plugins_json(&dir, Some(&config))).is_ok(), "check_permissions = false loads it");
}

#[test]
fn an_allow_list_loads_only_the_pinned_libraries() {
    let (dir, _lib) = plugin_dir("pins");
    let sha = crashing(&plugins_json(&dir, None)).unwrap()["sha256"].as_str().unwrap().to_owned();
    let config = dir.join("inspect.toml");

    std::fs::write(&config, format!("[plugins]\nallow = [\"sha256:{sha}\"]\n")).unwrap();
    assert!(crashing(&plugins_json(&dir, Some(&config))).is_ok(), "its own pin loads it");

    let other = "0".repeat(64);
    std::fs::write(&config, format!("[plugins]\nallow = [\"sha256:{other}\"]\n")).unwrap();
    let reason = crashing(&plugins_json(&dir, Some(&config))).expect_err("not pinned");
    assert!(reason.contains("not on the allow-list") && reason.contains(&format!("\"sha256:{sha}\"")), "{reason}");

    std::fs::write(&config, "[plugins]\nallow = [\"md5:abc\"]\n").unwrap();
    let output = inspect(&["plugins".as_ref(), "--config".as_ref(), config.as_os_str()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("inspect.toml:2:") && stderr.contains("expected \"sha256:\" and 64 hex digits"),
        "{stderr}"
    );
}

#[test]
fn a_crashing_library_is_one_source_error_of_the_cli_and_the_other_sources_are_listed() {
    let (dir, _lib) = plugin_dir("cli-scan");
    let config = dir.join("inspect.toml");
    let text = "[verify]\nplugin_call_timeout_secs = 5\n\
                [[source]]\nplugin = \"crashing\"\n[source.config]\nmode = \"segfault\"\n\
                [[source]]\nplugin = \"crashing\"\n[source.config]\nmode = \"ok\"\n";
    std::fs::write(&config, text).unwrap();
    let output = inspect(&[
        "inventory".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--plugin-dir".as_ref(),
        dir.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    let errors = json["source_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{json:#}");
    assert_eq!(errors[0]["plugin"], "crashing");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("killed by signal 11 (SIGSEGV) during list_page"), "{message}");
    let listed: Vec<_> =
        json["bindings"].as_array().unwrap().iter().map(|b| b["location"]["resource_id"].clone()).collect();
    assert_eq!(listed, ["ok-1"]);
    let stats = json["source_stats"].as_array().unwrap();
    assert!(stats.iter().all(|s| s["library_sha256"].as_str().is_some_and(|h| h.len() == 64)), "{stats:?}");
}

#[test]
fn process_isolation_of_a_built_in_provider_is_a_configuration_error_at_its_line() {
    let (dir, _lib) = plugin_dir("built-in");
    let config = dir.join("inspect.toml");
    // (isolation value, the error at its line and column)
    let cases = [
        ("process", "inspect.toml:3:13: source 'alibaba-cdn': isolation = \"process\" needs a plugin library"),
        ("sandbox", "inspect.toml:3:13: unknown variant `sandbox`, expected `process` or `in-process`"),
    ];
    for (isolation, expected) in cases {
        std::fs::write(&config, format!("[[source]]\nplugin = \"alibaba-cdn\"\nisolation = \"{isolation}\"\n"))
            .unwrap();
        let output = inspect(&["inventory".as_ref(), "--config".as_ref(), config.as_os_str()]);
        assert_eq!(output.status.code(), Some(2), "{isolation}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{isolation}: {stderr}");
    }
}
