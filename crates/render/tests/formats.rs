//! Every machine-readable format, read back by a real consumer: the JSON
//! Schema validator (jsonschema) for JSON and JSON Lines, the `csv` crate's
//! reader for CSV (streamed and whole), the official SARIF 2.1.0 schema for SARIF, and
//! prometheus_client's text-format parser for the Prometheus file. Each
//! runs on the committed fixture and on a report the engine writes now.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::sync::OnceLock;

use certinspect_core::diff::fingerprint;
use certinspect_core::findings::Finding;
use certinspect_core::report::{ObservationResult, Report};
use certinspect_core::verify::BINDING_FINDING_CODES;
use certinspect_render::{
    render_csv, render_json, render_jsonl, render_prometheus, render_sarif, sarif_level, CsvWriter, FindingCode,
    JsonLinesWriter, JsonWriter, PrometheusSeries, SarifWriter, CSV_COLUMNS, SARIF_FINGERPRINT_KEY,
};
use common::python::{consumer, consumer_rejects, sarif_schema};
use common::{docs_dir, rendered, scratch_file};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn live() -> &'static Report {
    static LIVE: OnceLock<Report> = OnceLock::new();
    LIVE.get_or_init(common::world::live_report)
}

/// The fixture and a fresh engine report, with names for messages.
fn reports() -> Vec<(&'static str, Report)> {
    vec![("fixture", common::fixture()), ("live", live().clone())]
}

/// Binding x result pairs, a binding without results once with `None`.
fn observations(report: &Report) -> Vec<(usize, Option<&ObservationResult>)> {
    let mut out = Vec::new();
    for (index, b) in report.bindings.iter().enumerate() {
        if b.results.is_empty() {
            out.push((index, None));
        }
        out.extend(b.results.iter().map(|r| (index, Some(r))));
    }
    out
}

fn schema_path() -> String {
    docs_dir().join("report.schema.json").to_str().unwrap().to_owned()
}

#[test]
fn json_is_valid_against_the_committed_schema_and_round_trips() {
    for (name, report) in reports() {
        let text = rendered(|o| render_json(&report, o));
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report, "{name}");
        let file = scratch_file("json", &format!("{name}.json"), &text);
        consumer(&["jsonschema", &schema_path(), file.to_str().unwrap(), "--strict"]);
    }
}

#[test]
fn the_schema_rejects_what_the_model_does_not_write() {
    let report = common::fixture();
    let mut json: Value = serde_json::to_value(&report).unwrap();
    // A verdict that does not exist.
    json["bindings"][0]["results"][0]["verdict"] = "MAYBE".into();
    let file = scratch_file("json", "bad-verdict.json", &json.to_string());
    let errors = consumer_rejects(&["jsonschema", &schema_path(), file.to_str().unwrap()]);
    assert!(errors.contains("bindings/0/results/0"), "{errors}");

    // A field the schema does not document: tolerated for consumers,
    // refused by the strict check these tests run.
    let mut json: Value = serde_json::to_value(&report).unwrap();
    json["bindings"][0]["binding"]["location"]["undocumented"] = 1.into();
    let file = scratch_file("json", "extra-field.json", &json.to_string());
    consumer(&["jsonschema", &schema_path(), file.to_str().unwrap()]);
    let errors = consumer_rejects(&["jsonschema", &schema_path(), file.to_str().unwrap(), "--strict"]);
    assert!(errors.contains("undocumented"), "{errors}");
}

#[test]
fn the_compiled_in_schema_is_the_committed_one() {
    let committed = std::fs::read_to_string(docs_dir().join("report.schema.json")).unwrap();
    assert_eq!(certinspect_render::REPORT_SCHEMA, committed);
}

/// Records what a consumer could read after each flush.
#[derive(Default)]
struct FlushLog {
    bytes: Vec<u8>,
    seen_at_flush: Vec<usize>,
}

impl Write for FlushLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.seen_at_flush.push(self.bytes.len());
        Ok(())
    }
}

