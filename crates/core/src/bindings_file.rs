//! Reading bindings from a file: what `inspect probe --declared FILE`
//! compares served certificates with, without any cloud.
//!
//! One reader for every shape the tool writes or a person types:
//! - a JSON report (`bindings[].binding`), an inventory (`bindings[]`), or
//!   a JSON array of bindings;
//! - JSON Lines: the report's `result` events (one binding per `binding`
//!   index) or one binding per line; `finding` and `summary` lines are
//!   skipped; an `inventory` line (`inspect inventory --format jsonl`
//!   starts with one) carries the inventory's id, binding count and source
//!   errors, and the file must then hold exactly that;
//! - CSV with the header `host,port,sni,sha256` (a file ending in `.csv`):
//!   one bare endpoint per row, declared by its SHA-256 fingerprint.
//!
//! Pure parsing ([`parse_inventory`]) apart from reading the file; the
//! same reader serves `inspect probe --declared` and `inspect scan
//! --from-inventory`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use certinspect_protocol::{Binding, Fingerprint};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::collect::{CollectError, SourceStats};
use crate::shard::inventory_id;
use crate::verify::bare_endpoint;

/// Version of the inventory header (`inspect inventory --format jsonl`).
pub const INVENTORY_SCHEMA_VERSION: u32 = 1;

/// Bindings read from a file, with what the inventory that wrote them
/// says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct InventoryFile {
    /// The inventory's id ([`inventory_id`] of what was read; a file that
    /// states an id must hold exactly what it names).
    pub id: String,
    /// The bindings, in file order.
    pub bindings: Vec<Binding>,
    /// Sources the inventory could not list completely.
    pub source_errors: Vec<CollectError>,
    /// Warnings the sources gave on their pages.
    pub source_warnings: Vec<CollectError>,
    /// Per-source counts of the listing.
    pub source_stats: Vec<SourceStats>,
}

/// The first line of an inventory in JSON Lines; one binding per line follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InventoryHeader {
    /// Always `inventory`.
    #[serde(rename = "type")]
    pub kind: String,
    /// [`INVENTORY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`inventory_id`] of the bindings and source errors.
    pub id: String,
    /// certinspect version that wrote it.
    pub tool_version: String,
    /// How many binding lines follow.
    pub binding_count: usize,
    /// Sources that could not be listed completely.
    #[serde(default)]
    pub source_errors: Vec<CollectError>,
    /// Warnings the sources gave on their pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_warnings: Vec<CollectError>,
    /// Per-source counts.
    #[serde(default)]
    pub source_stats: Vec<SourceStats>,
}

impl InventoryHeader {
    /// The header of an inventory of `bindings`.
    pub fn new(bindings: &[Binding], source_errors: &[CollectError], source_stats: &[SourceStats]) -> Self {
        Self {
            kind: "inventory".into(),
            schema_version: INVENTORY_SCHEMA_VERSION,
            id: inventory_id(bindings, source_errors),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            binding_count: bindings.len(),
            source_errors: source_errors.to_vec(),
            source_warnings: Vec::new(),
            source_stats: source_stats.to_vec(),
        }
    }
}

/// A bindings file that cannot be used: which file, which line, what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
#[non_exhaustive]
pub struct BindingsFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// The bindings in the file at `path`.
pub fn read_bindings(path: &Path) -> Result<Vec<Binding>, BindingsFileError> {
    read_inventory(path).map(|inventory| inventory.bindings)
}

/// The bindings in the file at `path` (`-`: standard input) and what the
/// inventory says about itself.
pub fn read_inventory(path: &Path) -> Result<InventoryFile, BindingsFileError> {
    let error = |line, message| BindingsFileError { path: path.to_owned(), line, message };
    let cannot_read = |e: std::io::Error| format!("cannot read the file: {e}");
    let mut reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(BufReader::new(std::fs::File::open(path).map_err(|e| error(None, cannot_read(e)))?))
    };
    let mut first = String::new();
    reader.read_line(&mut first).map_err(|e| error(None, cannot_read(e)))?;
    // An inventory in JSON Lines (what `inspect inventory --format jsonl`
    // writes, fleet-sized) is parsed line by line as it is read, so its
    // text is never held whole beside its bindings.
    if is_inventory_header(&first) {
        let lines = std::iter::once(Ok(first)).chain(reader.lines().map(|line| line.map_err(cannot_read)));
        return parse_json_lines(lines)
            .and_then(|(stated, inventory)| checked(stated, inventory))
            .map_err(|(line, message)| error(line, message));
    }
    let mut text = first;
    reader.read_to_string(&mut text).map_err(|e| error(None, cannot_read(e)))?;
    let csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    parse_inventory(&text, csv).map_err(|(line, message)| error(line, message))
}

