//! Reading the XML answers of the Query and REST-XML protocols with
//! quick-xml's serde support, plus the list shapes those protocols share.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::client::AwsError;

/// A Query-protocol list: `<Things><member>…</member>…</Things>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Members<T> {
    /// The entries.
    #[serde(rename = "member", default = "Vec::new")]
    pub member: Vec<T>,
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Self { member: Vec::new() }
    }
}

/// Parses `body` as `T`; the error names `operation`.
pub fn parse<T: DeserializeOwned>(operation: &str, body: &str) -> Result<T, AwsError> {
    quick_xml::de::from_str(body)
        .map_err(|e| AwsError::Malformed { operation: operation.to_owned(), detail: format!("unexpected XML ({e})") })
}

/// The text of the first element named `tag`, anywhere in `body`; `None`
/// when there is none or the body is not XML.
pub fn first_text(body: &str, tag: &str) -> Option<String> {
    let mut reader = Reader::from_str(body);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) if start.local_name().as_ref() == tag.as_bytes() => inside = true,
            Ok(Event::Text(t)) if inside => text.push_str(&t.decode().ok()?),
            Ok(Event::GeneralRef(r)) if inside => {
                let name = r.decode().ok()?;
                text.push_str(match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Ok(Event::CData(c)) if inside => text.push_str(std::str::from_utf8(&c).ok()?),
            Ok(Event::End(end)) if inside && end.local_name().as_ref() == tag.as_bytes() => return Some(text),
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Answer {
        #[serde(rename = "Result")]
        result: Inner,
    }
    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(rename = "Names", default)]
        names: Members<String>,
        #[serde(rename = "NextMarker")]
        next_marker: Option<String>,
    }

    #[test]
    fn member_lists_and_optional_markers_parse() {
        let body = r#"<R xmlns="x"><Result><Names><member>a</member><member>b &amp; c</member></Names><NextMarker>m1</NextMarker></Result></R>"#;
        let answer: Answer = parse("T", body).unwrap();
        assert_eq!(answer.result.names.member, ["a", "b & c"]);
        assert_eq!(answer.result.next_marker.as_deref(), Some("m1"));
        let empty: Answer = parse("T", "<R><Result><Names/></Result></R>").unwrap();
        assert!(empty.result.names.member.is_empty() && empty.result.next_marker.is_none());
    }

    #[test]
    fn first_text_finds_nested_codes() {
        let body = "<ErrorResponse><Error><Code>Throttling</Code><Message>a &lt; b</Message></Error></ErrorResponse>";
        assert_eq!(first_text(body, "Code").as_deref(), Some("Throttling"));
        assert_eq!(first_text(body, "Message").as_deref(), Some("a < b"));
        assert_eq!(first_text("not xml at all", "Code"), None);
    }
}
