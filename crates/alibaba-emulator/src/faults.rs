//! Fault injection: rules matched per request (after authentication and QPS checks, so a
//! fault stands for the service behind the gateway failing).
//!
//! A rule fires when its action matches and its trigger says so: every request, every
//! N-th matching request, or with a probability drawn from a seeded generator (so a run
//! with the same seed and the same request order injects the same faults). `count`
//! bounds how many times a rule fires in total.

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What to do to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait this long, then answer normally.
    Latency { ms: u64 },
    /// HTTP 503 `ServiceUnavailable`.
    ServiceUnavailable,
    /// HTTP 500 `InternalError`.
    InternalError,
    /// HTTP 400 `Throttling.User`, whatever the QPS.
    Throttling,
    /// HTTP 200 with a body that is not valid JSON.
    MalformedJson,
    /// HTTP 200 whose body stops half-way (Content-Length promises more; connection closed).
    TruncatedBody,
    /// HTTP 502 with an HTML page, as a load balancer in front of the API would answer.
    HtmlErrorPage,
    /// Any API error answer, e.g. `ServiceBusy` (400) or `FlowControlError` (400), with an
    /// optional `x-acs-retry-after` hint (milliseconds), so every code a client must retry
    /// can be produced.
    Refuse {
        code: String,
        status: u16,
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Action name to match; `None` or "*" matches every action.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Fire with this probability (0..=1) per matching request.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Fire on every N-th matching request (N, 2N, ...).
    #[serde(default)]
    pub every_nth: Option<u64>,
    /// Fire at most this many times.
    #[serde(default)]
    pub count: Option<u64>,
}

impl FaultRule {
    /// A rule that fires on every matching request.
    pub fn always(action: Option<&str>, kind: FaultKind) -> Self {
        FaultRule { action: action.map(str::to_string), kind, probability: None, every_nth: None, count: None }
    }

    fn matches(&self, action: &str) -> bool {
        match self.action.as_deref() {
            None | Some("*") => true,
            Some(a) => a == action,
        }
    }
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    seen: u64,
    fired: u64,
}

/// Rules plus their counters and the seeded generator.
#[derive(Debug)]
pub struct FaultEngine {
    rules: Vec<RuleState>,
    rng: StdRng,
}

impl FaultEngine {
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        FaultEngine {
            rules: rules.into_iter().map(|rule| RuleState { rule, seen: 0, fired: 0 }).collect(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Replaces the rules (counters restart; the generator keeps its position).
    pub fn set_rules(&mut self, rules: Vec<FaultRule>) {
        *self = FaultEngine {
            rules: rules.into_iter().map(|rule| RuleState { rule, seen: 0, fired: 0 }).collect(),
            rng: self.rng.clone(),
        };
    }

    /// The faults to apply to a request for `action`: any latencies, then at most one
    /// answer-changing fault (the first rule that fires).
    pub fn decide(&mut self, action: &str) -> Vec<FaultKind> {
        let mut out = Vec::new();
        let mut answered = false;
        for st in &mut self.rules {
            if !st.rule.matches(action) {
                continue;
            }
            let is_latency = matches!(st.rule.kind, FaultKind::Latency { .. });
            if answered && !is_latency {
                continue;
            }
            if let Some(max) = st.rule.count {
                if st.fired >= max {
                    continue;
                }
            }
            st.seen += 1;
            let mut fire = true;
            if let Some(n) = st.rule.every_nth {
                fire &= n > 0 && st.seen % n == 0;
            }
            if let Some(p) = st.rule.probability {
                // Always draw, so the sequence of draws does not depend on other triggers.
                let x: f64 = self.rng.gen();
                fire &= x < p;
            }
            if fire {
                st.fired += 1;
                if !is_latency {
                    answered = true;
                }
                out.push(st.rule.kind.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_world_json() {
        let rules: Vec<FaultRule> = serde_json::from_str(
            r#"[{"action":"DescribeCdnHttpsDomainList","kind":"service_unavailable","every_nth":3},
                {"kind":"latency","ms":200,"probability":0.5,"count":4}]"#,
        )
        .unwrap();
        assert_eq!(rules[0].kind, FaultKind::ServiceUnavailable);
        assert_eq!(rules[0].every_nth, Some(3));
        assert_eq!(rules[1].kind, FaultKind::Latency { ms: 200 });
        assert_eq!((rules[1].action.as_deref(), rules[1].count), (None, Some(4)));
        let refuse: FaultRule =
            serde_json::from_str(r#"{"kind":"refuse","code":"ServiceBusy","status":400,"retry_after_ms":50}"#).unwrap();
        assert_eq!(
            refuse.kind,
            FaultKind::Refuse { code: "ServiceBusy".into(), status: 400, retry_after_ms: Some(50) }
        );
        let mut e = FaultEngine::new(rules, 1);
        let got: Vec<usize> = (0..6)
            .map(|_| {
                e.decide("DescribeCdnHttpsDomainList").iter().filter(|k| **k == FaultKind::ServiceUnavailable).count()
            })
            .collect();
        assert_eq!(got, [0, 0, 1, 0, 0, 1]);
    }
}
