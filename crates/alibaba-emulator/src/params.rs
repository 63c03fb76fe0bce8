//! Request parameters: form decoding of query strings and bodies, typed access with the
//! gateway's errors.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// Form-decodes `a=b&c=d` ('+' is a space, `%XX` bytes) with `alibaba-signing`'s decoder,
/// the same one clients' tests use; `None` for a bad escape or invalid UTF-8.
pub fn form_decode(s: &str) -> Option<Vec<(String, String)>> {
    alibaba_signing::parse_form_query(s).ok()
}

/// Operation parameters by name (query and form body merged).
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Merges the lists; a name given twice is refused (the real gateway's behaviour with
    /// duplicates is undocumented and no SDK sends them).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if map.insert(k.clone(), v.clone()).is_some() {
                return Err(ApiError::invalid_parameter(k));
            }
        }
        Ok(Params { map })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// Present and non-empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.non_empty(name).ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
        match self.non_empty(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid_parameter(name)),
            },
        }
    }

    pub fn required_int(&self, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
        let v = self.required(name)?;
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_parameter(name)),
        }
    }

    /// A boolean ("true"/"false", any case); `default` when absent.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.non_empty(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::invalid_parameter(name)),
        }
    }

    /// One of `allowed` (exact), `None` when absent.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(_) => Err(ApiError::invalid_parameter(name)),
        }
    }

    /// The parameters that are not common/signature parameters, for the request log.
    pub fn operation_params(&self) -> BTreeMap<String, String> {
        const COMMON: &[&str] = &[
            "Action",
            "Version",
            "Format",
            "AccessKeyId",
            "Signature",
            "SignatureMethod",
            "SignatureVersion",
            "SignatureNonce",
            "SignatureType",
            "Timestamp",
            "SecurityToken",
        ];
        self.map.iter().filter(|(k, _)| !COMMON.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_space_and_percent_bytes_decode() {
        let p = form_decode("Keyword=a+b%2Ac~&X=%E5%BC%A0&Empty=&Bare").unwrap();
        assert!(form_decode("a=%zz").is_none());
        assert_eq!(
            p,
            vec![
                ("Keyword".into(), "a b*c~".into()),
                ("X".into(), "张".into()),
                ("Empty".into(), "".into()),
                ("Bare".into(), "".into()),
            ]
        );
    }

    #[test]
    fn duplicates_and_ranges_are_refused() {
        let dup = vec![("A".to_string(), "1".to_string()), ("A".into(), "2".into())];
        assert_eq!(Params::from_pairs(&dup).unwrap_err().code, "InvalidParameter");
        let p = Params::from_pairs(&[("PageSize".into(), "501".into())]).unwrap();
        assert_eq!(p.int("PageSize", 1, 500, 20).unwrap_err().code, "InvalidParameter");
        assert_eq!(p.int("PageNumber", 1, 10, 1).unwrap(), 1);
        assert_eq!(p.required("X").unwrap_err().code, "MissingParameter");
    }
}
