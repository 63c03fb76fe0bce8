//! Running a program a test needs (npm, tar, a venv's python), or failing
//! the test with everything the program said.

use std::process::{Command, Output};

/// Runs `command` to completion and returns its output, whatever its exit
/// status; panics, naming the command, if it cannot be started.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs `command` and returns its output; panics with its exit status,
/// stdout and stderr unless it succeeded.
pub fn run_ok(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_fails_the_test_with_what_it_said() {
        let fails = || {
            let mut command = Command::new("sh");
            command.args(["-c", "echo said-on-stdout; echo said-on-stderr >&2; exit 3"]);
            command
        };
        assert_eq!(run(&mut fails()).status.code(), Some(3));
        let panic = std::panic::catch_unwind(|| run_ok(&mut fails())).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("said-on-stdout") && message.contains("said-on-stderr"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert_eq!(run_ok(Command::new("sh").args(["-c", "printf ok"])).stdout, b"ok");
    }
}
