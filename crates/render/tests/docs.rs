//! docs/REPORT.md documents every finding code of the engine's catalogue
//! (in its order, with its severity), every CSV column and every metric.

mod common;

use certinspect_render::{render_prometheus, FindingCode, CSV_COLUMNS};

fn report_md() -> String {
    std::fs::read_to_string(common::docs_dir().join("REPORT.md")).unwrap()
}

/// The codes of the finding-code table in docs/REPORT.md, in its order.
fn documented_codes(doc: &str) -> Vec<String> {
    let section = &doc[doc.find("### Finding codes").expect("REPORT.md has a finding codes section")..];
    section
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `").and_then(|rest| rest.split('`').next()).map(str::to_owned))
        .collect()
}

#[test]
fn report_md_lists_exactly_the_catalogue_in_its_order() {
    let ours: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented_codes(&report_md()), ours, "update docs/REPORT.md's finding codes table");
}

#[test]
fn report_md_documents_every_code_with_its_severity() {
    let doc = report_md();
    for code in FindingCode::ALL {
        let info = code.info();
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{code}` |")))
            .unwrap_or_else(|| panic!("docs/REPORT.md has no table row for `{code}`"));
        assert!(row.contains(info.default_severity.as_str()), "{row}");
    }
}

#[test]
fn report_md_documents_every_csv_column_and_metric() {
    let doc = report_md();
    for column in CSV_COLUMNS {
        assert!(doc.contains(&format!("| `{column}` |")), "CSV column `{column}` is not documented");
    }
    let text = common::rendered(|o| render_prometheus(&common::fixture(), o));
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(doc.contains(&format!("`{name}")), "metric {name} is not documented");
    }
}
