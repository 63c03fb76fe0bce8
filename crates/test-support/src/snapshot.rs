//! Snapshot tests: compare a rendered text with the committed file, or
//! rewrite the file when `CERTINSPECT_UPDATE_SNAPSHOTS` is set. A mismatch
//! shows a line diff and the command that accepts it; review that diff
//! before committing it, since a snapshot change is a behaviour change.

use std::path::Path;

/// The variable that turns comparison into rewriting.
pub const UPDATE_VARIABLE: &str = "CERTINSPECT_UPDATE_SNAPSHOTS";

/// Unchanged lines shown around each change.
const CONTEXT: usize = 2;

/// Compares `actual` with the snapshot at `path` (or writes it, creating
/// its directory, under [`UPDATE_VARIABLE`]). The error is the whole
/// message for the person reading the test output.
pub fn check_snapshot(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os(UPDATE_VARIABLE).is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        return std::fs::write(path, actual).map_err(|e| format!("cannot write {}: {e}", path.display()));
    }
    let expected = match std::fs::read_to_string(path) {
        Ok(expected) => expected,
        Err(e) => {
            return Err(format!(
                "cannot read the snapshot {} ({e}); to create it: {}",
                path.display(),
                update_command()
            ))
        }
    };
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "{} differs (- snapshot, + actual):\n{}\nif the change is deliberate: {}",
        path.display(),
        line_diff(&expected, actual),
        update_command()
    ))
}

/// [`check_snapshot`], panicking with its message.
#[track_caller]
pub fn assert_snapshot(path: &Path, actual: &str) {
    if let Err(message) = check_snapshot(path, actual) {
        panic!("{message}");
    }
}

/// The command that rewrites this test binary's snapshots.
fn update_command() -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".into());
    // Integration test binaries are named `<test>-<hash>`.
    let test = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem()?.to_str()?.rsplit_once('-').map(|(name, _)| name.to_owned()))
        .unwrap_or_else(|| "<test>".into());
    format!("{UPDATE_VARIABLE}=1 cargo test -p {package} --test {test}")
}

/// A line diff of `old` and `new` (longest common subsequence), changed
/// lines with [`CONTEXT`] unchanged lines around them.
fn line_diff(old: &str, new: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // common[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] =
                if old[i] == new[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            lines.push((' ', old[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(('-', old[i]));
            i += 1;
        } else {
            lines.push(('+', new[j]));
            j += 1;
        }
    }
    if lines.iter().all(|(kind, _)| *kind == ' ') {
        return "  (the lines are equal; the texts differ in line endings or a final newline)".into();
    }
    let near_change = |index: usize| {
        lines[index.saturating_sub(CONTEXT)..(index + CONTEXT + 1).min(lines.len())]
            .iter()
            .any(|(kind, _)| *kind != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (index, (kind, line)) in lines.iter().enumerate() {
        if near_change(index) {
            if skipped {
                out.push_str("  …\n");
                skipped = false;
            }
            out.push_str(&format!("{kind} {line}\n"));
        } else {
            skipped = true;
        }
    }
    if skipped {
        out.push_str("  …\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn the_diff_shows_changed_lines_with_context_and_elides_the_rest() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\n";
        assert_eq!(line_diff(old, new), "  …\n  c\n  d\n- e\n+ E\n  f\n  g\n  h\n+ i\n");
    }

    #[test]
    fn a_difference_only_in_line_endings_is_named() {
        assert!(line_diff("a\n", "a").contains("line endings"));
    }
}