/// Whether `line` is the header line of an inventory in JSON Lines.
fn is_inventory_header(line: &str) -> bool {
    serde_json::from_str::<Value>(line.trim()).is_ok_and(|value| value.get("type") == Some(&Value::from("inventory")))
}

/// The bindings in `text`: CSV when `csv`, else JSON or JSON Lines. An
/// error is `(line, message)`.
pub fn parse_bindings(text: &str, csv: bool) -> Result<Vec<Binding>, (Option<usize>, String)> {
    parse_inventory(text, csv).map(|inventory| inventory.bindings)
}

/// [`parse_bindings`], with the inventory's id, source errors and counts.
/// A file that states an id or a count it does not hold (truncated,
/// edited) is refused.
pub fn parse_inventory(text: &str, csv: bool) -> Result<InventoryFile, (Option<usize>, String)> {
    let (stated, inventory) = if csv {
        (None, InventoryFile { bindings: parse_csv(text)?, ..InventoryFile::default() })
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(document) => from_document(document).map_err(|message| (None, message))?,
            Err(_) => parse_json_lines(text.lines().map(Ok::<_, String>))?,
        }
    };
    checked(stated, inventory)
}

/// `inventory` with its id, refused when it does not hold what its
/// `stated` header says.
fn checked(
    stated: Option<InventoryHeader>,
    mut inventory: InventoryFile,
) -> Result<InventoryFile, (Option<usize>, String)> {
    inventory.id = inventory_id(&inventory.bindings, &inventory.source_errors);
    if let Some(header) = stated {
        if header.binding_count != inventory.bindings.len() {
            return Err((
                None,
                format!(
                    "the inventory announces {} bindings but holds {} (truncated?)",
                    header.binding_count,
                    inventory.bindings.len()
                ),
            ));
        }
        if header.id != inventory.id {
            return Err((None, format!("the inventory's content does not match its id {} (edited?)", header.id)));
        }
    }
    Ok(inventory)
}

/// A report, an inventory, or an array of bindings; the stated header of
/// an inventory (`id` next to `bindings`).
fn from_document(document: Value) -> Result<(Option<InventoryHeader>, InventoryFile), String> {
    let mut inventory = InventoryFile::default();
    let mut stated = None;
    let items = match document {
        Value::Array(items) => items,
        Value::Object(mut object) => {
            let items = match object.remove("bindings") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(
                        "expected a report or inventory (an object with `bindings`) or an array of bindings".into()
                    )
                }
            };
            // An inventory (not a report, whose errors are already findings) carries its listing's errors.
            if !object.contains_key("findings") {
                let field = |name: &str| object.get(name).cloned().unwrap_or(Value::Array(Vec::new()));
                inventory.source_errors =
                    serde_json::from_value(field("source_errors")).map_err(|e| format!("source_errors: {e}"))?;
                inventory.source_warnings =
                    serde_json::from_value(field("source_warnings")).map_err(|e| format!("source_warnings: {e}"))?;
                inventory.source_stats =
                    serde_json::from_value(field("source_stats")).map_err(|e| format!("source_stats: {e}"))?;
                if let Some(id) = object.get("id").and_then(Value::as_str) {
                    let mut header = InventoryHeader::new(&[], &[], &[]);
                    header.id = id.to_owned();
                    header.binding_count = items.len();
                    stated = Some(header);
                }
            }
            items
        }
        _ => return Err("expected a JSON object or array".into()),
    };
    inventory.bindings = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            // A report wraps each binding with its results.
            let binding = match item {
                Value::Object(mut entry) if entry.contains_key("results") => {
                    entry.remove("binding").unwrap_or_default()
                }
                other => other,
            };
            serde_json::from_value(binding).map_err(|e| format!("bindings[{index}]: {e}"))
        })
        .collect::<Result<_, _>>()?;
    Ok((stated, inventory))
}

type JsonLinesInventory = (Option<InventoryHeader>, InventoryFile);

