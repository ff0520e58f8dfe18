//! Latency and injected faults: what a flaky apiserver does to clients.
//! Rules fire by rate or for the next N matching requests; with a seed the
//! sequence of decisions is repeatable.

use std::time::Duration;

use crate::rng::Rng;

/// What an injected fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 InternalError.
    InternalError,
    /// 503 ServiceUnavailable.
    Unavailable,
    /// 429 TooManyRequests with a `Retry-After` of this many seconds.
    TooManyRequests { retry_after_secs: u32 },
    /// 409 Conflict, as if the object had just been modified.
    Conflict,
    /// The connection is closed without any response.
    DropConnection,
    /// The status line and headers are sent, then the body never comes
    /// (until the client gives up), as behind a stalled load balancer.
    StallBody,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    Rate(f64),
    Count(u64),
}

/// When a fault fires, and on which requests.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    fault: Fault,
    trigger: Trigger,
    methods: Vec<String>,
    path_contains: Option<String>,
}

impl FaultRule {
    /// Fires on each matching request with probability `p` (0.0..=1.0).
    pub fn rate(fault: Fault, p: f64) -> FaultRule {
        FaultRule {
            fault,
            trigger: Trigger::Rate(p.clamp(0.0, 1.0)),
            methods: Vec::new(),
            path_contains: None,
        }
    }

    /// Fires on the next `n` matching requests, then retires.
    pub fn times(fault: Fault, n: u64) -> FaultRule {
        FaultRule {
            fault,
            trigger: Trigger::Count(n),
            methods: Vec::new(),
            path_contains: None,
        }
    }

    /// Only requests with one of these methods (`"PATCH"`, `"GET"`, ...).
    pub fn on_methods(mut self, methods: &[&str]) -> FaultRule {
        self.methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        self
    }

    /// Only writes: POST, PUT, PATCH and DELETE.
    pub fn on_writes(self) -> FaultRule {
        self.on_methods(&["POST", "PUT", "PATCH", "DELETE"])
    }

    /// Only requests whose path contains this text (e.g. `"/configmaps"`).
    pub fn on_path(mut self, fragment: &str) -> FaultRule {
        self.path_contains = Some(fragment.to_string());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && self
                .path_contains
                .as_ref()
                .is_none_or(|f| path.contains(f.as_str()))
    }
}

/// The fault and latency settings plus the generator that drives them.
#[derive(Debug)]
pub(crate) struct Faults {
    rules: Vec<FaultRule>,
    rng: Rng,
    pub(crate) latency: Duration,
    pub(crate) jitter: Duration,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Faults {
        Faults {
            rules: Vec::new(),
            rng: Rng::new(seed),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
        }
    }

    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn reseed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    /// How long to hold this request before answering it.
    pub(crate) fn delay(&mut self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        self.latency + self.jitter.mul_f64(self.rng.next_f64())
    }

    /// The fault for this request, if a rule fires. Rules are tried in the
    /// order they were added; the first that fires wins.
    pub(crate) fn decide(&mut self, method: &str, path: &str) -> Option<Fault> {
        let mut fired = None;
        for rule in &mut self.rules {
            if !rule.matches(method, path) {
                continue;
            }
            let fires = match &mut rule.trigger {
                Trigger::Rate(p) => self.rng.next_f64() < *p,
                Trigger::Count(n) => {
                    if *n > 0 {
                        *n -= 1;
                        true
                    } else {
                        false
                    }
                }
            };
            if fires {
                fired = Some(rule.fault);
                break;
            }
        }
        self.rules.retain(|r| r.trigger != Trigger::Count(0));
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_rules_fire_exactly_n_times_on_matching_requests() {
        let mut f = Faults::new(1);
        f.add(
            FaultRule::times(Fault::Unavailable, 2)
                .on_writes()
                .on_path("/configmaps"),
        );
        assert_eq!(f.decide("GET", "/api/v1/namespaces/a/configmaps"), None);
        assert_eq!(f.decide("PATCH", "/api/v1/namespaces/a/secrets/x"), None);
        assert_eq!(
            f.decide("PATCH", "/api/v1/namespaces/a/configmaps/x"),
            Some(Fault::Unavailable)
        );
        assert_eq!(
            f.decide("POST", "/api/v1/namespaces/a/configmaps"),
            Some(Fault::Unavailable)
        );
        assert_eq!(f.decide("POST", "/api/v1/namespaces/a/configmaps"), None);
    }

    #[test]
    fn rate_rules_are_repeatable_from_a_seed() {
        let run = |seed| {
            let mut f = Faults::new(seed);
            f.add(FaultRule::rate(Fault::InternalError, 0.3));
            (0..200)
                .map(|_| f.decide("GET", "/api").is_some())
                .collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        let hits = a.iter().filter(|x| **x).count();
        assert!((30..=90).contains(&hits), "about 30% fire, got {hits}");
        let mut never = Faults::new(1);
        never.add(FaultRule::rate(Fault::DropConnection, 0.0));
        assert!((0..50).all(|_| never.decide("GET", "/").is_none()));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut f = Faults::new(3);
        f.latency = Duration::from_millis(10);
        assert_eq!(f.delay(), Duration::from_millis(10));
        f.jitter = Duration::from_millis(5);
        for _ in 0..20 {
            let d = f.delay();
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(15));
        }
    }
}
