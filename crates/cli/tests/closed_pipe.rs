//! `inspect ... | head`: a reader that goes away before `inspect` writes is
//! not a failure. Every command that writes to standard output exits as it
//! would have, quietly, when its standard output is a pipe nobody reads.
//!
//! The read end is closed before the child starts, so the child's first
//! write fails with a broken pipe whatever the output's size: the test
//! cannot pass by the output fitting into the pipe's buffer.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

/// A pipe whose read end is already closed: its write end.
fn pipe_without_reader() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: `pipe` writes two new descriptors into the array we own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe2 failed");
    // SAFETY: both descriptors are fresh and owned by nothing else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    writer
}

/// `inspect ARGS` with a closed pipe for standard output: (exit code, stderr).
fn run_into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_inspect"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(pipe_without_reader())
        .stderr(Stdio::piped())
        .output()
        .expect("inspect runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn every_command_that_writes_to_stdout_exits_quietly_when_the_reader_is_gone() {
    let config = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("closed-pipe.toml");
    std::fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap();
    let cases: &[(&[&str], i32)] = &[
        (&["plugins"], 0),
        (&["plugins", "--format", "json"], 0),
        (&["config", "check", "--config", config], 0),
        (&["completions", "bash"], 0),
        (&["man"], 0),
    ];
    for (args, expected) in cases {
        let (code, stderr) = run_into_closed_pipe(args);
        assert_eq!(code, Some(*expected), "inspect {}: stderr:\n{stderr}", args.join(" "));
        assert!(stderr.is_empty(), "inspect {} wrote to stderr:\n{stderr}", args.join(" "));
    }
}
