//! The human table: a snapshot of the fixture's table (colour off), and
//! the properties that must hold for any report.

mod common;

use certinspect_core::findings::Severity;
use certinspect_render::{render_table, RenderOptions, TableWriter};

fn table(options: &RenderOptions) -> String {
    let report = common::fixture();
    common::rendered(|o| render_table(&report, options, o))
}

/// Strip ANSI SGR sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `CERTINSPECT_UPDATE_SNAPSHOTS=1` rewrites the expected text; review the
/// diff before committing it.
#[test]
fn table_matches_the_snapshot() {
    let actual = table(&RenderOptions::default());
    certinspect_test_support::assert_snapshot(&common::data("report.table.txt"), &actual);
}

/// A table gathered as a run streams (results in any order, findings about
/// bindings as a whole and bindings not probed at the end, the report then
/// holding only the findings not streamed) is byte for byte the whole
/// report's table, whatever the colour, width, tags and verbosity.
#[test]
fn streamed_table_is_the_whole_reports_table() {
    let mut report = common::fixture();
    for b in report.bindings.iter_mut().step_by(2) {
        b.binding.tags = [("owner".to_owned(), "team\na".to_owned())].into();
    }
    let tags = vec!["owner".to_owned(), "absent".to_owned()];
    let mut streamed_rows = 0;
    for (color, verbose, width, tags) in
        [(false, false, 100, vec![]), (true, true, 80, tags.clone()), (false, false, 0, tags)]
    {
        let options = RenderOptions { color, verbose, width, tags };
        let mut writer = TableWriter::new(&options);
        let kept = common::stream_scrambled(&report, &mut writer);
        let streamed = common::rendered(|o| writer.finish(&kept, o));
        let whole = common::rendered(|o| render_table(&report, &options, o));
        assert_eq!(streamed, whole, "{options:?}");
        streamed_rows += whole.lines().count();
    }
    assert!(streamed_rows > 30);
}

#[test]
fn table_fits_the_width_and_colour_is_only_decoration() {
    for width in [100, 80, 120] {
        let plain = table(&RenderOptions { width, ..RenderOptions::default() });
        assert!(!plain.contains('\x1b'), "no escape codes without colour");
        for line in plain.lines() {
            assert!(line.chars().count() <= width, "{width} columns exceeded: {line:?}");
            assert_eq!(line.trim_end(), line, "trailing blanks: {line:?}");
        }
        let colored = table(&RenderOptions { width, color: true, ..RenderOptions::default() });
        assert!(colored.contains("\x1b[1;31mCRITICAL\x1b[0m"));
        assert_eq!(strip_ansi(&colored), plain);
    }
    // Unlimited width: nothing is cut.
    let wide = table(&RenderOptions { width: 0, ..RenderOptions::default() });
    assert!(!wide.contains('…'));
    assert!(wide.contains("a-rather-long-subdomain-name-for-truncation.eu-central-1.cdn.example.test:443"));
}

#[test]
fn findings_run_most_severe_first_and_info_is_counted_unless_verbose() {
    let report = common::fixture();
    let info = report.findings.iter().filter(|f| f.severity == Severity::Info).count();
    assert!(info > 0, "the fixture has an info finding");
    let plain = table(&RenderOptions::default());
    assert!(!plain.contains("\nINFO "));
    assert!(plain.contains(&format!("+ {info} info finding")));

    let verbose = table(&RenderOptions { verbose: true, width: 0, ..RenderOptions::default() });
    let severities: Vec<&str> = verbose
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"].contains(w))
        .collect();
    assert_eq!(severities.len(), report.findings.len());
    let rank = |s: &str| ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"].iter().position(|x| *x == s).unwrap();
    assert!(severities.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "{severities:?}");
    assert!(verbose.contains("not-probeable"));
    assert!(!verbose.contains("info finding"));
}

#[test]
fn cloud_text_cannot_break_rows_or_drive_the_terminal() {
    let mut report = common::fixture();
    report.bindings[0].binding.location.resource_id = "evil\n\x1b[2Jid".into();
    let text = common::rendered(|o| render_table(&report, &RenderOptions { width: 0, ..RenderOptions::default() }, o));
    assert!(!text.contains('\x1b'));
    assert!(text.contains("evil\\n\\u{1b}[2Jid"));
}

#[test]
fn chosen_tags_become_columns_that_still_fit_the_width() {
    let mut report = common::fixture();
    report.bindings[0].binding.tags = [("owner".to_owned(), "payments-team".to_owned())].into();
    let tags = vec!["owner".to_owned(), "absent".to_owned()];
    let wide = common::rendered(|o| {
        render_table(&report, &RenderOptions { width: 0, tags: tags.clone(), ..Default::default() }, o)
    });
    let header = wide.lines().find(|l| l.starts_with("SERVICE")).unwrap();
    let headers: Vec<&str> = header.split_whitespace().collect();
    assert!(headers.ends_with(&["DAYS", "TAG:owner", "TAG:absent"]), "{header}");
    // The tagged binding's rows show the value; the others an empty cell.
    let resource = &report.bindings[0].binding.location.resource_id;
    let rows: Vec<&str> = wide.lines().skip_while(|l| !l.starts_with("SERVICE")).skip(1).collect();
    let tagged: Vec<&&str> = rows.iter().filter(|l| l.contains("payments-team")).collect();
    assert!(!tagged.is_empty() && tagged.iter().all(|l| l.contains(resource.as_str())), "{wide}");
    assert!(rows.iter().any(|l| !l.contains("payments-team")));
    // Columns shrink to their minimums and no further: 100 columns hold
    // two tag columns, 80 one.
    for (width, tags) in [(100, &tags[..]), (80, &tags[..1])] {
        let text = common::rendered(|o| {
            render_table(&report, &RenderOptions { width, tags: tags.to_vec(), ..Default::default() }, o)
        });
        assert!(text.lines().all(|l| l.chars().count() <= width), "{text}");
        assert!(text.contains("TAG:"));
    }
}
