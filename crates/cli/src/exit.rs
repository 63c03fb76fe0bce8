//! Exit codes: the contract with scripts, CI and monitoring (documented in
//! the README and in `inspect --help`).

/// Nothing at or above `--fail-on`, everything checked.
pub const CLEAN: u8 = 0;
/// Findings at or above `--fail-on`.
pub const FINDINGS: u8 = 1;
/// Usage or configuration error: nothing was checked.
pub const USAGE: u8 = 2;
/// Some sources or endpoints could not be checked (and nothing at or above
/// `--fail-on` was found in what could be).
pub const INCOMPLETE: u8 = 3;
/// The tool itself failed (cannot write output, say).
pub const OPERATIONAL: u8 = 4;

/// The exit code of a run's outcome.
pub fn of_outcome(outcome: certinspect_core::scan::Outcome) -> u8 {
    use certinspect_core::scan::Outcome;
    match outcome {
        Outcome::Findings => FINDINGS,
        Outcome::Incomplete => INCOMPLETE,
        _ => CLEAN,
    }
}

/// A write whose reader went away (`inspect ... | head`) is not a failure:
/// the reader took what it wanted. Such an error is dropped quietly.
pub trait ClosedPipe {
    /// `Ok` when the error is a closed pipe.
    fn filter_closed_pipe(self) -> std::io::Result<()>;
}

impl ClosedPipe for std::io::Result<()> {
    fn filter_closed_pipe(self) -> std::io::Result<()> {
        match self {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}
