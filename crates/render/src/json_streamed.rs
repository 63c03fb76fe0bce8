//! The JSON report of a streamed run ([`JsonWriter`]): results, bindings and
//! findings spilled to an anonymous temporary file as they come, the report
//! written at the end in its own order, byte for byte what
//! [`render_json`](crate::render_json) writes of the whole report.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use certinspect_core::findings::Finding;
use certinspect_core::report::{BindingReport, ChainAnalysis, JoinNoteReport, ObservationResult, Report};
use certinspect_core::verify::report_order;
use certinspect_protocol::Binding;
use serde::Serialize;

/// Where a piece of the report lies in the spill file: its pretty JSON, as
/// `serde_json` writes it at the outermost level.
#[derive(Debug, Clone, Copy)]
struct Record {
    offset: u64,
    len: u64,
}

/// One result spilled: whose it is, what it is sorted by, and the number
/// of its chain as the run gave it.
#[derive(Debug)]
struct ResultEntry {
    binding: usize,
    address: Option<Box<str>>,
    chain: Option<usize>,
    record: Record,
}

/// Writes the JSON report (`--format json`) of a run that keeps no results
/// (`VerifyOptions::keep_results` off), keeping in memory only an index
/// into a temporary file.
///
/// As the engine's observer feeds it, each result ([`result`](Self::result)),
/// each binding with its join note ([`binding`](Self::binding)) and each
/// finding about a result is written to an anonymous temporary file
/// (`tempfile::tempfile`: in the OS temporary directory, gone when closed,
/// about as large as the report it becomes). Memory keeps per result its
/// binding, address and place in the file; per binding its place; per
/// finding what orders it (the finding without its evidence).
/// [`finish`](Self::finish) then writes the report in the whole report's
/// order: bindings by index, each binding's results by address, findings in
/// report order ([`report_order`]) together with the finished report's own
/// (findings about bindings as a whole, source failures), every other field
/// but `chains` from the finished report. The output is byte for byte
/// [`render_json`](crate::render_json) of the whole report.
///
/// Nothing is written to the output before `finish`. A spill write that
/// fails is remembered; `finish` then reports it and writes nothing.
///
/// With `--detail full`, each chain's analysis ([`chain`](Self::chain)) is
/// spilled too, and `finish` numbers the chains in report order (as the
/// whole report does: by first reference, bindings in order, results by
/// address), rewriting each result's `chain`.
#[derive(Debug)]
pub struct JsonWriter<W: Write> {
    out: W,
    spill: BufWriter<File>,
    /// Bytes written to the spill so far.
    spilled: u64,
    /// Reused for each piece serialized.
    buffer: Vec<u8>,
    results: Vec<ResultEntry>,
    /// Per binding index, its record once [`binding`](Self::binding) wrote it.
    bindings: Vec<Option<Record>>,
    /// Per chain number of the run, its analysis's record.
    chains: Vec<Option<Record>>,
    /// Findings about results: each without its evidence (what orders it), and its record.
    findings: Vec<(Finding, Record)>,
    /// The first spill write that failed, as a sentence.
    failed: Option<String>,
}

