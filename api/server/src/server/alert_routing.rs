//! Where an Alertmanager alert goes: its service (the `service` label), else
//! the configured default service, else nowhere ("unrouted": answered with a
//! non-2xx status, counted by reason in `/metrics`, logged), and which alert
//! group it joins (Alertmanager's `groupKey` by default, its fingerprint on
//! request).

use opsledger_domain::alert::MAX_DEDUP_KEY_CHARS;
use std::collections::BTreeMap;

/// The environment variable naming the default alert service (same as `--default-alert-service`).
pub const DEFAULT_ALERT_SERVICE_ENV: &str = "OPSLEDGER_DEFAULT_ALERT_SERVICE";

/// The alert label that asks for one incident per fingerprint instead of per `groupKey`.
pub const GROUPING_LABEL: &str = "opsledger_grouping";

/// The label value of [`GROUPING_LABEL`] that selects per-fingerprint grouping.
pub const GROUP_BY_FINGERPRINT: &str = "fingerprint";

/// The label added to an alert routed to the default service, saying why.
pub const REROUTED_LABEL: &str = "opsledger_rerouted";

/// How the webhook routes alerts (part of the server configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertRouting {
    /// The service (by name) that receives alerts with a missing or unknown
    /// `service` label; `None`: such alerts are unrouted.
    pub default_service: Option<String>,
}

/// Why an alert's own `service` label could not route it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MisrouteReason {
    /// The alert has no (or an empty) `service` label.
    MissingServiceLabel,
    /// The `service` label names no registered service.
    UnknownService,
}

impl MisrouteReason {
    /// Every reason (metrics list them all, at 0, from the start).
    pub const ALL: [MisrouteReason; 2] = [
        MisrouteReason::MissingServiceLabel,
        MisrouteReason::UnknownService,
    ];

    /// The metrics label value and wire code suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            MisrouteReason::MissingServiceLabel => "missing_service_label",
            MisrouteReason::UnknownService => "unknown_service",
        }
    }

    /// Whether a retry of the same alert can succeed later: an unknown service
    /// can be registered (or a default configured); a missing label cannot appear.
    pub fn retry_can_help(self) -> bool {
        matches!(self, MisrouteReason::UnknownService)
    }
}

/// Where one alert goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<S> {
    /// To its own service.
    Own(S),
    /// To the default service, because its own label could not route it.
    Default(S, MisrouteReason),
    /// Nowhere: no usable label and no (registered) default service.
    Unrouted(MisrouteReason),
}

impl AlertRouting {
    /// Routes an alert with `labels`, looking services up by name with `lookup`.
    pub fn route<S>(
        &self,
        labels: &BTreeMap<String, String>,
        lookup: impl Fn(&str) -> Option<S>,
    ) -> Route<S> {
        let reason = match labels.get("service").map(|s| s.trim()) {
            Some(name) if !name.is_empty() => match lookup(name) {
                Some(service) => return Route::Own(service),
                None => MisrouteReason::UnknownService,
            },
            _ => MisrouteReason::MissingServiceLabel,
        };
        match self.default_service.as_deref().and_then(&lookup) {
            Some(service) => Route::Default(service, reason),
            // A default that is configured but not registered is an unknown service.
            None if self.default_service.is_some() => {
                Route::Unrouted(MisrouteReason::UnknownService)
            }
            None => Route::Unrouted(reason),
        }
    }
}

/// The alert-group dedup key of an alert: `am-group:<groupKey>` (one incident
/// per Alertmanager notification group, per service), or the fingerprint when
/// the alert carries `opsledger_grouping="fingerprint"` or the payload has no
/// `groupKey`. A key longer than the domain's bound is replaced by its BLAKE3 digest.
pub fn dedup_key(group_key: &str, fingerprint: &str, labels: &BTreeMap<String, String>) -> String {
    let by_fingerprint =
        labels.get(GROUPING_LABEL).map(String::as_str) == Some(GROUP_BY_FINGERPRINT);
    if by_fingerprint || group_key.trim().is_empty() {
        return bounded(fingerprint.to_string());
    }
    bounded(format!("am-group:{group_key}"))
}

fn bounded(key: String) -> String {
    if key.chars().count() <= MAX_DEDUP_KEY_CHARS {
        key
    } else {
        format!("blake3:{}", blake3::hash(key.as_bytes()).to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lookup(name: &str) -> Option<u32> {
        (name == "checkout" || name == "triage").then_some(name.len() as u32)
    }

    #[test]
    fn a_known_service_label_routes_to_its_service() {
        let routing = AlertRouting::default();
        assert_eq!(
            routing.route(&labels(&[("service", "checkout")]), lookup),
            Route::Own(8)
        );
    }

    #[test]
    fn without_a_default_missing_or_unknown_services_are_unrouted_by_reason() {
        let routing = AlertRouting::default();
        assert_eq!(
            routing.route(&labels(&[]), lookup),
            Route::Unrouted(MisrouteReason::MissingServiceLabel)
        );
        assert_eq!(
            routing.route(&labels(&[("service", "  ")]), lookup),
            Route::Unrouted(MisrouteReason::MissingServiceLabel)
        );
        assert_eq!(
            routing.route(&labels(&[("service", "nope")]), lookup),
            Route::Unrouted(MisrouteReason::UnknownService)
        );
    }

    #[test]
    fn the_default_service_takes_what_the_label_cannot_route() {
        let routing = AlertRouting {
            default_service: Some("triage".into()),
        };
        assert_eq!(
            routing.route(&labels(&[]), lookup),
            Route::Default(6, MisrouteReason::MissingServiceLabel)
        );
        assert_eq!(
            routing.route(&labels(&[("service", "nope")]), lookup),
            Route::Default(6, MisrouteReason::UnknownService)
        );
    }

    #[test]
    fn an_unregistered_default_leaves_the_alert_unrouted_as_unknown() {
        let routing = AlertRouting {
            default_service: Some("gone".into()),
        };
        assert_eq!(
            routing.route(&labels(&[]), lookup),
            Route::Unrouted(MisrouteReason::UnknownService)
        );
    }

    #[test]
    fn only_an_unknown_service_is_worth_a_retry() {
        assert!(MisrouteReason::UnknownService.retry_can_help());
        assert!(!MisrouteReason::MissingServiceLabel.retry_can_help());
    }

    #[test]
    fn alerts_group_by_group_key_unless_asked_for_fingerprints() {
        let none = labels(&[]);
        assert_eq!(
            dedup_key("{}:{a=\"b\"}", "f1", &none),
            "am-group:{}:{a=\"b\"}"
        );
        assert_eq!(dedup_key("", "f1", &none), "f1");
        let per_fp = labels(&[(GROUPING_LABEL, GROUP_BY_FINGERPRINT)]);
        assert_eq!(dedup_key("{}:{a=\"b\"}", "f1", &per_fp), "f1");
    }

    #[test]
    fn a_long_group_key_is_bounded_by_its_digest() {
        let long = "x".repeat(500);
        let key = dedup_key(&long, "f", &labels(&[]));
        assert!(key.starts_with("blake3:"));
        assert!(key.chars().count() <= MAX_DEDUP_KEY_CHARS);
        assert_eq!(key, dedup_key(&long, "g", &labels(&[])));
    }
}
