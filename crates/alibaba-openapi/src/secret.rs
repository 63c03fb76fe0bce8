//! Secrets: the access key pair (masked in `Debug`), masking a key id for
//! logs, and removing credentials from text that may echo a request. Depends
//! on nothing else of this crate's, so every module can use it.

use std::fmt;

use crate::time::format_iso8601_utc;

/// An access key pair, optionally with an STS token and its expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
    expiration_unix_ms: Option<i64>,
}

impl Credentials {
    /// A long-term AccessKey pair.
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
            expiration_unix_ms: None,
        }
    }

    /// Adds an STS security token (empty tokens are ignored).
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.security_token = (!token.is_empty()).then_some(token);
        self
    }

    /// Sets when these (temporary) credentials expire.
    pub fn with_expiration_unix_ms(mut self, expiration_unix_ms: i64) -> Self {
        self.expiration_unix_ms = Some(expiration_unix_ms);
        self
    }

    /// The AccessKeyId (not secret, but still masked in logs).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The AccessKeySecret. Only signing code should read this.
    pub fn access_key_secret(&self) -> &str {
        &self.access_key_secret
    }

    /// The STS token, for temporary credentials.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// Expiry of temporary credentials, ms since the UNIX epoch.
    pub fn expiration_unix_ms(&self) -> Option<i64> {
        self.expiration_unix_ms
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &mask_access_key_id(&self.access_key_id))
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.as_ref().map(|_| "<redacted>"))
            .field("expiration", &self.expiration_unix_ms.map(format_iso8601_utc))
            .finish()
    }
}

/// `LTAI5tFakeAccessKeyId01` → `LTAI****01`: enough to tell keys apart in a
/// log, not enough to use one.
pub fn mask_access_key_id(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    if chars.len() <= 6 {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}****{tail}")
}

/// Removes credentials from a message that may echo a request (a transport
/// error naming the URL, a server message): the AccessKeyId is masked, the
/// secret and the STS token are replaced by `<redacted>` in their raw,
/// percent-encoded and form-encoded spellings. Values shorter than 8
/// characters are left alone (replacing them would mangle ordinary words,
/// and real secrets and tokens are far longer).
pub(crate) fn redact_credentials(text: &str, credentials: &Credentials) -> String {
    const MIN_SECRET_LEN: usize = 8;
    let mut out = text.to_string();
    for secret in [Some(credentials.access_key_secret()), credentials.security_token()].into_iter().flatten() {
        if secret.len() < MIN_SECRET_LEN {
            continue;
        }
        let encoded = alibaba_signing::percent_encode(secret);
        let form_encoded = encoded.replace("%20", "+");
        for spelling in [secret.to_string(), encoded, form_encoded] {
            out = out.replace(&spelling, "<redacted>");
        }
    }
    let key_id = credentials.access_key_id();
    if key_id.len() >= 4 {
        out = out.replace(key_id, &mask_access_key_id(key_id));
    }
    out
}