impl<W: Write> JsonWriter<W> {
    /// A writer to `out`, with its spill file created now (so a temporary
    /// directory that cannot take it fails before any probing).
    pub fn new(out: W) -> io::Result<Self> {
        let spill = tempfile::tempfile().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create the JSON report's temporary file in {}: {e}", std::env::temp_dir().display()),
            )
        })?;
        Ok(JsonWriter {
            out,
            spill: BufWriter::new(spill),
            spilled: 0,
            buffer: Vec::new(),
            results: Vec::new(),
            bindings: Vec::new(),
            chains: Vec::new(),
            findings: Vec::new(),
            failed: None,
        })
    }

    /// One result of binding number `index`, with the findings about it.
    pub fn result(&mut self, index: usize, result: &ObservationResult, findings: &[Finding]) {
        let Some(record) = self.spill(result) else { return };
        let address = result.address.as_deref().map(Box::from);
        self.results.push(ResultEntry { binding: index, address, chain: result.chain, record });
        for finding in findings {
            let Some(record) = self.spill(finding) else { return };
            let mut key = finding.clone();
            key.evidence = Default::default();
            self.findings.push((key, record));
        }
    }

    /// The full analysis of the run's chain number `index` (`--detail
    /// full`), before the first result that refers to it.
    pub fn chain(&mut self, index: usize, analysis: &ChainAnalysis) {
        let Some(record) = self.spill(analysis) else { return };
        if self.chains.len() <= index {
            self.chains.resize(index + 1, None);
        }
        self.chains[index] = Some(record);
    }

    /// Binding number `index` as the report lists it and its join note
    /// (from the engine's observer at the end of a run, once per binding).
    pub fn binding(&mut self, index: usize, binding: &Binding, join: &JoinNoteReport) {
        // Its results are put in at the end ("results": [] is spliced).
        let shell = BindingReport { binding: binding.clone(), join: join.clone(), results: Vec::new() };
        let Some(record) = self.spill(&shell) else { return };
        if self.bindings.len() <= index {
            self.bindings.resize(index + 1, None);
        }
        self.bindings[index] = Some(record);
    }

    /// Write the report: `report` is the finished report of the streamed
    /// run (no bindings or chains; the findings that were not streamed; the
    /// totals). Its `chains` are not read: those this writer was given are.
    pub fn finish(&mut self, report: &Report) -> io::Result<()> {
        if let Some(why) = &self.failed {
            return Err(io::Error::other(why.clone()));
        }
        self.spill.flush().map_err(|e| spill_error("write", &e))?;
        // Results by binding, then address; stable, so results at one
        // address keep their order, as the whole report's sort does.
        self.results.sort_by(|a, b| a.binding.cmp(&b.binding).then_with(|| a.address.cmp(&b.address)));
        // Chains numbered by first reference in that order (`number_chains`).
        let mut renumbered: Vec<Option<usize>> = vec![None; self.chains.len()];
        let mut chain_order = Vec::new();
        for old in self.results.iter().filter_map(|r| r.chain) {
            let Some(Some(record)) = self.chains.get(old) else {
                return Err(io::Error::other(format!("chain {old} never reached the JSON report's writer")));
            };
            if renumbered[old].is_none() {
                renumbered[old] = Some(chain_order.len());
                chain_order.push(*record);
            }
        }
        let spill = self.spill.get_mut();
        let mut buffer = Vec::new();
        // Every other field as serde writes it, with the lists spliced in
        // at their keys: the field list of `Report` stays in one place, and
        // a field added to it appears here by itself.
        let mut shell = report.clone();
        shell.bindings.clear();
        shell.findings.clear();
        shell.chains.clear();
        if let Some(&first) = chain_order.first() {
            // `chains` is left out when empty: one stands in, to be replaced.
            read(spill, first, &mut buffer)?;
            shell.chains.push(serde_json::from_slice(&buffer)?);
        }
        let shell = serde_json::to_string_pretty(&shell)?;
        let (head, rest) = split_at_array(&shell, 1, "bindings")?;
        let (middle, rest) = split_at_array(rest, 1, "findings")?;
        let (before_chains, tail) = match chain_order.is_empty() {
            true => ("", rest),
            false => split_at_array(rest, 1, "chains")?,
        };

        let mut findings: Vec<(&Finding, Option<Record>)> = self.findings.iter().map(|(f, r)| (f, Some(*r))).collect();
        findings.extend(report.findings.iter().map(|f| (f, None)));
        // Stable too: the whole report sorts the results' findings first,
        // then the others, in these orders.
        findings.sort_by(|a, b| report_order(a.0, b.0));

        let mut out = BufWriter::new(&mut self.out);
        out.write_all(head.as_bytes())?;
        let mut results = self.results.iter().peekable();
        write_array(&mut out, 1, self.bindings.len(), |index, out| {
            let record = self.bindings[index]
                .ok_or_else(|| io::Error::other(format!("binding {index} never reached the JSON report's writer")))?;
            read(spill, record, &mut buffer)?;
            let text = std::str::from_utf8(&buffer).map_err(io::Error::other)?;
            let (head, tail) = split_at_array(text, 1, "results")?;
            let mut own = Vec::new();
            while let Some(result) = results.next_if(|r| r.binding == index) {
                own.push(result);
            }
            out.write_all(head.as_bytes())?;
            let mut piece = Vec::new();
            write_array(out, 1, own.len(), |i, out| {
                read(spill, own[i].record, &mut piece)?;
                match own[i].chain.and_then(|old| renumbered[old]) {
                    Some(new) => write_renumbered(out, &piece, new),
                    None => out.write_all(&piece),
                }
            })?;
            out.write_all(tail.as_bytes())
        })?;
        if let Some(stray) = results.next() {
            return Err(io::Error::other(format!(
                "a result of binding {} reached the JSON report's writer without its binding",
                stray.binding
            )));
        }
        out.write_all(middle.as_bytes())?;
        write_array(&mut out, 1, findings.len(), |i, out| match findings[i] {
            (_, Some(record)) => {
                read(spill, record, &mut buffer)?;
                out.write_all(&buffer)
            }
            (finding, None) => Ok(serde_json::to_writer_pretty(out, finding)?),
        })?;
        if !chain_order.is_empty() {
            out.write_all(before_chains.as_bytes())?;
            write_array(&mut out, 1, chain_order.len(), |i, out| {
                read(spill, chain_order[i], &mut buffer)?;
                out.write_all(&buffer)
            })?;
        }
        out.write_all(tail.as_bytes())?;
        writeln!(out)?;
        out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Append `value`'s pretty JSON to the spill; `None` once a write failed.
    fn spill(&mut self, value: &impl Serialize) -> Option<Record> {
        if self.failed.is_some() {
            return None;
        }
        self.buffer.clear();
        let written = serde_json::to_writer_pretty(&mut self.buffer, value)
            .map_err(io::Error::from)
            .and_then(|()| self.spill.write_all(&self.buffer));
        if let Err(e) = written {
            self.failed = Some(spill_error("write", &e).to_string());
            return None;
        }
        let record = Record { offset: self.spilled, len: self.buffer.len() as u64 };
        self.spilled += record.len;
        Some(record)
    }
}

