//! The human table: a summary, the findings most severe first, and one row
//! per binding and address.

use std::borrow::Cow;
use std::io::{self, Write};

use certinspect_core::findings::Severity;
use certinspect_core::reconcile::Verdict;
use certinspect_core::report::Report;
use certinspect_core::trust_store::TrustStoreInfo;

use crate::view::{endpoint_text, rfc3339, served_common_name, VERDICTS};
use crate::RenderOptions;

/// Space between columns.
const GAP: &str = "  ";

/// A display style; mapped to ANSI SGR codes only when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    BoldRed,
    Yellow,
    Green,
    Cyan,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "\x1b[1m",
            Style::Dim => "\x1b[2m",
            Style::Red => "\x1b[31m",
            Style::BoldRed => "\x1b[1;31m",
            Style::Yellow => "\x1b[33m",
            Style::Green => "\x1b[32m",
            Style::Cyan => "\x1b[36m",
        }
    }

    fn of_severity(severity: Severity) -> Self {
        match severity {
            Severity::Critical => Style::BoldRed,
            Severity::High => Style::Red,
            Severity::Medium => Style::Yellow,
            Severity::Low => Style::Cyan,
            Severity::Info => Style::Dim,
        }
    }

    fn of_verdict(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Match => Style::Green,
            Verdict::Stale | Verdict::Foreign => Style::BoldRed,
            Verdict::Unreachable | Verdict::NoTls => Style::Yellow,
            Verdict::Indeterminate | Verdict::Observed => Style::Dim,
        }
    }
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color && style != Style::Plain && !text.is_empty() {
            format!("{}{text}\x1b[0m", style.sgr())
        } else {
            text.to_owned()
        }
    }
}

struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    fn new(text: impl Into<String>) -> Self {
        Cell { text: printable(&text.into()), style: Style::Plain }
    }

    fn styled(text: impl Into<String>, style: Style) -> Self {
        Cell { text: printable(&text.into()), style }
    }
}

struct Column {
    header: Cow<'static, str>,
    /// Narrowest the column is shrunk to when the table is too wide.
    min: usize,
    /// Which columns give up width first: the highest value, down to its
    /// minimum, before the next.
    shrink: u8,
    /// Right-aligned (numbers).
    right: bool,
}

const fn col(header: &'static str, min: usize, shrink: u8) -> Column {
    Column { header: Cow::Borrowed(header), min, shrink, right: false }
}

/// The column of resource tag `key`, headed `TAG:<key>` (the key as the
/// cloud spells it: tag keys are case-sensitive). Given up early when the
/// table is too wide, as the resource name is.
fn tag_column(key: &str) -> Column {
    Column { header: Cow::Owned(format!("TAG:{}", printable(key))), min: 5, shrink: 2, right: false }
}

/// Cloud data reaches the terminal here: control characters (newlines that
/// would break a row, escape sequences that would drive the terminal) are
/// shown escaped instead.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Display width, counted in chars: the data is host names, DNs and ASCII
/// messages; wide CJK glyphs would be under-counted, a cosmetic error only.
fn width_of(text: &str) -> usize {
    text.chars().count()
}

/// `text` in lines of at most `width` characters (0 = one line): broken
/// after a space, `/`, `,`, `-` or `.` where one falls within the line, inside a
/// word only where none does. Nothing is cut: a reader of a narrow table, a
/// CI log or a file sees the whole message.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while width > 0 && rest.len() > width {
        // The last break opportunity within the line; the break character
        // stays on this line (a space is dropped instead).
        let cut = (1..=width).rev().find(|&i| matches!(rest[i - 1], ' ' | '/' | ',' | '-' | '.')).unwrap_or(width);
        let line: String = rest[..cut].iter().collect();
        lines.push(line.trim_end().to_owned());
        rest.drain(..cut);
        while rest.first() == Some(&' ') {
            rest.remove(0);
        }
    }
    if !rest.is_empty() || lines.is_empty() {
        lines.push(rest.into_iter().collect());
    }
    lines
}

