//! What changed between two reports, for people (one line per finding
//! that is new, resolved or changed, then the counts) and as JSON.

use std::io::{self, Write};

use certinspect_core::diff::ReportDiff;

/// The diff as lines: `new`, `resolved`, `changed` (old -> new severity),
/// each with the code and the finding's place and message, never cut;
/// then one line of counts.
pub fn render_text(diff: &ReportDiff, out: &mut dyn Write) -> io::Result<()> {
    for entry in &diff.new {
        let f = &entry.finding;
        writeln!(out, "new       {:<8}  {}  {}", f.severity.as_str(), f.code.as_str(), f.text())?;
    }
    for entry in &diff.changed {
        let (old, new) = (&entry.old, &entry.new);
        let severity = format!("{} -> {}", old.severity.as_str(), new.severity.as_str());
        writeln!(out, "changed   {severity}  {}  {}", new.code.as_str(), new.text())?;
    }
    for entry in &diff.resolved {
        let f = &entry.finding;
        writeln!(out, "resolved  {:<8}  {}  {}", f.severity.as_str(), f.code.as_str(), f.text())?;
    }
    writeln!(out, "{}", counts(diff))
}

/// `2 new, 1 resolved, 0 changed, 14 unchanged`.
pub fn counts(diff: &ReportDiff) -> String {
    format!(
        "{} new, {} resolved, {} changed, {} unchanged",
        diff.new.len(),
        diff.resolved.len(),
        diff.changed.len(),
        diff.unchanged
    )
}

/// The diff as pretty-printed JSON (`new`, `resolved`, `changed`,
/// `unchanged`; each entry with its `fingerprint`), then a newline.
pub fn render_json(diff: &ReportDiff, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, diff)?;
    writeln!(out)
}
