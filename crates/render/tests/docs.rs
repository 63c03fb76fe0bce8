//! The code list the renderers carry stays in step with the engine's codes,
//! and docs/REPORT.md documents every code, CSV column and metric.

mod common;

use certinspect_render::{render_prometheus, CSV_COLUMNS, FINDING_CODES};

/// The string constants of `certinspect_core::findings::code`, read from
/// its source: the module has no list of its own to compare with.
fn engine_codes() -> Vec<String> {
    let source = std::fs::read_to_string(common::crate_dir().join("../core/src/findings.rs")).unwrap();
    let module = &source[source.find("pub mod code {").expect("findings.rs has `pub mod code`")..];
    let module = &module[..module.find("\n}").unwrap()];
    module
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub const "))
        .map(|rest| rest.split('"').nth(1).expect("pub const X: &str = \"code\";").to_owned())
        .collect()
}

fn report_md() -> String {
    std::fs::read_to_string(common::docs_dir().join("REPORT.md")).unwrap()
}

#[test]
fn every_engine_code_is_known_here_in_the_same_order() {
    let ours: Vec<&str> = FINDING_CODES.iter().map(|c| c.code).collect();
    assert_eq!(ours, engine_codes(), "update crates/render/src/codes.rs and docs/REPORT.md");
}

#[test]
fn report_md_documents_every_code_with_its_severity() {
    let doc = report_md();
    for info in FINDING_CODES {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", info.code)))
            .unwrap_or_else(|| panic!("docs/REPORT.md has no table row for `{}`", info.code));
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
