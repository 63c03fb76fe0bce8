//! The human table: a summary, the findings most severe first, and one row
//! per binding and address; gathered as compact rows as a run streams
//! ([`TableWriter`]).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{self, Write};

use certinspect_core::findings::{Finding, Severity};
use certinspect_core::reconcile::Verdict;
use certinspect_core::report::{ObservationResult, Report};
use certinspect_core::trust_store::TrustStoreInfo;
use certinspect_core::verify::VerifyObserver;
use certinspect_protocol::Binding;

use crate::view::{endpoint_text, rfc3339, served_common_name, CompactFinding, VERDICTS};
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
fn layout(columns: &[Column], rows: impl IntoIterator<Item = Vec<Cell>>, max_width: usize) -> Vec<usize> {
    let mut widths: Vec<usize> = columns.iter().map(|c| width_of(&c.header)).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(&row) {
            *width = (*width).max(width_of(&cell.text));
        }
    }
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

/// The table of `columns` and the cells `rows` makes, made once for the
/// layout and again row by row as they are written, so a long table is
/// never held as cells at once.
fn write_table<I: Iterator<Item = Vec<Cell>>>(
    out: &mut dyn Write,
    painter: &Painter,
    columns: &[Column],
    rows: impl Fn() -> I,
    max_width: usize,
) -> io::Result<()> {
    let widths = layout(columns, rows(), max_width);
    let header: Vec<Cell> = columns.iter().map(|c| Cell::styled(c.header.clone(), Style::Bold)).collect();
    for row in std::iter::once(header).chain(rows()) {
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

/// Separates the cells of a [`ResultRow`]: [`printable`] leaves none in
/// the text.
const CELL_END: char = '\0';

/// One row of the bindings table as it is kept until the end: its cells of
/// text, and what the verdict and days cells are made of.
#[derive(Debug)]
struct ResultRow {
    binding: usize,
    /// The address observed; `None` for a binding not probed (and a result
    /// without address).
    address: Option<Box<str>>,
    /// Service, resource, endpoint, common name (served, or declared when
    /// not probed), then one per tag column, each [`printable`] and ended by
    /// [`CELL_END`].
    cells: Box<str>,
    /// The verdict; `None`: not probed.
    verdict: Option<Verdict>,
    /// Days left of the served leaf.
    served_days: Option<i64>,
    /// The declared certificate's expiry, shown when nothing was served.
    declared_not_after: Option<i64>,
}

impl ResultRow {
    /// The cells of the row, days reckoned at `generated_at` when nothing
    /// was served.
    fn cells(&self, generated_at: i64) -> Vec<Cell> {
        let declared_days = self.declared_not_after.map(|t| (t - generated_at).div_euclid(86_400));
        let (days, days_style) = match (self.served_days, declared_days) {
            (Some(served), _) => (served.to_string(), days_style(served)),
            (None, Some(d)) => (format!("{d}*"), Style::Dim),
            (None, None) => (String::new(), Style::Plain),
        };
        let mut cells = self.cells.split_terminator(CELL_END);
        let mut next = || cells.next().unwrap_or_default().to_owned();
        let (service, resource, endpoint, common_name) = (next(), next(), next(), next());
        let (endpoint_style, verdict) = match self.verdict {
            Some(verdict) => (Style::Plain, Cell::styled(verdict.as_str(), Style::of_verdict(verdict))),
            None => (Style::Dim, Cell::styled("-", Style::Dim)),
        };
        let fixed = vec![
            Cell::new(service),
            Cell::new(resource),
            Cell::styled(endpoint, endpoint_style),
            Cell::new(self.address.as_deref().unwrap_or_default()),
            verdict,
            Cell::new(common_name),
            Cell::styled(days, days_style),
        ];
        fixed.into_iter().chain(cells.map(Cell::new)).collect()
    }
}

/// The table gathered as a run goes: per result only its row's cells
/// ([`ResultRow`]) and per finding it lists what it prints and what orders
/// it; info findings, unless verbose, only as a count per code. Column
/// widths need every row, so nothing is written before
/// [`finish`](Self::finish); the whole report's table is written by the
/// same code ([`render_table`](crate::render_table)), so the two are
/// byte-identical.
#[derive(Debug)]
pub struct TableWriter {
    options: RenderOptions,
    rows: Vec<ResultRow>,
    findings: Vec<CompactFinding>,
    /// Info findings not listed: how many, and their codes.
    hidden_info: usize,
    hidden_codes: BTreeSet<&'static str>,
}

impl TableWriter {
    /// A table drawn as `options` say (colour, width, tag columns, verbose).
    pub fn new(options: &RenderOptions) -> Self {
        TableWriter {
            options: options.clone(),
            rows: Vec::new(),
            findings: Vec::new(),
            hidden_info: 0,
            hidden_codes: BTreeSet::new(),
        }
    }

    /// Write the table of a streamed run whose `report` keeps no bindings:
    /// the rows gathered, and the findings about no binding from the report
    /// (the ones about a binding came with their results and bindings).
    pub fn finish(&mut self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        for finding in report.findings.iter().filter(|f| f.binding.is_none()) {
            self.finding(finding);
        }
        self.write(report, out)
    }

    fn row(
        &mut self,
        index: usize,
        binding: &Binding,
        address: Option<&str>,
        common_name: Option<&str>,
        verdict: Option<Verdict>,
        served_days: Option<i64>,
    ) {
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
        let tags = self.options.tags.iter().map(|key| binding.tags.get(key).map(String::as_str).unwrap_or_default());
        let mut cells = String::new();
        for text in
            [location.service.as_str(), &resource, &endpoint, common_name.unwrap_or_default()].into_iter().chain(tags)
        {
            cells.push_str(&printable(text));
            cells.push(CELL_END);
        }
        self.rows.push(ResultRow {
            binding: index,
            address: address.map(Box::from),
            cells: cells.into_boxed_str(),
            verdict,
            served_days,
            declared_not_after: binding.declared.not_after,
        });
    }

    fn findings(&mut self, findings: &[Finding]) {
        for finding in findings {
            self.finding(finding);
        }
    }

    fn finding(&mut self, finding: &Finding) {
        if self.options.verbose || finding.severity != Severity::Info {
            self.findings.push(CompactFinding::new(finding));
        } else {
            self.hidden_info += 1;
            self.hidden_codes.insert(finding.code.as_str());
        }
    }

    fn write(&mut self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let options = &self.options;
        let painter = Painter { color: options.color };
        write_summary(report, &painter, options.width, out)?;

        // Findings, most severe first, in the report's order.
        self.findings.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        // Rows by binding, a binding's results by address, as the report has them.
        self.rows.sort_by(|a, b| (a.binding, &a.address).cmp(&(b.binding, &b.address)));
        if !self.findings.is_empty() {
            writeln!(out)?;
            // The address tells observations apart only where a binding has
            // several; elsewhere the bindings table has it.
            let results_of = |binding: usize| {
                let first = self.rows.partition_point(|r| r.binding < binding);
                self.rows[first..].iter().take_while(|r| r.binding == binding && r.verdict.is_some()).count()
            };
            // The message matters most; the place is cut first.
            let columns = [col("SEVERITY", 8, 0), col("CODE", 12, 1), col("WHERE", 16, 3), col("MESSAGE", 24, 2)];
            let rows = || {
                self.findings.iter().map(|f| {
                    let message = match (&f.address, f.binding) {
                        (Some(address), Some(binding)) if results_of(binding) > 1 => {
                            format!("[{address}] {}", f.message)
                        }
                        _ => f.message.to_string(),
                    };
                    vec![
                        Cell::styled(f.severity.as_str().to_uppercase(), Style::of_severity(f.severity)),
                        Cell::new(f.code.as_str()),
                        Cell::new(f.place.as_deref().unwrap_or("-")),
                        Cell::new(message),
                    ]
                })
            };
            write_table(out, &painter, &columns, rows, options.width)?;
        }
        if !options.verbose && self.hidden_info > 0 {
            let codes: Vec<&str> = self.hidden_codes.iter().copied().collect();
            writeln!(
                out,
                "{}",
                painter.paint(
                    Style::Dim,
                    &format!(
                        "+ {} ({}); verbose output lists them",
                        plural(self.hidden_info, "info finding", "info findings"),
                        codes.join(", ")
                    )
                )
            )?;
        }

        if !self.rows.is_empty() {
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
            let rows = || self.rows.iter().map(|row| row.cells(report.generated_at));
            write_table(out, &painter, &columns, rows, options.width)?;
            let declared_days_shown =
                self.rows.iter().any(|r| r.served_days.is_none() && r.declared_not_after.is_some());
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
}

/// What a run streams: each result's row and findings, the findings about
/// bindings as a whole, and the row of each binding not probed.
impl VerifyObserver for TableWriter {
    fn result(&mut self, index: usize, binding: &Binding, result: &ObservationResult, findings: &[Finding]) {
        let (common_name, days) = (served_common_name(result), result.served.as_ref().map(|s| s.days_remaining));
        self.row(index, binding, result.address.as_deref(), common_name, Some(result.verdict), days);
        self.findings(findings);
    }

    fn binding_findings(&mut self, _index: usize, _binding: &Binding, findings: &[Finding]) {
        self.findings(findings);
    }

    fn not_probed(&mut self, index: usize, binding: &Binding) {
        self.row(index, binding, None, binding.declared.common_name.as_deref(), None, None);
    }
}

/// The title, the totals and the trust store.
fn write_summary(report: &Report, painter: &Painter, width: usize, out: &mut dyn Write) -> io::Result<()> {
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
    write_wrapped(out, &items, width)?;
    if let Some(trust) = &report.trust_store {
        write_wrapped(out, &[trust_store_parts(trust)], width)?;
    }
    Ok(())
}

pub(crate) fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = TableWriter::new(options);
    for (index, report_binding) in report.bindings.iter().enumerate() {
        let binding = &report_binding.binding;
        // Findings are fed on their own below, those about no result too.
        if report_binding.results.is_empty() {
            writer.not_probed(index, binding);
        }
        for result in &report_binding.results {
            writer.result(index, binding, result, &[]);
        }
    }
    for finding in &report.findings {
        writer.finding(finding);
    }
    writer.write(report, out)
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
        let rows = || vec![vec![Cell::new("xx"), Cell::new("yyyyyyyyyy")]];
        // 2 + 2 + 10 = 14 wide; 10 allowed: B gives up 4.
        assert_eq!(layout(&columns, rows(), 10), vec![2, 6]);
        // Never below the minimums.
        assert_eq!(layout(&columns, rows(), 1), vec![1, 3]);
        assert_eq!(layout(&columns, rows(), 0), vec![2, 10]);
    }

    #[test]
    fn layout_shrinks_the_most_expendable_column_first() {
        let columns = [col("A", 2, 1), col("B", 3, 0)];
        let rows = || vec![vec![Cell::new("xxxxxx"), Cell::new("yyyyyyyyyy")]];
        // 6 + 2 + 10 = 18; 14 allowed: A gives up 4 although B is wider.
        assert_eq!(layout(&columns, rows(), 14), vec![2, 10]);
        // Then B.
        assert_eq!(layout(&columns, rows(), 12), vec![2, 8]);
    }
}