fn parse_json_lines<L: AsRef<str>>(
    lines: impl Iterator<Item = Result<L, String>>,
) -> Result<JsonLinesInventory, (Option<usize>, String)> {
    // Result events repeat a binding once per address: keep one per index.
    let mut by_index: BTreeMap<u64, Binding> = BTreeMap::new();
    let mut plain = Vec::new();
    let mut header: Option<InventoryHeader> = None;
    for (number, line) in lines.enumerate().map(|(i, l)| (i + 1, l)) {
        let line = line.map_err(|message| (Some(number), message))?;
        let line = line.as_ref().trim();
        if line.is_empty() {
            continue;
        }
        let mut value: Value = serde_json::from_str(line)
            .map_err(|e| (Some(number), format!("not JSON ({e}); expected one binding or report event per line")))?;
        let invalid = |e: serde_json::Error| (Some(number), format!("not a binding: {e}"));
        match value.get("type").and_then(Value::as_str) {
            Some("result") => {
                let index =
                    value["binding"].as_u64().ok_or((Some(number), "a result line without `binding`".into()))?;
                if let Some(object) = value.as_object_mut() {
                    object.remove("type");
                    object.remove("binding");
                    object.remove("result");
                }
                by_index.insert(index, serde_json::from_value(value).map_err(invalid)?);
            }
            Some("inventory") if number == 1 => {
                let stated: InventoryHeader = serde_json::from_value(value)
                    .map_err(|e| (Some(number), format!("not an inventory header: {e}")))?;
                // The count is checked once all is read; a wrong one must
                // not reserve much.
                plain.reserve(stated.binding_count.min(1 << 20));
                header = Some(stated);
            }
            Some("inventory") => return Err((Some(number), "an inventory header must be the first line".into())),
            Some("finding" | "summary") => {}
            Some(other) => return Err((Some(number), format!("unknown line type '{other}'"))),
            None => plain.push(serde_json::from_value(value).map_err(invalid)?),
        }
    }
    plain.extend(by_index.into_values());
    let inventory = InventoryFile {
        bindings: plain,
        source_errors: header.as_ref().map(|h| h.source_errors.clone()).unwrap_or_default(),
        source_warnings: header.as_ref().map(|h| h.source_warnings.clone()).unwrap_or_default(),
        source_stats: header.as_ref().map(|h| h.source_stats.clone()).unwrap_or_default(),
        ..InventoryFile::default()
    };
    Ok((header, inventory))
}

const CSV_HEADER: [&str; 4] = ["host", "port", "sni", "sha256"];

