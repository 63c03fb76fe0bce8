//! The bindings a run holds while it probes: as given, or, for bare
//! endpoints (`inspect probe` targets: nothing declared), each as host,
//! port and SNI, a few dozen bytes where a whole [`Binding`] is several
//! hundred, made whole for the moment a result needs it. A run over a
//! hundred thousand targets so holds megabytes, not a copy of every
//! binding structure.

use std::borrow::Cow;

use certinspect_protocol::{Binding, Endpoint};

use super::bare_endpoint;

/// An endpoint to probe with nothing declared about it: what a targets
/// file line or a command-line endpoint gives ([`bare_endpoint`] makes its binding).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BareEndpoint {
    /// Host name or IP address.
    pub host: Box<str>,
    /// TCP port.
    pub port: u16,
    /// Server name to send; `None` sends none.
    pub sni: Option<Box<str>>,
}

impl BareEndpoint {
    /// The endpoint `host:port`, sending `sni`.
    pub fn new(host: &str, port: u16, sni: Option<&str>) -> Self {
        BareEndpoint { host: host.into(), port, sni: sni.map(Into::into) }
    }

    /// Its binding, as [`bare_endpoint`] makes it.
    pub fn binding(&self) -> Binding {
        bare_endpoint(&self.host, self.port, self.sni.as_deref().map(str::to_owned))
    }

    fn endpoint(&self) -> Endpoint {
        let mut endpoint = Endpoint::new(&*self.host, self.port);
        endpoint.sni = self.sni.as_deref().map(str::to_owned);
        endpoint
    }
}

/// The bindings of a run, numbered as the report numbers them.
#[derive(Debug)]
pub(crate) enum HeldBindings {
    /// As given.
    Full(Vec<Binding>),
    /// Bare endpoints only.
    Bare(Vec<BareEndpoint>),
}

impl HeldBindings {
    pub fn len(&self) -> usize {
        match self {
            HeldBindings::Full(bindings) => bindings.len(),
            HeldBindings::Bare(endpoints) => endpoints.len(),
        }
    }

    /// Binding `index`.
    pub fn get(&self, index: usize) -> Cow<'_, Binding> {
        match self {
            HeldBindings::Full(bindings) => Cow::Borrowed(&bindings[index]),
            HeldBindings::Bare(endpoints) => Cow::Owned(endpoints[index].binding()),
        }
    }

    /// Each binding's endpoint, in order (`None`: not probeable).
    pub fn endpoints(&self) -> Box<dyn Iterator<Item = Option<Cow<'_, Endpoint>>> + '_> {
        match self {
            HeldBindings::Full(bindings) => {
                Box::new(bindings.iter().map(|b| b.location.endpoint.as_ref().map(Cow::Borrowed)))
            }
            HeldBindings::Bare(endpoints) => Box::new(endpoints.iter().map(|e| Some(Cow::Owned(e.endpoint())))),
        }
    }

    /// The declarations of the bindings that declare something: only those
    /// can make another binding's served certificate STALE or renewed.
    pub fn declared(&self) -> Vec<&certinspect_protocol::DeclaredCertificate> {
        match self {
            HeldBindings::Full(bindings) => declared(bindings),
            HeldBindings::Bare(_) => Vec::new(),
        }
    }

    /// Every binding, whole, one at a time: a caller that moves each into
    /// a bigger structure never holds two lists of them at once.
    pub fn into_bindings(self) -> Box<dyn Iterator<Item = Binding>> {
        match self {
            HeldBindings::Full(bindings) => Box::new(bindings.into_iter()),
            HeldBindings::Bare(endpoints) => Box::new(endpoints.into_iter().map(|e| e.binding())),
        }
    }
}

/// The declarations of `bindings` that declare something.
pub(crate) fn declared(bindings: &[Binding]) -> Vec<&certinspect_protocol::DeclaredCertificate> {
    let nothing = certinspect_protocol::DeclaredCertificate::default();
    bindings.iter().map(|b| &b.declared).filter(|d| **d != nothing).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_endpoint_is_held_small_and_made_whole_as_given() {
        let bare = BareEndpoint::new("host-1.test", 8443, Some("www.host-1.test"));
        assert_eq!(bare.binding(), bare_endpoint("host-1.test", 8443, Some("www.host-1.test".into())));
        assert!(std::mem::size_of::<BareEndpoint>() * 10 < std::mem::size_of::<Binding>());
        let held = HeldBindings::Bare(vec![bare.clone(), BareEndpoint::new("10.0.0.1", 443, None)]);
        assert_eq!(held.len(), 2);
        assert_eq!(held.get(1).into_owned(), bare_endpoint("10.0.0.1", 443, None));
        let endpoints: Vec<Option<Endpoint>> = held.endpoints().map(|e| e.map(Cow::into_owned)).collect();
        assert_eq!(endpoints[0], bare.binding().location.endpoint);
        assert!(held.declared().is_empty());
        assert_eq!(held.into_bindings().next(), Some(bare.binding()));
    }
}