#[test]
fn json_lines_are_valid_events_flushed_one_at_a_time() {
    for (name, report) in reports() {
        let text = rendered(|o| render_jsonl(&report, o));
        let file = scratch_file("jsonl", &format!("{name}.jsonl"), &text);
        consumer(&["jsonschema", &schema_path(), file.to_str().unwrap(), "--strict", "--lines", "jsonl_event"]);

        let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let of_type = |t: &str| events.iter().filter(|e| e["type"] == t).collect::<Vec<_>>();
        // Every binding appears; every result exactly once, in order.
        let results = of_type("result");
        let expected = observations(&report);
        assert_eq!(results.len(), expected.len(), "{name}");
        for (event, (index, result)) in results.iter().zip(&expected) {
            assert_eq!(event["binding"], *index);
            assert_eq!(event["location"], serde_json::to_value(&report.bindings[*index].binding.location).unwrap());
            assert_eq!(event["result"], serde_json::to_value(result).unwrap());
        }
        // Each chain once, before the first result that refers to it.
        let chains = of_type("chain");
        assert_eq!(chains.len(), report.chains.len(), "{name}");
        for (position, event) in events.iter().enumerate() {
            if let Some(chain) = event["result"]["chain"].as_u64() {
                let first = events.iter().position(|e| e["type"] == "chain" && e["chain"] == chain);
                assert!(
                    first.is_some_and(|first| first < position),
                    "{name}: chain {chain} not written before line {position}"
                );
            }
        }
        for event in &chains {
            let index = event["chain"].as_u64().unwrap() as usize;
            assert_eq!(event["analysis"], serde_json::to_value(&report.chains[index]).unwrap());
        }
        let findings = of_type("finding");
        assert_eq!(findings.len(), report.findings.len());
        for (event, finding) in findings.iter().zip(&report.findings) {
            assert_eq!(event["code"], finding.code.as_str());
            assert_eq!(event["binding"], serde_json::to_value(finding.binding).unwrap_or(Value::Null));
        }
        // The summary closes the stream.
        assert_eq!(events.last().unwrap()["type"], "summary");
        assert_eq!(events.last().unwrap()["summary"], serde_json::to_value(&report.summary).unwrap());
        assert_eq!(of_type("summary").len(), 1);
    }

    // Streaming: each event is one whole line, flushed before the next;
    // `finish` adds exactly what was not streamed.
    let report = live();
    let mut writer = JsonLinesWriter::new(FlushLog::default());
    let mut streamed = 0;
    let mut chains_streamed = vec![false; report.chains.len()];
    for (index, b) in report.bindings.iter().enumerate() {
        for result in &b.results {
            // As the engine's observer: a chain before its first result.
            if let Some(chain) = result.chain.filter(|&c| !chains_streamed[c]) {
                writer.chain(chain, &report.chains[chain]).unwrap();
                chains_streamed[chain] = true;
                streamed += 1;
            }
            writer.result(index, &b.binding, Some(result)).unwrap();
            streamed += 1;
            let address = result.address.as_deref();
            for f in report.findings.iter().filter(|f| f.binding == Some(index) && f.address.as_deref() == address) {
                writer.finding(f).unwrap();
                streamed += 1;
            }
        }
    }
    assert_eq!(writer.lines(), streamed);
    writer.finish(report).unwrap();
    let log = writer.into_inner();
    assert_eq!(log.seen_at_flush.len(), text_lines(&rendered(|o| render_jsonl(report, o))).len());
    for &end in &log.seen_at_flush {
        assert_eq!(log.bytes[end - 1], b'\n', "a flush left a partial line");
    }
    assert_eq!(*log.seen_at_flush.last().unwrap(), log.bytes.len());
    let mut streamed_lines = text_lines(&String::from_utf8(log.bytes).unwrap());
    let mut whole_lines = text_lines(&rendered(|o| render_jsonl(report, o)));
    assert!(streamed_lines.last().unwrap().starts_with(r#"{"type":"summary""#));
    streamed_lines.sort();
    whole_lines.sort();
    assert_eq!(streamed_lines, whole_lines, "streamed + finish = the whole report");
}

fn text_lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn rfc3339_to_unix(text: &str) -> i64 {
    OffsetDateTime::parse(text, &Rfc3339).unwrap().unix_timestamp()
}

/// The CSV rows of `report`, as [`CsvWriter`] documents them: binding
/// index, result (`None`: the row without result) and the findings listed.
fn csv_rows(report: &Report) -> Vec<(usize, Option<&ObservationResult>, Vec<&Finding>)> {
    let mut out = Vec::new();
    for (index, b) in report.bindings.iter().enumerate() {
        let about = |f: &&Finding| f.binding == Some(index);
        let whole = |f: &&Finding| f.address.is_none() && BINDING_FINDING_CODES.contains(&f.code);
        for result in &b.results {
            let own =
                report.findings.iter().filter(about).filter(|f| !whole(f) && f.address == result.address).collect();
            out.push((index, Some(result), own));
        }
        let whole: Vec<&Finding> = report.findings.iter().filter(about).filter(whole).collect();
        if b.results.is_empty() || !whole.is_empty() {
            out.push((index, None, whole));
        }
    }
    out
}

#[test]
fn csv_reads_back_with_one_row_per_binding_and_result() {
    for (name, report) in reports() {
        let text = rendered(|o| render_csv(&report, o));
        assert!(text.contains("\r\n"), "RFC 4180 ends records with CRLF");
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(headers, CSV_COLUMNS);
        let column = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let expected = csv_rows(&report);
        assert_eq!(rows.len(), expected.len(), "{name}");
        // Every finding about a binding is listed in exactly one row.
        let listed: usize = expected.iter().map(|(_, _, findings)| findings.len()).sum();
        assert_eq!(listed, report.findings.iter().filter(|f| f.binding.is_some()).count(), "{name}");
        for (row, (index, result, findings)) in rows.iter().zip(&expected) {
            assert_eq!(row.len(), CSV_COLUMNS.len());
            let binding = &report.bindings[*index].binding;
            let location = &binding.location;
            // Quotes, commas, backslashes and newlines come back intact.
            assert_eq!(&row[column("account")], location.account);
            assert_eq!(&row[column("resource_id")], location.resource_id);
            assert_eq!(&row[column("provider")], location.plugin);
            assert_eq!(&row[column("verdict")], result.map_or("", |r| r.verdict.as_str()));
            assert_eq!(&row[column("address")], result.and_then(|r| r.address.as_deref()).unwrap_or(""));
            match result.and_then(|r| r.served.as_ref()) {
                Some(served) => {
                    assert_eq!(rfc3339_to_unix(&row[column("served_not_after")]), served.not_after);
                    assert_eq!(row[column("days_remaining")].parse::<i64>().unwrap(), served.days_remaining);
                    assert_eq!(&row[column("served_sha256")], served.sha256);
                }
                None => assert_eq!(&row[column("served_not_after")], ""),
            }
            if let Some(not_after) = binding.declared.not_after {
                assert_eq!(rfc3339_to_unix(&row[column("declared_not_after")]), not_after);
            }
            // A result's row lists the findings about that observation; the
            // row without result, those about the binding as a whole.
            let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
            let listed: Vec<&str> = row[column("finding_codes")].split(';').filter(|c| !c.is_empty()).collect();
            assert_eq!(listed, codes, "{name}: row for binding {index}");
            let highest = findings.iter().map(|f| f.severity).min();
            assert_eq!(&row[column("highest_severity")], highest.map_or("", |s| s.as_str()));
        }
    }
}

/// A run streamed through [`CsvWriter`] as the engine's observer feeds it
/// (results as they come, bindings as a whole at the end) writes the rows
/// `render_csv` writes from the whole report, in another order.
#[test]
fn streamed_csv_rows_are_the_whole_reports_rows() {
    for (name, report) in reports() {
        let rows = csv_rows(&report);
        // Both kinds of rows without result are here: a binding probed with
        // findings as a whole, and one not probed with such findings.
        let whole_rows = |probed: bool| {
            rows.iter()
                .any(|(i, r, f)| r.is_none() && !f.is_empty() && report.bindings[*i].results.is_empty() != probed)
        };
        assert!(whole_rows(true) && whole_rows(false), "{name}");
        let mut writer = CsvWriter::new(Vec::new(), &[]).unwrap();
        // Results arrive in any order: here, last binding first.
        for (index, result, findings) in rows.iter().rev() {
            if let Some(result) = result {
                let findings: Vec<Finding> = findings.iter().map(|f| (*f).clone()).collect();
                writer.result(&report.bindings[*index].binding, result, &findings).unwrap();
            }
        }
        for (index, b) in report.bindings.iter().enumerate() {
            let whole = rows.iter().find(|(i, result, _)| *i == index && result.is_none());
            if let Some((_, _, findings)) = whole.filter(|(_, _, findings)| !findings.is_empty()) {
                let findings: Vec<Finding> = findings.iter().map(|f| (*f).clone()).collect();
                writer.binding_findings(index, &b.binding, &findings).unwrap();
            }
            if b.results.is_empty() {
                writer.not_probed(index, &b.binding).unwrap();
            }
        }
        writer.flush().unwrap();
        let streamed = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let whole = rendered(|o| render_csv(&report, o));
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
            let header = lines.remove(0);
            lines.sort();
            (header, lines)
        };
        assert_eq!(sorted(&streamed), sorted(&whole), "{name}");
        assert_eq!(streamed.len(), whole.len());
    }
}

/// A run streamed through [`JsonWriter`] as the engine's observer feeds it
/// (chains numbered as they first came, results with their findings in any
/// order, each binding and its join
/// note at the end, then the finished report without bindings and with only
/// the findings not streamed) writes `render_json`'s bytes of the whole report.
#[test]
fn streamed_json_is_the_whole_reports_json() {
    for (name, report) in reports() {
        let whole_finding =
            |f: &Finding| f.binding.is_none() || (f.address.is_none() && BINDING_FINDING_CODES.contains(&f.code));
        // Each finding about a result goes with the first result it is about.
        let mut fed = vec![false; report.findings.len()];
        let mut results = Vec::new();
        for (index, b) in report.bindings.iter().enumerate() {
            for result in &b.results {
                let mut own = Vec::new();
                for (i, f) in report.findings.iter().enumerate() {
                    if !fed[i] && !whole_finding(f) && f.binding == Some(index) && f.address == result.address {
                        fed[i] = true;
                        own.push(f.clone());
                    }
                }
                results.push((index, result, own));
            }
        }
        assert!(results.iter().any(|(_, _, own)| own.len() > 1), "{name}: a result with several findings");
        let mut finished = report.clone();
        finished.bindings.clear();
        finished.chains.clear();
        finished.findings =
            report.findings.iter().zip(&fed).filter(|(_, fed)| !**fed).map(|(f, _)| f.clone()).collect();
        assert!(!finished.findings.is_empty() && finished.findings.len() < report.findings.len(), "{name}");

        let mut writer = JsonWriter::new(Vec::new()).unwrap();
        // The run numbers chains as they first come, not in report order:
        // here, last first (both reports are `--detail full`).
        let count = report.chains.len();
        assert!(count > 1, "{name}");
        for (number, analysis) in report.chains.iter().enumerate().rev() {
            writer.chain(count - 1 - number, analysis);
        }
        // Results arrive in any order: here, every other one, last first.
        let (odd, even): (Vec<_>, Vec<_>) = results.iter().enumerate().partition(|(i, _)| i % 2 == 1);
        for (_, (index, result, own)) in odd.iter().rev().chain(&even) {
            let mut result = (*result).clone();
            result.chain = result.chain.map(|number| count - 1 - number);
            writer.result(*index, &result, own);
        }
        for (index, b) in report.bindings.iter().enumerate() {
            writer.binding(index, &b.binding, &b.join);
        }
        writer.finish(&finished).unwrap();
        let streamed = String::from_utf8(writer.into_inner()).unwrap();
        let whole = rendered(|o| render_json(&report, o));
        if streamed != whole {
            let line = streamed.lines().zip(whole.lines()).position(|(s, w)| s != w);
            panic!("{name}: the streamed JSON differs from the whole report's from line {line:?}");
        }
    }
}

/// A spill that cannot be written is an error sentence at the end, and
/// nothing is written: here the report cannot be put together because a
/// binding never reached the writer.
#[test]
fn a_streamed_json_report_missing_a_binding_is_an_error_not_a_short_report() {
    let report = common::fixture();
    let mut writer = JsonWriter::new(Vec::new()).unwrap();
    let last = report.bindings.len() - 1;
    writer.binding(last, &report.bindings[last].binding, &report.bindings[last].join);
    let mut finished = report.clone();
    finished.bindings.clear();
    let error = writer.finish(&finished).unwrap_err();
    assert_eq!(error.to_string(), "binding 0 never reached the JSON report's writer");
}

#[test]
fn sarif_is_valid_against_the_sarif_2_1_0_schema() {
    let schema = sarif_schema();
    for (name, report) in reports() {
        let text = rendered(|o| render_sarif(&report, o));
        let file = scratch_file("sarif", &format!("{name}.sarif"), &text);
        let said = consumer(&["jsonschema", schema.to_str().unwrap(), file.to_str().unwrap()]);
        assert!(said.contains("Draft202012Validator"), "{said}");

        let log: Value = serde_json::from_str(&text).unwrap();
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let codes: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(rule_ids, codes);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), report.findings.len(), "{name}");
        for (result, finding) in results.iter().zip(&report.findings) {
            assert_eq!(result["ruleId"], finding.code.as_str());
            assert_eq!(result["level"], sarif_level(finding.severity));
            assert_eq!(rule_ids[result["ruleIndex"].as_u64().unwrap() as usize], finding.code.as_str());
            assert_eq!(result["properties"]["severity"], finding.severity.as_str());
            let print = &result["partialFingerprints"][SARIF_FINGERPRINT_KEY];
            assert_eq!(print.as_str(), Some(fingerprint(&report, finding).as_str()), "{name}");
            let location = &result["locations"][0];
            match finding.binding {
                Some(index) => {
                    let binding = &report.bindings[index].binding;
                    let uri = location["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap();
                    match &binding.location.endpoint {
                        Some(e) => assert!(uri.starts_with("https://") && uri.contains(&e.port.to_string()), "{uri}"),
                        None => assert!(uri.starts_with(&format!("{}://", binding.location.plugin)), "{uri}"),
                    }
                    assert_eq!(location["logicalLocations"][0]["name"], binding.location.resource_id.as_str());
                }
                None => assert_eq!(location["logicalLocations"][0]["kind"], "module"),
            }
        }
    }

    // The schema is no rubber stamp.
    let mut log: Value = serde_json::from_str(&rendered(|o| render_sarif(live(), o))).unwrap();
    log["runs"][0]["results"][0]["level"] = "fatal".into();
    let file = scratch_file("sarif", "bad-level.sarif", &log.to_string());
    let errors = consumer_rejects(&["jsonschema", schema.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(errors.contains("level"), "{errors}");
}

/// The log is exactly what serde_json's pretty printer writes for it,
/// although its results are written one by one into their place.
#[test]
fn sarif_is_serde_jsons_pretty_text() {
    for (name, report) in reports() {
        let text = rendered(|o| render_sarif(&report, o));
        let log: Value = serde_json::from_str(&text).unwrap();
        assert!(!log["runs"][0]["results"].as_array().unwrap().is_empty(), "{name}");
        assert_eq!(text, serde_json::to_string_pretty(&log).unwrap() + "\n", "{name}");
    }
    let mut empty = live().clone();
    empty.findings.clear();
    let text = rendered(|o| render_sarif(&empty, o));
    assert_eq!(text, serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap() + "\n");
}

/// A SARIF log gathered as a run streams (results in any order, findings
/// about bindings as a whole at the end, the report then holding only the
/// findings not streamed) is byte for byte the whole report's log.
#[test]
fn streamed_sarif_is_the_whole_reports_log() {
    for (name, report) in reports() {
        let mut writer = SarifWriter::new();
        let kept = common::stream_scrambled(&report, &mut writer);
        let streamed = rendered(|o| writer.finish(&kept, o));
        assert_eq!(streamed, rendered(|o| render_sarif(&report, o)), "{name}");
    }
}

#[derive(serde::Deserialize, Debug)]
struct ParsedFamily {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    help: String,
    samples: Vec<ParsedSample>,
}

#[derive(serde::Deserialize, Debug)]
struct ParsedSample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[test]
fn prometheus_text_parses_with_the_reference_parser() {
    for (name, report) in reports() {
        let text = rendered(|o| render_prometheus(&report, o));
        let file = scratch_file("prometheus", &format!("{name}.prom"), &text);
        let families: Vec<ParsedFamily> =
            serde_json::from_str(&consumer(&["prometheus", file.to_str().unwrap()])).unwrap();
        let family = |n: &str| families.iter().find(|f| f.name == n).unwrap_or_else(|| panic!("{name}: no family {n}"));
        for f in &families {
            assert_eq!(f.kind, "gauge", "{}", f.name);
            assert!(!f.help.is_empty(), "{}", f.name);
            // No two series alike: duplicates make Prometheus drop the file.
            let series: BTreeSet<_> = f.samples.iter().map(|s| (&s.name, &s.labels)).collect();
            assert_eq!(series.len(), f.samples.len(), "{name}: duplicate series in {}", f.name);
        }

        let observations = observations(&report);
        let expiry = family("certinspect_certificate_expiry_seconds");
        let expired = family("certinspect_certificate_expired");
        let not_after = family("certinspect_certificate_not_after_seconds");
        let dated = observations
            .iter()
            .filter(|(i, r)| {
                r.is_some_and(|r| r.served.is_some()) || report.bindings[*i].binding.declared.not_after.is_some()
            })
            .count();
        assert_eq!(expiry.samples.len(), dated, "{name}");
        assert_eq!(expired.samples.len(), dated, "{name}");
        let served_count = observations.iter().filter(|(_, r)| r.is_some_and(|r| r.served.is_some())).count();
        assert_eq!(family("certinspect_certificate_last_seen_timestamp_seconds").samples.len(), served_count);
        assert_eq!(not_after.samples.len(), dated, "{name}");
        for (index, result) in &observations {
            let binding = &report.bindings[*index].binding;
            let Some(served) = result.and_then(|r| r.served.as_ref()) else { continue };
            let address = result.and_then(|r| r.address.clone()).unwrap();
            // Label values survive escaping: the account holds a quote, a
            // backslash and a newline.
            let sample = not_after
                .samples
                .iter()
                .find(|s| {
                    s.labels["resource"] == binding.location.resource_id
                        && s.labels["account"] == binding.location.account
                        && s.labels["address"] == address
                        && s.labels.get("binding").is_none_or(|b| *b == index.to_string())
                })
                .unwrap_or_else(|| panic!("{name}: no not_after series for binding {index} at {address}"));
            assert_eq!(sample.value, served.not_after as f64);
            assert_eq!(sample.labels["source"], "served");
            let same = |s: &&ParsedSample| s.labels == sample.labels;
            let left = expiry.samples.iter().find(same).unwrap().value;
            assert_eq!(left, (served.not_after - report.generated_at) as f64);
            assert_eq!(expired.samples.iter().find(same).unwrap().value, f64::from(u8::from(left <= 0.0)));
        }
        assert!(not_after.samples.iter().any(|s| s.labels["account"].contains("\"eu\", team\\west\nsecond")));

        // One-hot verdicts: one 1 per observation, and it is the verdict.
        let verdict = family("certinspect_binding_verdict");
        let ones: Vec<&ParsedSample> = verdict.samples.iter().filter(|s| s.value == 1.0).collect();
        assert_eq!(ones.len(), report.summary.results, "{name}");
        // One series per verdict (MATCH ... OBSERVED: seven) for each observation.
        assert_eq!(verdict.samples.len(), report.summary.results * 7);
        for (verdict_name, count) in &report.summary.verdicts {
            assert_eq!(ones.iter().filter(|s| &s.labels["verdict"] == verdict_name).count(), *count);
        }
        for s in &family("certinspect_findings").samples {
            let expected = report.summary.findings.get(&s.labels["severity"]).copied().unwrap_or(0);
            assert_eq!(s.value, expected as f64, "{name}: {:?}", s.labels);
        }
        let by_code: f64 = family("certinspect_findings_by_code").samples.iter().map(|s| s.value).sum();
        assert_eq!(by_code, report.findings.len() as f64);
        assert_eq!(family("certinspect_source_errors").samples[0].value, report.source_errors.len() as f64);
        assert_eq!(family("certinspect_scan_timestamp_seconds").samples[0].value, report.generated_at as f64);
        for s in &family("certinspect_source_up").samples {
            let failed = report.source_errors.iter().any(|e| e.plugin == s.labels["plugin"]);
            assert_eq!(s.value, if failed { 0.0 } else { 1.0 }, "{name}: {:?}", s.labels);
        }
    }
}

/// Debian's promtool, fetched once into the target directory when not installed.
fn promtool() -> &'static certinspect_testbed::prometheus::Tools {
    static TOOLS: OnceLock<certinspect_testbed::prometheus::Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        certinspect_testbed::prometheus::tools(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

#[test]
fn prometheus_text_passes_promtool_check_metrics() {
    for (name, report) in reports() {
        let text = rendered(|o| render_prometheus(&report, o));
        promtool().check_metrics(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// A run gathered through [`PrometheusSeries`] as the engine's observer
/// feeds it (results as they come, bindings not probed at the end; the
/// report then holds only the findings not streamed) writes the samples
/// `render_prometheus` writes from the whole report, and promtool takes it.
#[test]
fn streamed_prometheus_has_the_whole_reports_samples() {
    for (name, report) in reports() {
        let mut series = PrometheusSeries::new(&[]);
        let mut streamed_findings = 0;
        for (index, b) in report.bindings.iter().enumerate().rev() {
            if b.results.is_empty() {
                series.not_probed(index, &b.binding);
            }
            for result in &b.results {
                let about = |f: &&Finding| f.binding == Some(index) && f.address == result.address;
                let findings: Vec<Finding> = report
                    .findings
                    .iter()
                    .filter(about)
                    .filter(|f| !BINDING_FINDING_CODES.contains(&f.code))
                    .cloned()
                    .collect();
                streamed_findings += findings.len();
                series.result(index, &b.binding, result, &findings);
            }
        }
        assert!(streamed_findings > 0, "{name}");
        // What a streamed run's report keeps: no bindings, the other findings.
        let mut kept = report.clone();
        kept.bindings.clear();
        kept.findings.retain(|f| f.binding.is_none() || f.address.is_none() && BINDING_FINDING_CODES.contains(&f.code));
        let mut streamed = Vec::new();
        series.finish(&kept, &mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        let whole = rendered(|o| render_prometheus(&report, o));
        let sorted = |text: &str| {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            lines.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(sorted(&streamed), sorted(&whole), "{name}");
        promtool().check_metrics(&streamed).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn promtool_rejects_what_it_should() {
    // The consumer can fail: the exposition this project wrote before.
    let old =
        "# HELP certinspect_certificate_days_remaining Days.\n# TYPE certinspect_certificate_days_remaining gauge\n\
               certinspect_certificate_days_remaining 5\n";
    let said = promtool().check_metrics(old).unwrap_err();
    assert!(said.contains("base unit"), "{said}");
}

/// A continuous scan over `reports`, one after another.
fn watched(reports: Vec<Report>) -> certinspect_core::watch::Snapshot {
    let mut watch = certinspect_core::watch::Watch::new();
    for report in reports {
        watch.completed(report, std::time::Duration::from_millis(1500));
    }
    watch.snapshot()
}

#[test]
fn serve_remembers_what_a_silent_endpoint_served_and_promtool_accepts_it() {
    let first = live().clone();
    let (b, r) = first
        .bindings
        .iter()
        .enumerate()
        // A binding unlike any other (not one of two certificates one listener declares).
        .filter(|(_, binding)| {
            first.bindings.iter().filter(|o| o.binding.location == binding.binding.location).count() == 1
        })
        .find_map(|(b, binding)| binding.results.iter().position(|r| r.served.is_some()).map(|r| (b, r)))
        .expect("the live report has a served certificate");
    let served = first.bindings[b].results[r].served.clone().unwrap();
    // The next scan, a day later: that endpoint no longer answers.
    let mut second = first.clone();
    second.generated_at += 86_400;
    let silent = &mut second.bindings[b].results[r];
    silent.served = None;
    silent.chain = None;
    silent.name_match = None;
    silent.verdict = certinspect_core::reconcile::Verdict::Unreachable;
    // And the one after: the endpoint is still silent, still remembered
    // with the first scan's time; then it is gone from the cloud: forgotten.
    let mut third = second.clone();
    third.generated_at += 86_400;
    let mut gone = third.clone();
    gone.bindings.remove(b);
    let mut back = gone.clone();
    back.bindings.insert(b, second.bindings[b].clone());

    for (name, scans, remembered) in [
        ("one scan", vec![first.clone()], false),
        ("silent", vec![first.clone(), second.clone()], true),
        ("still silent", vec![first.clone(), second.clone(), third.clone()], true),
        ("forgotten", vec![first.clone(), second.clone(), gone, back], false),
    ] {
        let snapshot = watched(scans);
        let text = rendered(|o| certinspect_render::render_prometheus_snapshot(&snapshot, &[], o));
        promtool().check_metrics(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let last_seen: Vec<&str> =
            text.lines().filter(|l| !l.starts_with('#') && l.contains("source=\"last_seen\"")).collect();
        assert_eq!(snapshot.remembered.len(), usize::from(remembered), "{name}");
        if remembered {
            assert_eq!(snapshot.remembered[0].last.seen_at, first.generated_at, "{name}");
            assert_eq!(snapshot.remembered[0].last.served, served, "{name}");
            let not_after = last_seen.iter().find(|l| l.starts_with("certinspect_certificate_not_after_seconds{"));
            assert!(not_after.is_some_and(|l| l.ends_with(&format!(" {}", served.not_after))), "{name}:\n{text}");
            assert!(text.lines().any(|l| l.starts_with("certinspect_certificate_last_seen_timestamp_seconds{")
                && l.ends_with(&format!(" {}", first.generated_at))));
        } else {
            assert!(last_seen.is_empty(), "{name}:\n{text}");
        }
        assert!(text.contains("\ncertinspect_scan_duration_seconds 1.5\n"), "{name}");
        assert!(text.contains("\ncertinspect_scan_success 1\n"), "{name}");
    }

    // Before the first scan: health only, still a valid exposition.
    let empty = rendered(|o| {
        certinspect_render::render_prometheus_snapshot(&certinspect_core::watch::Watch::new().snapshot(), &[], o)
    });
    promtool().check_metrics(&empty).unwrap();
    assert!(empty.contains("\ncertinspect_scans_total 0\n") && !empty.contains("certinspect_certificate"));
}

#[test]
fn the_shipped_alert_rules_pass_promtool_and_name_only_real_metrics() {
    let rules = docs_dir().join("prometheus/alerts.yml");
    let said = promtool().check_rules(&rules).unwrap_or_else(|e| panic!("{e}"));
    assert!(said.contains("SUCCESS"), "{said}");
    let snapshot = watched(vec![common::fixture()]);
    let exposition = rendered(|o| certinspect_render::render_prometheus_snapshot(&snapshot, &[], o));
    let text = std::fs::read_to_string(&rules).unwrap();
    let mut named = BTreeSet::new();
    for (at, _) in text.match_indices("certinspect_") {
        let name: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        named.insert(name);
    }
    assert!(named.len() >= 6, "{named:?}");
    for name in named {
        assert!(exposition.contains(&format!("# TYPE {name} ")), "alerts.yml uses {name}, which is not exported");
    }
}

/// The live report with every other binding tagged (`owner` with a quote,
/// `cost-center`, and `other`, which is never chosen), and the chosen keys
/// (one no resource has).
fn tagged() -> (Report, [String; 3]) {
    let mut report = live().clone();
    for (index, b) in report.bindings.iter_mut().enumerate() {
        if index % 2 == 0 {
            b.binding.tags = [("owner", "team \"a\", ops"), ("cost-center", "=cc-1"), ("other", "x")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        }
    }
    (report, ["owner".to_owned(), "cost-center".to_owned(), "absent".to_owned()])
}

#[test]
fn chosen_tags_become_labels_that_promtool_accepts_and_json_keeps() {
    let (report, keys) = tagged();
    let text = rendered(|o| certinspect_render::render_prometheus_tagged(&report, &keys, o));
    promtool().check_metrics(&text).unwrap();
    let series: Vec<&str> =
        text.lines().filter(|l| l.starts_with("certinspect_certificate_not_after_seconds{")).collect();
    assert!(!series.is_empty());
    // Every certificate series carries every chosen tag (empty when the
    // resource has none); tags not chosen stay out.
    for line in &series {
        assert!(
            line.contains("tag_owner=\"") && line.contains("tag_cost_center=\"") && line.contains("tag_absent=\"\"")
        );
        assert!(!line.contains("tag_other"));
    }
    assert!(series.iter().any(|l| l.contains(r#"tag_owner="team \"a\", ops""#)), "{text}");
    assert!(text.lines().filter(|l| l.starts_with("certinspect_binding_verdict{")).all(|l| l.contains("tag_owner=")));
    assert_eq!(certinspect_render::tag_label_name("cost-center"), "tag_cost_center");
    assert_eq!(certinspect_render::tag_label_name("kubernetes.io/name"), "tag_kubernetes_io_name");
    // The JSON report keeps every tag, chosen or not, and the schema allows
    // them (checked on the fixture: the schema is the fixture's contract).
    let mut fixture = common::fixture();
    fixture.bindings[0].binding.tags = report.bindings[0].binding.tags.clone();
    let json = rendered(|o| render_json(&fixture, o));
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.bindings[0].binding.tags["other"], "x");
    let file = scratch_file("json", "tagged.json", &json);
    consumer(&["jsonschema", &schema_path(), file.to_str().unwrap(), "--strict"]);
}

#[test]
fn chosen_tags_become_csv_columns_after_the_fixed_ones() {
    let (report, keys) = tagged();
    let text = rendered(|o| certinspect_render::render_csv_tagged(&report, &keys, o));
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers[..CSV_COLUMNS.len()], *CSV_COLUMNS, "the fixed columns keep their places");
    assert_eq!(headers[CSV_COLUMNS.len()..], ["tag:owner", "tag:cost-center", "tag:absent"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let expected = csv_rows(&report);
    assert_eq!(rows.len(), expected.len());
    let column = |name: &str| headers.iter().position(|c| c == name).unwrap();
    for (row, (index, _, _)) in rows.iter().zip(&expected) {
        let tags = &report.bindings[*index].binding.tags;
        // The value as the cloud gave it (quote and comma intact; a
        // leading `=` escaped against formula injection, as every cell),
        // empty where the resource lacks the tag.
        for key in &keys {
            let expected = match tags.get(key).map(String::as_str) {
                Some(formula) if formula.starts_with('=') => format!("'{formula}"),
                value => value.unwrap_or_default().to_owned(),
            };
            assert_eq!(row[column(&format!("tag:{key}"))], expected, "{key}");
        }
    }
    assert!(rows.iter().any(|r| &r[column("tag:cost-center")] == "'=cc-1"));
    assert!(rows.iter().any(|r| &r[column("tag:owner")] == "team \"a\", ops"));
    assert!(rows.iter().any(|r| r[column("tag:owner")].is_empty()));
    // Without chosen tags the header is exactly the fixed one.
    let plain = rendered(|o| render_csv(&report, o));
    assert_eq!(plain.lines().next().unwrap(), CSV_COLUMNS.join(","));
}
