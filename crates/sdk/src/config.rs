//! Reading a plugin's configuration section into a typed value.
//!
//! [`parse`] deserialises the section (JSON, whatever the host read it
//! from) into any `serde` type and turns a failure into
//! [`PluginError::invalid_config`] naming the field by its path
//! (`credentials.profile`, `regions[2]`), so every plugin reports bad
//! configuration the same way. Put `#[serde(deny_unknown_fields)]` on the
//! type so that a misspelt key is an error rather than a silently ignored
//! setting. The checks serde cannot express (ranges, one-of choices,
//! non-empty text) are the small functions below, which name the field the
//! same way.

use std::fmt::Display;
use std::ops::RangeInclusive;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::PluginError;

/// The section `config` as a `T`. An absent section (`null`) reads as an
/// empty table, so a type whose fields all have defaults needs none.
pub fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, PluginError> {
    let config = match config {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => config.clone(),
        // serde would read a list into a struct field by field.
        _ => return Err(invalid("", "expected a table of settings")),
    };
    serde_path_to_error::deserialize(config).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = error.into_inner().to_string();
        match field_named_in(&message) {
            // serde names the key in the message; the path may or may not
            // end with it.
            Some((key, sentence)) => invalid(&join(&path, key), &sentence),
            None => invalid(&path, &message),
        }
    })
}

/// `field: message` as an invalid-configuration error (`message` alone when
/// the field is the whole section).
pub fn invalid(field: &str, message: &str) -> PluginError {
    if field.is_empty() {
        PluginError::invalid_config(message.to_owned())
    } else {
        PluginError::invalid_config(format!("{field}: {message}"))
    }
}

/// Trimmed `value`, refusing a blank one.
pub fn non_empty(field: &str, value: Option<String>) -> Result<Option<String>, PluginError> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() => Err(invalid(field, "expected a non-empty string")),
        other => Ok(other),
    }
}

/// `value`, refusing one outside `range`.
pub fn within<T: PartialOrd + Display>(
    field: &str,
    value: Option<T>,
    range: RangeInclusive<T>,
) -> Result<Option<T>, PluginError> {
    match value {
        Some(v) if !range.contains(&v) => {
            Err(invalid(field, &format!("expected an integer from {} to {}, found {v}", range.start(), range.end())))
        }
        other => Ok(other),
    }
}

/// A non-empty list whose every entry is one of `allowed` (any non-empty
/// text when `allowed` is empty); entries are trimmed.
pub fn list_of(field: &str, value: Option<Vec<String>>, allowed: &[&str]) -> Result<Option<Vec<String>>, PluginError> {
    let Some(items) = value else { return Ok(None) };
    if items.is_empty() {
        return Err(invalid(field, "expected at least one entry"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let here = format!("{field}[{index}]");
        let Some(item) = non_empty(&here, Some(item))? else { continue };
        if !allowed.is_empty() && !allowed.contains(&item.as_str()) {
            return Err(invalid(&here, &format!("expected one of {}, found \"{item}\"", allowed.join(", "))));
        }
        out.push(item);
    }
    Ok(Some(out))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else if path == key || path.ends_with(&format!(".{key}")) {
        path.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// serde's "unknown field `k`, expected ..." and "missing field `k`" as the
/// key and a sentence in this module's words.
fn field_named_in(message: &str) -> Option<(&str, String)> {
    let key_in = |rest: &'static str| message.strip_prefix(rest).and_then(|m| m.split('`').next());
    if let Some(key) = key_in("unknown field `") {
        let expected = message.split_once(", expected ").map(|(_, e)| e.replace('`', "")).unwrap_or_default();
        let sentence = match expected.as_str() {
            "" => "unknown setting".to_owned(),
            e => format!("unknown setting; expected {e}"),
        };
        return Some((key, sentence));
    }
    key_in("missing field `").map(|key| (key, "missing; this setting is required".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        url: String,
        #[serde(default)]
        regions: Vec<String>,
        #[serde(default)]
        limits: Option<Limits>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Limits {
        attempts: u32,
    }

    #[test]
    fn errors_name_the_field_by_its_path() {
        let cases = [
            (json!({}), "url: missing; this setting is required"),
            (json!({"url": 5}), "url: invalid type: integer `5`, expected a string"),
            (json!({"url": "u", "regions": ["a", 7]}), "regions[1]: invalid type: integer `7`"),
            (json!({"url": "u", "limits": {"attempts": -1}}), "limits.attempts: invalid value: integer `-1`"),
            (json!({"url": "u", "limits": {"atempts": 1}}), "limits.atempts: unknown setting; expected attempts"),
            (json!({"url": "u", "zone": 1}), "zone: unknown setting; expected one of url, regions, limits"),
            (json!([1]), "expected a table of settings"),
        ];
        for (config, expected) in cases {
            let error = parse::<Settings>(&config).unwrap_err();
            assert_eq!(error.kind, crate::error_kind::INVALID_CONFIG);
            assert!(error.message.starts_with(expected), "{config}: {}", error.message);
        }
        assert_eq!(parse::<Settings>(&json!({"url": "u"})).unwrap().url, "u");
    }

    #[test]
    fn an_absent_section_is_an_empty_table() {
        #[derive(Deserialize, Default)]
        struct Nothing {
            #[serde(default)]
            label: Option<String>,
        }
        assert_eq!(parse::<Nothing>(&Value::Null).unwrap().label, None);
    }

    #[test]
    fn checks_serde_cannot_express_name_the_field() {
        assert_eq!(non_empty("a", Some(" x ".into())).unwrap().as_deref(), Some("x"));
        assert_eq!(non_empty("a", Some("  ".into())).unwrap_err().message, "a: expected a non-empty string");
        assert_eq!(within("n", Some(0), 1..=10).unwrap_err().message, "n: expected an integer from 1 to 10, found 0");
        assert_eq!(within("n", Some(3), 1..=10).unwrap(), Some(3));
        let list = |items: &[&str]| Some(items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(list_of("s", list(&[]), &[]).unwrap_err().message, "s: expected at least one entry");
        assert_eq!(
            list_of("s", list(&["x", "q"]), &["x"]).unwrap_err().message,
            "s[1]: expected one of x, found \"q\""
        );
        assert_eq!(list_of("s", list(&[" x"]), &["x"]).unwrap(), list(&["x"]));
    }
}