fn parse_csv(text: &str) -> Result<Vec<Binding>, (Option<usize>, String)> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty());
    let header: Vec<&str> = lines.next().map(|(_, l)| l.split(',').map(str::trim).collect()).unwrap_or_default();
    if header != CSV_HEADER {
        return Err((Some(1), format!("expected the header `{}`", CSV_HEADER.join(","))));
    }
    lines
        .map(|(number, line)| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let [host, port, sni, sha256] = cells[..] else {
                return Err((
                    Some(number),
                    format!("expected 4 cells ({}), found {}", CSV_HEADER.join(","), cells.len()),
                ));
            };
            if host.is_empty() {
                return Err((Some(number), "empty host".into()));
            }
            let port = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| (Some(number), format!("'{port}' is not a port (1-65535)")))?;
            let hex: String = sha256.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err((Some(number), "sha256: expected 64 hex digits (colons allowed)".into()));
            }
            let sni = if sni.is_empty() { None } else { Some(sni.to_owned()) };
            let mut binding = bare_endpoint(host, port, sni);
            binding.declared.fingerprints = vec![Fingerprint::new("sha256", &hex)];
            Ok(binding)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";

    fn endpoint_of(binding: &Binding) -> (String, u16, Option<String>) {
        let e = binding.location.endpoint.as_ref().unwrap();
        (e.host.clone(), e.port, e.sni.clone())
    }

    #[test]
    fn csv_rows_become_declared_endpoints() {
        let text = format!("host,port,sni,sha256\na.test,443,,{SHA}\nb.test,8443,c.test,{}\n", SHA.to_uppercase());
        let bindings = parse_bindings(&text, true).unwrap();
        assert_eq!(endpoint_of(&bindings[0]), ("a.test".into(), 443, None));
        assert_eq!(endpoint_of(&bindings[1]), ("b.test".into(), 8443, Some("c.test".into())));
        assert_eq!(bindings[1].declared.fingerprint("sha256"), Some(SHA));
    }

    #[test]
    fn bad_csv_names_the_line_and_the_expectation() {
        let cases = [
            ("host,port\n", 1, "expected the header `host,port,sni,sha256`"),
            ("host,port,sni,sha256\na.test,443,,\n", 2, "sha256: expected 64 hex digits"),
            ("host,port,sni,sha256\n\na.test,http,,x\n", 3, "'http' is not a port"),
            ("host,port,sni,sha256\na.test,443\n", 2, "expected 4 cells"),
        ];
        for (text, line, message) in cases {
            let (at, said) = parse_bindings(text, true).unwrap_err();
            assert_eq!(at, Some(line), "{text}");
            assert!(said.starts_with(message), "{said}");
        }
    }

    #[test]
    fn reports_inventories_and_arrays_give_their_bindings() {
        let binding = serde_json::to_value(bare_endpoint("a.test", 443, None)).unwrap();
        let report = serde_json::json!({ "schema_version": 2, "bindings": [{ "binding": binding, "results": [] }] });
        let inventory = serde_json::json!({ "bindings": [binding] });
        let array = serde_json::json!([binding]);
        for document in [report, inventory, array] {
            let bindings = parse_bindings(&document.to_string(), false).unwrap();
            assert_eq!(bindings.len(), 1, "{document}");
            assert_eq!(endpoint_of(&bindings[0]).0, "a.test");
        }
        assert!(parse_bindings("{\"findings\": []}", false).unwrap_err().1.contains("with `bindings`"));
    }

    #[test]
    fn json_lines_keep_one_binding_per_index() {
        let mut result = serde_json::to_value(bare_endpoint("a.test", 443, None)).unwrap();
        result["type"] = "result".into();
        result["binding"] = 0.into();
        result["result"] = serde_json::Value::Null;
        let plain = serde_json::to_value(bare_endpoint("b.test", 443, None)).unwrap();
        let text = format!("{result}\n{result}\n{{\"type\":\"finding\"}}\n{plain}\n{{\"type\":\"summary\"}}\n");
        let hosts: Vec<String> = parse_bindings(&text, false).unwrap().iter().map(|b| endpoint_of(b).0).collect();
        assert_eq!(hosts, ["b.test", "a.test"]);
        let (line, message) = parse_bindings(&format!("{plain}\nnot json\n"), false).unwrap_err();
        assert_eq!(line, Some(2));
        assert!(message.starts_with("not JSON"), "{message}");
    }

    /// An inventory in JSON Lines is read line by line from its file; what
    /// it gives, and what it refuses at which line, is what the text gives.
    #[test]
    fn an_inventory_read_from_its_file_is_its_text_parsed() {
        let bindings = vec![bare_endpoint("a.test", 443, None), bare_endpoint("b.test", 8443, Some("c.test".into()))];
        let header = serde_json::to_string(&InventoryHeader::new(&bindings, &[], &[])).unwrap();
        let lines: Vec<String> = bindings.iter().map(|b| serde_json::to_string(b).unwrap()).collect();
        let path = std::env::temp_dir().join(format!("certinspect-inventory-{}.jsonl", std::process::id()));
        let cases = [
            (format!("{header}\n{}\n{}\n", lines[0], lines[1]), None),
            (format!("{header}\r\n\r\n{}\r\n{}", lines[0], lines[1]), None),
            (format!("{header}\n{}\nnot json\n", lines[0]), Some((Some(3), "not JSON"))),
            (format!("{header}\n{}\n", lines[0]), Some((None, "announces 2 bindings but holds 1"))),
            (format!("{header}\n{}\n{}\n", lines[1], lines[0]), Some((None, "does not match its id"))),
        ];
        for (text, refused) in cases {
            std::fs::write(&path, &text).unwrap();
            let read = read_inventory(&path);
            let parsed = parse_inventory(&text, false);
            match refused {
                None => {
                    let read = read.unwrap();
                    assert_eq!(read.bindings, bindings);
                    assert_eq!(Ok(read), parsed);
                }
                Some((line, message)) => {
                    let error = read.unwrap_err();
                    assert_eq!((error.line, parsed.unwrap_err().0), (line, line), "{text}");
                    assert!(error.message.contains(message), "{}", error.message);
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}
