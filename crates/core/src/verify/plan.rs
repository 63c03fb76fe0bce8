//! Planning: one probe target per distinct endpoint, routes applied.
//!
//! Pure: bindings and routes in, targets out. Bindings that share host,
//! port, SNI and addresses share one probe and its observations.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use certinspect_probe::{ProbeTarget, SniMode};
use certinspect_protocol::Endpoint;

/// Route connections for `host:port` to `to` instead (curl's `--connect-to`),
/// keeping the name for SNI and matching.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectTo {
    /// Host as the binding names it.
    pub host: String,
    /// Port as the binding names it.
    pub port: u16,
    /// Where to connect instead.
    pub to: SocketAddr,
}

impl ConnectTo {
    /// Route `host:port` to `to`.
    pub fn new(host: &str, port: u16, to: SocketAddr) -> Self {
        Self { host: host.to_ascii_lowercase(), port, to }
    }
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    /// `HOST:PORT:ADDR:PORT2`, IPv6 addresses in brackets.
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("'{text}': expected HOST:PORT:ADDRESS:PORT (IPv6 in brackets)");
        let (host, rest) = text.split_once(':').ok_or_else(expected)?;
        let (port, to) = rest.split_once(':').ok_or_else(expected)?;
        let port = port.parse().map_err(|_| expected())?;
        let to = to.parse::<SocketAddr>().map_err(|_| expected())?;
        Ok(Self::new(host, port, to))
    }
}

/// What to probe, and which binding reads which target's observations.
#[derive(Debug, Default)]
pub(crate) struct TargetPlan {
    pub targets: Vec<ProbeTarget>,
    /// The name each target is checked against (SNI, else the host).
    pub reference_names: Vec<String>,
    /// Per binding, its target; `None` for bindings without an endpoint.
    pub target_of_binding: Vec<Option<usize>>,
}

impl TargetPlan {
    /// The bindings each target serves.
    pub fn bindings_of_targets(&self) -> Vec<Vec<usize>> {
        let mut bindings_of_target = vec![Vec::new(); self.targets.len()];
        for (binding, target) in self.target_of_binding.iter().enumerate() {
            if let Some(target) = target {
                bindings_of_target[*target].push(binding);
            }
        }
        bindings_of_target
    }
}

/// One probe target per distinct (host, port, SNI, addresses).
pub(crate) fn plan_targets<E: Borrow<Endpoint>>(
    endpoints: impl IntoIterator<Item = Option<E>>,
    connect_to: &[ConnectTo],
) -> TargetPlan {
    let mut plan = TargetPlan::default();
    let mut seen: HashMap<(String, u16, Option<String>, Vec<String>), usize> = HashMap::new();
    let routes: HashMap<(&str, u16), SocketAddr> =
        connect_to.iter().map(|c| ((c.host.as_str(), c.port), c.to)).collect();
    for endpoint in endpoints {
        let Some(endpoint) = endpoint else {
            plan.target_of_binding.push(None);
            continue;
        };
        let endpoint: &Endpoint = endpoint.borrow();
        let host = endpoint.host.to_ascii_lowercase();
        let key = (host.clone(), endpoint.port, endpoint.sni.clone(), endpoint.addresses.clone());
        let index = *seen.entry(key).or_insert_with(|| {
            let sni = match &endpoint.sni {
                Some(name) => SniMode::Name(name.clone()),
                None => SniMode::None,
            };
            let mut target = ProbeTarget::new(endpoint.host.clone(), endpoint.port).with_sni(sni);
            let addresses: Vec<IpAddr> = endpoint.addresses.iter().filter_map(|a| a.parse().ok()).collect();
            if !addresses.is_empty() {
                target = target.with_resolve_override(addresses);
            }
            if let Some(to) = routes.get(&(host.as_str(), endpoint.port)) {
                target.port = to.port();
                target.resolve_override = Some(vec![to.ip()]);
            }
            plan.targets.push(target);
            plan.reference_names.push(endpoint.sni.clone().unwrap_or_else(|| endpoint.host.clone()));
            plan.targets.len() - 1
        });
        plan.target_of_binding.push(Some(index));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::bare_endpoint;

    #[test]
    fn connect_to_parses_like_curl() {
        let route: ConnectTo = "Shop.Test:443:127.0.0.1:8443".parse().unwrap();
        assert_eq!(route, ConnectTo::new("shop.test", 443, "127.0.0.1:8443".parse().unwrap()));
        let v6: ConnectTo = "a.test:443:[::1]:9".parse().unwrap();
        assert_eq!(v6.to, "[::1]:9".parse().unwrap());
        for bad in ["a.test", "a.test:443", "a.test:x:127.0.0.1:1", "a.test:443:127.0.0.1"] {
            assert!(bad.parse::<ConnectTo>().unwrap_err().contains("expected HOST:PORT:ADDRESS:PORT"), "{bad}");
        }
    }

    #[test]
    fn bindings_sharing_an_endpoint_share_a_target_and_routes_apply() {
        let bindings = [
            bare_endpoint("a.test", 443, Some("a.test".into())),
            bare_endpoint("A.test", 443, Some("a.test".into())),
            bare_endpoint("a.test", 443, Some("b.test".into())),
            bare_endpoint("c.test", 8443, None),
        ];
        let route = ConnectTo::new("c.test", 8443, "127.0.0.1:9000".parse().unwrap());
        let plan = plan_targets(bindings.iter().map(|b| b.location.endpoint.as_ref()), &[route]);
        assert_eq!(plan.target_of_binding, [Some(0), Some(0), Some(1), Some(2)]);
        assert_eq!(plan.reference_names, ["a.test", "b.test", "c.test"]);
        assert_eq!(plan.targets[2].port, 9000);
        assert_eq!(plan.targets[2].resolve_override, Some(vec!["127.0.0.1".parse().unwrap()]));
        assert_eq!(plan.bindings_of_targets(), [vec![0, 1], vec![2], vec![3]]);
    }

    #[test]
    fn bindings_without_an_endpoint_are_not_planned() {
        let mut inventory = bare_endpoint("a.test", 443, None);
        inventory.location.endpoint = None;
        let plan = plan_targets([inventory.location.endpoint.as_ref()], &[]);
        assert!(plan.targets.is_empty());
        assert_eq!(plan.target_of_binding, [None]);
    }
}