/// Column widths: each column as wide as its widest cell, then columns
/// shrunk one character at a time until the row fits `max_width` (0 =
/// unlimited) or every column is at its minimum: the most expendable
/// columns first ([`Column::shrink`]), the widest of them first.
fn layout(columns: &[Column], rows: &[Vec<Cell>], max_width: usize) -> Vec<usize> {
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| rows.iter().map(|r| width_of(&r[i].text)).chain([width_of(&c.header)]).max().unwrap_or(0))
        .collect();
    if max_width == 0 {
        return widths;
    }
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP.len() * w.len().saturating_sub(1);
    while total(&widths) > max_width {
        let widest = (0..columns.len())
            .filter(|&i| widths[i] > columns[i].min)
            .max_by_key(|&i| (columns[i].shrink, widths[i], i));
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

fn write_table(
    out: &mut dyn Write,
    painter: &Painter,
    columns: &[Column],
    rows: &[Vec<Cell>],
    max_width: usize,
) -> io::Result<()> {
    let widths = layout(columns, rows, max_width);
    let header: Vec<Cell> = columns.iter().map(|c| Cell::styled(c.header.clone(), Style::Bold)).collect();
    for row in std::iter::once(&header).chain(rows) {
        // A cell wider than its column continues on the row's next lines.
        let cells: Vec<Vec<String>> = row.iter().enumerate().map(|(i, cell)| wrap(&cell.text, widths[i])).collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for n in 0..height {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let text = cells[i].get(n).map_or("", String::as_str);
                let pad = " ".repeat(widths[i].saturating_sub(width_of(text)));
                if i > 0 {
                    line.push_str(GAP);
                }
                if columns[i].right {
                    line.push_str(&pad);
                    line.push_str(&painter.paint(cell.style, text));
                } else {
                    line.push_str(&painter.paint(cell.style, text));
                    line.push_str(&pad);
                }
            }
            // Padding after the last non-empty cell is not wanted.
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// Items joined by " · ", wrapped at `max_width` (0 = unlimited). An
/// item is a list of parts joined by ", "; one too long for a line of its
/// own is broken between parts, and a part too long for any line is
/// wrapped.
fn write_wrapped(out: &mut dyn Write, items: &[Vec<String>], max_width: usize) -> io::Result<()> {
    let fits = |line: &str, extra: usize| max_width == 0 || width_of(line) + extra <= max_width;
    let mut lines: Vec<String> = vec![String::new()];
    for item in items {
        let whole = item.join(", ");
        let line = lines.last_mut().expect("never empty");
        if line.is_empty() {
            line.push_str(&whole);
            if fits(line, 0) {
                continue;
            }
            line.clear();
        } else if fits(line, 3 + width_of(&whole)) {
            line.push_str(" · ");
            line.push_str(&whole);
            continue;
        } else {
            lines.push(String::new());
            if fits(&whole, 0) {
                lines.last_mut().expect("pushed").push_str(&whole);
                continue;
            }
        }
        // Too long for a line: break between parts.
        for (i, part) in item.iter().enumerate() {
            let line = lines.last_mut().expect("never empty");
            let separator = if i == 0 { "" } else { ", " };
            if line.is_empty() || fits(line, separator.len() + width_of(part)) {
                line.push_str(separator);
                line.push_str(part);
            } else {
                line.push(',');
                lines.push(format!("  {part}"));
            }
        }
    }
    for line in lines.iter().filter(|l| !l.is_empty()) {
        for piece in wrap(line, max_width) {
            writeln!(out, "{piece}")?;
        }
    }
    Ok(())
}

/// `trust store: BASE[ BUNDLE], FILE (N certificates)..., N roots in all`.
fn trust_store_parts(trust: &TrustStoreInfo) -> Vec<String> {
    let base = trust.base.as_str();
    let bundle = trust.system_bundle.as_deref().map(|b| format!(" {}", printable(b))).unwrap_or_default();
    std::iter::once(format!("trust store: {base}{bundle}"))
        .chain(
            trust
                .ca_files
                .iter()
                .map(|f| format!("{} ({})", printable(&f.path), plural(f.certificates, "certificate", "certificates"))),
        )
        .chain(std::iter::once(format!("{} in all", plural(trust.roots, "root", "roots"))))
        .collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let painter = Painter { color: options.color };
    let s = &report.summary;
    let generated = rfc3339(report.generated_at);

    writeln!(
        out,
        "{}",
        painter.paint(Style::Bold, &format!("certinspect {} · report of {generated}", report.tool_version))
    )?;
    let mut bindings = plural(s.bindings, "binding", "bindings");
    let parts: Vec<String> =
        [(s.probed_bindings, "probed"), (s.not_probeable, "not probeable"), (s.inventory_only, "inventory only")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
    if !parts.is_empty() {
        bindings.push_str(&format!(" ({})", parts.join(", ")));
    }
    // Items are lists of parts the wrapper may break between; the first
    // part carries the item's label.
    let counts = |label: String, parts: Vec<String>| -> Vec<String> {
        match parts.split_first() {
            Some((first, rest)) => std::iter::once(format!("{label}: {first}")).chain(rest.iter().cloned()).collect(),
            None => vec![label],
        }
    };
    let verdicts = VERDICTS
        .iter()
        .filter_map(|v| s.verdicts.get(v.as_str()).filter(|n| **n > 0).map(|n| format!("{n} {}", v.as_str())))
        .collect();
    let results = counts(plural(s.results, "result", "results"), verdicts);
    let severities = Severity::ALL
        .iter()
        .map(|sev| format!("{} {sev}", s.findings.get(sev.as_str()).copied().unwrap_or(0)))
        .collect();
    let findings = counts("findings".to_owned(), severities);
    let items = vec![
        vec![bindings],
        vec![plural(s.endpoints, "endpoint", "endpoints")],
        results,
        findings,
        vec![plural(s.source_errors, "source error", "source errors")],
    ];
    write_wrapped(out, &items, options.width)?;
    if let Some(trust) = &report.trust_store {
        write_wrapped(out, &[trust_store_parts(trust)], options.width)?;
    }

    // Findings, most severe first (the report keeps them in that order;
    // sorting again keeps this true for hand-made reports).
    let mut findings: Vec<_> =
        report.findings.iter().filter(|f| options.verbose || f.severity != Severity::Info).collect();
    findings.sort_by_key(|f| f.severity);
    if !findings.is_empty() {
        writeln!(out)?;
        // The message matters most; the place is cut first.
        let columns = [col("SEVERITY", 8, 0), col("CODE", 12, 1), col("WHERE", 16, 3), col("MESSAGE", 24, 2)];
        let rows: Vec<Vec<Cell>> = findings
            .iter()
            .map(|f| {
                let report_binding = f.binding.and_then(|i| report.bindings.get(i));
                let place = f.place.clone().unwrap_or_else(|| "-".to_owned());
                let mut message = f.message.clone();
                // The address tells observations apart only where a
                // binding has several; elsewhere the bindings table has it.
                if let (Some(address), Some(b)) = (&f.address, report_binding) {
                    if b.results.len() > 1 {
                        message = format!("[{address}] {message}");
                    }
                }
                vec![
                    Cell::styled(f.severity.as_str().to_uppercase(), Style::of_severity(f.severity)),
                    Cell::new(f.code.as_str()),
                    Cell::new(place),
                    Cell::new(message),
                ]
            })
            .collect();
        write_table(out, &painter, &columns, &rows, options.width)?;
    }
    let hidden_info = report.findings.iter().filter(|f| f.severity == Severity::Info).count();
    if !options.verbose && hidden_info > 0 {
        let mut codes: Vec<&str> =
            report.findings.iter().filter(|f| f.severity == Severity::Info).map(|f| f.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        writeln!(
            out,
            "{}",
            painter.paint(
                Style::Dim,
                &format!(
                    "+ {} ({}); verbose output lists them",
                    plural(hidden_info, "info finding", "info findings"),
                    codes.join(", ")
                )
            )
        )?;
    }

    if !report.bindings.is_empty() {
        writeln!(out)?;
        let mut columns = vec![
            col("SERVICE", 3, 1),
            col("RESOURCE", 10, 2),
            col("ENDPOINT", 12, 2),
            col("ADDRESS", 9, 1),
            col("VERDICT", 13, 0),
            col("SERVED CN", 10, 2),
            Column { header: Cow::Borrowed("DAYS"), min: 4, shrink: 0, right: true },
        ];
        columns.extend(options.tags.iter().map(|key| tag_column(key)));
        let mut rows = Vec::new();
        let mut declared_days_shown = false;
        for report_binding in &report.bindings {
            let binding = &report_binding.binding;
            let location = &binding.location;
            let resource = location
                .resource_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .map_or_else(|| location.resource_id.clone(), |name| format!("{} ({name})", location.resource_id));
            let endpoint = endpoint_text(binding).unwrap_or_else(|| match &location.not_probeable {
                Some(reason) => format!("not probed: {reason}"),
                None => "inventory".to_owned(),
            });
            let tag_cells =
                || options.tags.iter().map(|key| Cell::new(binding.tags.get(key).cloned().unwrap_or_default()));
            let declared_days = binding.declared.not_after.map(|t| (t - report.generated_at).div_euclid(86_400));
            if report_binding.results.is_empty() {
                let days = declared_days.map(|d| format!("{d}*")).unwrap_or_default();
                declared_days_shown |= declared_days.is_some();
                let row = vec![
                    Cell::new(location.service.clone()),
                    Cell::new(resource),
                    Cell::styled(endpoint, Style::Dim),
                    Cell::new(""),
                    Cell::styled("-", Style::Dim),
                    Cell::new(binding.declared.common_name.clone().unwrap_or_default()),
                    Cell::styled(days, Style::Dim),
                ];
                rows.push(row.into_iter().chain(tag_cells()).collect());
                continue;
            }
            for result in &report_binding.results {
                let (days, days_style) = match (&result.served, declared_days) {
                    (Some(served), _) => (served.days_remaining.to_string(), days_style(served.days_remaining)),
                    (None, Some(d)) => {
                        declared_days_shown = true;
                        (format!("{d}*"), Style::Dim)
                    }
                    (None, None) => (String::new(), Style::Plain),
                };
                let row = vec![
                    Cell::new(location.service.clone()),
                    Cell::new(resource.clone()),
                    Cell::new(endpoint.clone()),
                    Cell::new(result.address.clone().unwrap_or_default()),
                    Cell::styled(result.verdict.as_str(), Style::of_verdict(result.verdict)),
                    Cell::new(served_common_name(result).unwrap_or_default()),
                    Cell::styled(days, days_style),
                ];
                rows.push(row.into_iter().chain(tag_cells()).collect());
            }
        }
        write_table(out, &painter, &columns, &rows, options.width)?;
        if declared_days_shown {
            writeln!(
                out,
                "{}",
                painter.paint(Style::Dim, "* days left of the declared certificate; nothing was served")
            )?;
        }
    }
    Ok(())
}

fn days_style(days: i64) -> Style {
    match days {
        d if d < 0 => Style::BoldRed,
        d if d <= 7 => Style::Red,
        d if d <= 30 => Style::Yellow,
        _ => Style::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_and_punctuation_and_loses_nothing() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("abcdef", 6, &["abcdef"]),
            ("abcdef", 0, &["abcdef"]),
            ("", 4, &[""]),
            ("serves an expired certificate", 12, &["serves an", "expired", "certificate"]),
            ("cdn a.example.test:443", 10, &["cdn a.", "example.", "test:443"]),
            ("ambiguous.test:443", 16, &["ambiguous.", "test:443"]),
            ("ab-cd/ef,gh", 4, &["ab-", "cd/", "ef,", "gh"]),
            ("abcdefgh", 3, &["abc", "def", "gh"]),
            ("a  b", 1, &["a", "b"]),
        ];
        for (text, width, expected) in cases {
            let lines = wrap(text, *width);
            assert_eq!(lines, *expected, "{text:?} at {width}");
            assert!(lines.iter().all(|l| *width == 0 || width_of(l) <= *width));
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(printable("plain"), "plain");
    }

    #[test]
    fn layout_shrinks_the_widest_column_first() {
        let columns = [col("A", 1, 0), col("B", 3, 0)];
        let rows = vec![vec![Cell::new("xx"), Cell::new("yyyyyyyyyy")]];
        // 2 + 2 + 10 = 14 wide; 10 allowed: B gives up 4.
        assert_eq!(layout(&columns, &rows, 10), vec![2, 6]);
        // Never below the minimums.
        assert_eq!(layout(&columns, &rows, 1), vec![1, 3]);
        assert_eq!(layout(&columns, &rows, 0), vec![2, 10]);
    }

    #[test]
    fn layout_shrinks_the_most_expendable_column_first() {
        let columns = [col("A", 2, 1), col("B", 3, 0)];
        let rows = vec![vec![Cell::new("xxxxxx"), Cell::new("yyyyyyyyyy")]];
        // 6 + 2 + 10 = 18; 14 allowed: A gives up 4 although B is wider.
        assert_eq!(layout(&columns, &rows, 14), vec![2, 10]);
        // Then B.
        assert_eq!(layout(&columns, &rows, 12), vec![2, 8]);
    }
}
