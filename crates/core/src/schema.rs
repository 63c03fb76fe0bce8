//! Validation of a plugin's configuration against the JSON Schema it
//! publishes in `PluginInfo::config_schema`.
//!
//! The subset of JSON Schema that configuration schemas use: `type` (one or
//! a list), `properties`, `required`, `additionalProperties` (boolean or a
//! schema), `items`, `enum`, `const`, `minimum`/`maximum`,
//! `minLength`/`maxLength`, `minItems`/`maxItems`, `oneOf`/`anyOf`. Keywords
//! outside the subset are ignored, never guessed at. Errors name the field by
//! its path (`regions[1]`, `credentials.profile`) and say what was expected.

use serde_json::Value;

/// One violation: the path of the offending value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Path in the configuration, e.g. `credentials.profile` or `regions[2]`;
    /// empty for the top level.
    pub path: String,
    /// One line.
    pub message: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl SchemaError {
    /// The path as segments (`a.b[2].c` -> `["a", "b", "2", "c"]`), to
    /// locate the value in the document it came from.
    pub fn path_segments(&self) -> Vec<String> {
        split_path(&self.path)
    }
}

/// `a.b[2].c` -> `["a", "b", "2", "c"]`.
fn split_path(path: &str) -> Vec<String> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .flat_map(|part| {
            let mut pieces = Vec::new();
            let mut rest = part;
            if let Some(open) = rest.find('[') {
                pieces.push(rest[..open].to_owned());
                rest = &rest[open..];
                while let Some(close) = rest.find(']') {
                    pieces.push(rest[1..close].to_owned());
                    rest = &rest[close + 1..];
                }
            } else {
                pieces.push(rest.to_owned());
            }
            pieces
        })
        .collect()
}

/// Every violation of `schema` by `value`, in document order.
pub fn validate(schema: &Value, value: &Value) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors);
    errors
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<SchemaError>) {
    let Some(schema) = schema.as_object() else {
        // `true`/absent schemas accept everything; `false` nothing.
        if schema == &Value::Bool(false) {
            errors.push(error(path, "no value is allowed here"));
        }
        return;
    };
    if let Some(expected) = schema.get("type") {
        let names: Vec<&str> = match expected {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !names.is_empty() && !names.iter().any(|name| has_type(value, name)) {
            errors.push(error(path, &format!("expected {}, found {}", names.join(" or "), describe(value))));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            errors.push(error(path, &format!("expected one of {}, found {value}", list.join(", "))));
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            errors.push(error(path, &format!("expected {constant}, found {value}")));
        }
    }
    for (keyword, pick) in [("oneOf", Pick::ExactlyOne), ("anyOf", Pick::AtLeastOne)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let passing = options.iter().filter(|option| validate(option, value).is_empty()).count();
            let ok = match pick {
                Pick::ExactlyOne => passing == 1,
                Pick::AtLeastOne => passing >= 1,
            };
            if !ok {
                let described: Vec<String> = options.iter().map(summary).collect();
                errors.push(error(path, &format!("expected {}", described.join(" or "))));
            }
        }
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !map.contains_key(name) {
                    errors.push(error(&join(path, name), "is required but missing"));
                }
            }
            for (name, item) in map {
                let item_path = join(path, name);
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => check(property, item, &item_path, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            let known: Vec<&str> =
                                properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                            errors.push(error(
                                &item_path,
                                &format!("unknown setting; expected one of: {}", known.join(", ")),
                            ));
                        }
                        Some(extra @ Value::Object(_)) => check(extra, item, &item_path, errors),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            bound(schema, "minItems", "maxItems", items.len(), "items", path, errors);
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{index}]"), errors);
                }
            }
        }
        Value::String(text) => {
            bound(schema, "minLength", "maxLength", text.chars().count(), "characters", path, errors)
        }
        Value::Number(number) => {
            let n = number.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64).filter(|min| n < *min) {
                errors.push(error(path, &format!("expected at least {min}, found {number}")));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64).filter(|max| n > *max) {
                errors.push(error(path, &format!("expected at most {max}, found {number}")));
            }
        }
        _ => {}
    }
}

enum Pick {
    ExactlyOne,
    AtLeastOne,
}

fn bound(
    schema: &serde_json::Map<String, Value>,
    min_key: &str,
    max_key: &str,
    len: usize,
    unit: &str,
    path: &str,
    errors: &mut Vec<SchemaError>,
) {
    if let Some(min) = schema.get(min_key).and_then(Value::as_u64).filter(|min| (len as u64) < *min) {
        errors.push(error(path, &format!("expected at least {min} {unit}, found {len}")));
    }
    if let Some(max) = schema.get(max_key).and_then(Value::as_u64).filter(|max| (len as u64) > *max) {
        errors.push(error(path, &format!("expected at most {max} {unit}, found {len}")));
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.as_i64().is_some() || value.as_u64().is_some() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "a table".into(),
        Value::Array(_) => "a list".into(),
        Value::String(s) => format!("string \"{s}\""),
        other => other.to_string(),
    }
}

fn summary(schema: &Value) -> String {
    if let Some(kind) = schema.get("type") {
        return kind.to_string().replace('"', "");
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        let names: Vec<String> = required.iter().map(|v| v.to_string().replace('"', "")).collect();
        return format!("a table with {}", names.join(", "));
    }
    "a valid value".into()
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn error(path: &str, message: &str) -> SchemaError {
    SchemaError { path: path.to_owned(), message: message.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "regions": { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1 },
                "page_size": { "type": "integer", "minimum": 1, "maximum": 500 },
                "signature": { "enum": ["v1", "v3"] },
                "credentials": {
                    "type": "object",
                    "properties": { "profile": { "type": "string" }, "env": { "type": "boolean" } },
                    "oneOf": [ { "required": ["profile"] }, { "required": ["env"] } ],
                    "additionalProperties": false
                }
            },
            "required": ["regions"],
            "additionalProperties": false
        })
    }

    fn messages(value: Value) -> Vec<String> {
        validate(&schema(), &value).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_valid_config_passes() {
        assert!(messages(
            json!({"regions": ["cn-hangzhou"], "page_size": 50, "signature": "v3", "credentials": {"profile": "p"}})
        )
        .is_empty());
    }

    #[test]
    fn errors_name_the_field_and_what_was_expected() {
        assert_eq!(messages(json!({})), ["regions: is required but missing"]);
        assert_eq!(messages(json!({"regions": ["a", 3]})), ["regions[1]: expected string, found 3"]);
        assert_eq!(
            messages(json!({"regions": ["a"], "page_size": 1000})),
            ["page_size: expected at most 500, found 1000"]
        );
        assert_eq!(messages(json!({"regions": ["a"], "page_size": 1.5})), ["page_size: expected integer, found 1.5"]);
        assert_eq!(
            messages(json!({"regions": ["a"], "signature": "v2"})),
            [r#"signature: expected one of "v1", "v3", found "v2""#]
        );
        assert_eq!(
            messages(json!({"regions": ["a"], "zone": 1})),
            ["zone: unknown setting; expected one of: credentials, page_size, regions, signature"]
        );
        assert_eq!(
            messages(json!({"regions": ["a"], "credentials": {}})),
            ["credentials: expected a table with profile or a table with env"]
        );
        assert_eq!(messages(json!({"regions": []})), ["regions: expected at least 1 items, found 0"]);
    }

    #[test]
    fn paths_split_into_segments() {
        assert_eq!(split_path("a.b[2].c"), ["a", "b", "2", "c"]);
        assert_eq!(split_path("regions[0]"), ["regions", "0"]);
        assert!(split_path("").is_empty());
    }
}