fn spill_error(verb: &str, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {verb} the JSON report's temporary file: {e}"))
}

/// Read `record` from the spill into `buffer`.
fn read(spill: &mut File, record: Record, buffer: &mut Vec<u8>) -> io::Result<()> {
    buffer.clear();
    buffer.resize(usize::try_from(record.len).map_err(io::Error::other)?, 0);
    spill
        .seek(SeekFrom::Start(record.offset))
        .and_then(|_| spill.read_exact(buffer))
        .map_err(|e| spill_error("read", &e))
}

/// `text` (serde_json's pretty JSON) around the array at `key`, whose line
/// is indented `depth` levels: the text up to and with `"key": `, and the
/// text after the array's `]`. Lines inside the array are indented deeper,
/// so its `]` is the first one at `depth`.
fn split_at_array<'t>(text: &'t str, depth: usize, key: &str) -> io::Result<(&'t str, &'t str)> {
    let indent = INDENT.repeat(depth);
    let needle = format!("\n{indent}\"{key}\": [");
    let missing = || io::Error::other(format!("the JSON report has no \"{key}\" to fill in"));
    let open = text.find(&needle).ok_or_else(missing)? + needle.len() - 1;
    let close = match text[open..].starts_with("[]") {
        true => open + 1,
        false => {
            let end = format!("\n{indent}]");
            open + text[open..].find(&end).ok_or_else(missing)? + end.len() - 1
        }
    };
    Ok((&text[..open], &text[close + 1..]))
}

/// A result's pretty JSON with its `chain` (at its outermost level) set to `chain`.
fn write_renumbered(out: &mut dyn Write, result: &[u8], chain: usize) -> io::Result<()> {
    const KEY: &[u8] = b"\n  \"chain\": ";
    let at = result.windows(KEY.len()).position(|w| w == KEY).map(|at| at + KEY.len());
    let Some(at) = at else {
        return Err(io::Error::other("a result with a chain has no \"chain\" field"));
    };
    let digits = result[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    out.write_all(&result[..at])?;
    write!(out, "{chain}")?;
    out.write_all(&result[at + digits..])
}

/// One level of serde_json's pretty printer.
const INDENT: &str = "  ";

/// An array as serde_json's pretty printer writes it at a key whose line is
/// indented `depth` levels; `item` writes element `i` as pretty JSON at the
/// outermost level, which is indented here line by line. JSON strings hold
/// no raw line breaks, so every line break in pretty JSON starts a line of
/// its structure, and indenting after each one is exact.
fn write_array(
    out: &mut dyn Write,
    depth: usize,
    count: usize,
    mut item: impl FnMut(usize, &mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if count == 0 {
        return out.write_all(b"[]");
    }
    let inner = INDENT.repeat(depth + 1);
    out.write_all(b"[")?;
    for i in 0..count {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        out.write_all(inner.as_bytes())?;
        item(i, &mut Indented { out: &mut *out, indent: inner.as_bytes() })?;
    }
    out.write_all(b"\n")?;
    out.write_all(INDENT.repeat(depth).as_bytes())?;
    out.write_all(b"]")
}

/// Writes through to `out`, indenting every line after the first.
struct Indented<'a> {
    out: &'a mut dyn Write,
    indent: &'a [u8],
}

impl Write for Indented<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for line in buf.split_inclusive(|&b| b == b'\n') {
            self.out.write_all(line)?;
            if line.ends_with(b"\n") {
                self.out.write_all(self.indent)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde_json::{json, Value};

    use super::{split_at_array, write_array};

    /// An array spliced in at its key, element by element, reads as
    /// serde_json's pretty printer writes the whole document, at any depth.
    #[test]
    fn arrays_spliced_in_are_what_serde_json_pretty_prints() {
        let cases = [json!([]), json!([1]), json!([{ "a": [1, { "b": "two\nlines" }], "c": {} }, "s", [], [[]]])];
        let documents: [fn(Value) -> Value; 2] =
            [|items| json!({ "first": 1, "k": items, "last": [2] }), |items| json!({ "outer": { "k": items } })];
        for (depth, document) in (1..).zip(documents) {
            for items in &cases {
                let shell = serde_json::to_string_pretty(&document(json!([]))).unwrap();
                let (head, tail) = split_at_array(&shell, depth, "k").unwrap();
                let items = items.as_array().unwrap();
                let mut out = Vec::new();
                out.write_all(head.as_bytes()).unwrap();
                write_array(&mut out, depth, items.len(), |i, out| Ok(serde_json::to_writer_pretty(out, &items[i])?))
                    .unwrap();
                out.write_all(tail.as_bytes()).unwrap();
                let expected = serde_json::to_string_pretty(&document(Value::Array(items.clone()))).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), expected);
                // And a full array is found whole.
                assert_eq!(split_at_array(&expected, depth, "k").unwrap(), (head, tail));
            }
        }
    }
}
