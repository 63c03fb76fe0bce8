//! `--help` of every command, compared with committed snapshots so that a
//! change to the command line is a visible, reviewed change.
//!
//! After a deliberate change: `CERTINSPECT_UPDATE_SNAPSHOTS=1 cargo test -p certinspect-cli --test help`.

use std::path::PathBuf;
use std::process::Command;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["scan"],
    &["serve"],
    &["probe"],
    &["inventory"],
    &["plugins"],
    &["config"],
    &["config", "check"],
    &["completions"],
    &["man"],
];

fn help(command: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_inspect"))
        .args(command)
        .arg("--help")
        // Help wraps to the terminal; fix the width for stable snapshots.
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(output.status.success(), "{command:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_of_every_command_matches_its_snapshot() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let stale: Vec<String> = COMMANDS
        .iter()
        .filter_map(|command| {
            let name = if command.is_empty() { "inspect".to_owned() } else { format!("inspect-{}", command.join("-")) };
            certinspect_test_support::check_snapshot(&dir.join(format!("{name}.help.txt")), &help(command)).err()
        })
        .collect();
    assert!(stale.is_empty(), "help changed:\n{}", stale.join("\n"));
}

#[test]
fn every_command_has_examples() {
    for command in COMMANDS.iter().filter(|c| !c.is_empty() && **c != ["config"]) {
        assert!(help(command).contains("Example"), "{command:?} --help has no example");
    }
}

#[test]
fn completions_and_man_page_are_generated_from_the_same_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(env!("CARGO_BIN_EXE_inspect")).args(["completions", shell]).output().unwrap();
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("connect-to"), "{shell} completions lack a flag");
    }
    let man = Command::new(env!("CARGO_BIN_EXE_inspect")).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&man.stdout).starts_with(".ie"), "not roff");
}
