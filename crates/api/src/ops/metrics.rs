//! The service's Prometheus metrics: one registry per [`Metrics`] (per running application, so
//! tests that start several services in one process count separately), every family registered
//! up front, and label sets bounded by construction (methods from a fixed list, route *templates*
//! with one label for everything unmatched, status codes, a closed set of causes).
//!
//! Counted where each fact is known: HTTP requests by the request middleware
//! ([`super::access`]), responder calls by [`super::MeteredResponder`], chat outcomes through the
//! [`ChatMetrics`] port the use cases report to, the pool when scraped, the ledger audit by a
//! background job ([`Metrics::record_audit`]).

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use adapters::storage::DieselStorage;
use domain::Tokens;
use ports::{ChatMetrics, RefundCause, ResponderError};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The `route` label of requests no route matched (unknown paths share it, so a scanner cannot
/// create series). Route templates always start with `/`, so it never collides with one.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets, in seconds: a balance read takes about a millisecond, a chat up to the
/// responder timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The `error` label of responder failures, in [`ResponderError`]'s order.
const RESPONDER_ERRORS: [&str; 3] = ["failed", "timeout", "busy"];

/// Every metric of the service.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    chats_answered: IntCounter,
    tokens_spent: IntCounter,
    insufficient_tokens: IntCounter,
    refunds: [IntCounter; RefundCause::ALL.len()],
    responder_duration: Histogram,
    responder_errors: [IntCounter; RESPONDER_ERRORS.len()],
    pool: Option<PoolGauges>,
    pending_charges: IntGauge,
    ledger_drift: IntGauge,
    ledger_audited_at: IntGauge,
}

/// The connection pool's gauges, read from the storage adapter when scraped.
struct PoolGauges {
    storage: DieselStorage,
    max: IntGauge,
    in_use: IntGauge,
    idle: IntGauge,
    waiting: IntGauge,
}

/// Registers `metric` in `registry` and returns it.
fn registered<M>(registry: &Registry, metric: M) -> Result<M, prometheus::Error>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// The counters of a one-label family for each of `values`, created now so every value is
/// exported (as 0) before it first happens, and counted later without a lookup.
fn children<const N: usize>(
    family: &IntCounterVec,
    values: [&str; N],
) -> Result<[IntCounter; N], prometheus::Error> {
    let counters = values
        .iter()
        .map(|value| family.get_metric_with_label_values(&[value]))
        .collect::<Result<Vec<_>, _>>()?;
    counters
        .try_into()
        .map_err(|_| prometheus::Error::Msg("label count mismatch".into()))
}

impl Metrics {
    /// Every family, registered; the pool gauges only when `storage` (the adapter the service
    /// opened itself) is given.
    pub fn new(storage: Option<DieselStorage>) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let counter = |name: &str, help: &str| registered(r, IntCounter::new(name, help)?);
        let gauge = |name: &str, help: &str| registered(r, IntGauge::new(name, help)?);
        let latency = |name: &str, help: &str| {
            HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec())
        };
        let refunds = registered(
            r,
            IntCounterVec::new(
                Opts::new("refunds_total", "Chat charges given back, by cause."),
                &["cause"],
            )?,
        )?;
        let responder_errors = registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "responder_errors_total",
                    "Responder calls that failed, by error.",
                ),
                &["error"],
            )?,
        )?;
        let pool = match storage {
            None => None,
            Some(storage) => Some(PoolGauges {
                storage,
                max: gauge("db_pool_max_connections", "Connections the pool may open.")?,
                in_use: gauge(
                    "db_pool_connections_in_use",
                    "Connections checked out by a running query.",
                )?,
                idle: gauge("db_pool_connections_idle", "Open connections not in use.")?,
                waiting: gauge(
                    "db_pool_waiting",
                    "Storage calls under way that hold no connection yet.",
                )?,
            }),
        };
        Ok(Self {
            http_requests: registered(
                r,
                IntCounterVec::new(
                    Opts::new("http_requests_total", "HTTP requests answered."),
                    &["method", "route", "status"],
                )?,
            )?,
            http_duration: registered(
                r,
                HistogramVec::new(
                    latency(
                        "http_request_duration_seconds",
                        "Time from a request's arrival to its response head.",
                    ),
                    &["method", "route", "status"],
                )?,
            )?,
            chats_answered: counter(
                "chats_answered_total",
                "Chats answered, stored and charged.",
            )?,
            tokens_spent: counter("tokens_spent_total", "Tokens charged for answered chats.")?,
            insufficient_tokens: counter(
                "chats_refused_insufficient_tokens_total",
                "Chats refused for want of tokens (402).",
            )?,
            refunds: children(&refunds, RefundCause::ALL.map(RefundCause::as_str))?,
            responder_duration: registered(
                r,
                Histogram::with_opts(latency(
                    "responder_duration_seconds",
                    "Time the responder took to answer, or to fail.",
                ))?,
            )?,
            responder_errors: children(&responder_errors, RESPONDER_ERRORS)?,
            pool,
            pending_charges: gauge(
                "pending_charges",
                "Chat charges taken and neither settled nor refunded (every process), as of the last ledger audit.",
            )?,
            ledger_drift: gauge(
                "ledger_drift",
                "Sum over accounts of |balance - ledger sum|, as of the last ledger audit; 0 when the ledger is consistent.",
            )?,
            ledger_audited_at: gauge(
                "ledger_audit_timestamp_seconds",
                "Unix time of the last successful ledger audit.",
            )?,
            registry,
        })
    }

    /// Counts one answered request. `route` is the matched template or [`UNMATCHED_ROUTE`].
    pub fn observe_request(
        &self,
        method: &Method,
        route: &str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let labels = [method_label(method), route, status.as_str()];
        if let Ok(counter) = self.http_requests.get_metric_with_label_values(&labels) {
            counter.inc();
        }
        if let Ok(histogram) = self.http_duration.get_metric_with_label_values(&labels) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }

    /// Counts one responder call that took `elapsed` and ended with `error`, if any.
    pub fn observe_responder(&self, elapsed: Duration, error: Option<&ResponderError>) {
        self.responder_duration.observe(elapsed.as_secs_f64());
        let index = match error {
            None => return,
            Some(ResponderError::Failed(_)) => 0,
            Some(ResponderError::Timeout) => 1,
            Some(ResponderError::Busy { .. }) => 2,
        };
        self.responder_errors[index].inc();
    }

    /// Records a ledger audit: the summed drift, the pending charges, and when (Unix seconds).
    pub fn record_audit(&self, drift: i64, pending_charges: i64, at_unix_secs: i64) {
        self.ledger_drift.set(drift);
        self.pending_charges.set(pending_charges);
        self.ledger_audited_at.set(at_unix_secs);
    }

    /// Everything in the Prometheus text format (version 0.0.4), the pool read just now.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        if let Some(pool) = &self.pool {
            let usage = pool.storage.pool_usage();
            pool.max.set(usage.max.into());
            pool.in_use.set(usage.in_use.into());
            pool.idle.set(usage.idle.into());
            pool.waiting.set(usage.waiting.into());
        }
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        String::from_utf8(text).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

impl ChatMetrics for Metrics {
    fn chat_answered(&self, charged: Tokens) {
        self.chats_answered.inc();
        self.tokens_spent
            .inc_by(u64::try_from(charged.get()).unwrap_or_default());
    }

    fn insufficient_tokens(&self) {
        self.insufficient_tokens.inc();
    }

    fn refunded(&self, cause: RefundCause, count: u64) {
        let index = RefundCause::ALL
            .iter()
            .position(|known| *known == cause)
            .unwrap_or_default();
        self.refunds[index].inc_by(count);
    }
}

/// The `method` label: the standard methods by name, anything else as `OTHER`, so a client
/// inventing methods cannot create series.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(metrics: &Metrics, line_start: &str) -> Option<f64> {
        metrics
            .render()
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix(line_start))
            .map(|value| value.trim().parse().unwrap())
    }

    #[test]
    fn requests_are_counted_by_method_route_template_and_status() {
        let metrics = Metrics::new(None).unwrap();
        let elapsed = Duration::from_millis(3);
        metrics.observe_request(&Method::POST, "/chatView/", StatusCode::OK, elapsed);
        metrics.observe_request(&Method::POST, "/chatView/", StatusCode::OK, elapsed);
        let invented = Method::from_bytes(b"BREW").unwrap();
        metrics.observe_request(&invented, UNMATCHED_ROUTE, StatusCode::NOT_FOUND, elapsed);
        let ok = r#"http_requests_total{method="POST",route="/chatView/",status="200"}"#;
        assert_eq!(sample(&metrics, ok), Some(2.0));
        let unknown = r#"http_requests_total{method="OTHER",route="unmatched",status="404"}"#;
        assert_eq!(sample(&metrics, unknown), Some(1.0));
        let within_5ms = r#"http_request_duration_seconds_bucket{method="POST",route="/chatView/",status="200",le="0.005"}"#;
        assert_eq!(sample(&metrics, within_5ms), Some(2.0));
    }

    #[test]
    fn chat_outcomes_refunds_and_responder_errors_have_their_series() {
        let metrics = Metrics::new(None).unwrap();
        metrics.chat_answered(Tokens::new(100));
        metrics.chat_answered(Tokens::new(100));
        metrics.insufficient_tokens();
        metrics.refunded(RefundCause::Expired, 3);
        metrics.observe_responder(Duration::from_millis(20), Some(&ResponderError::Timeout));
        metrics.record_audit(7, 2, 1_700_000_000);
        assert_eq!(sample(&metrics, "chats_answered_total "), Some(2.0));
        assert_eq!(sample(&metrics, "tokens_spent_total "), Some(200.0));
        assert_eq!(
            sample(&metrics, "chats_refused_insufficient_tokens_total "),
            Some(1.0)
        );
        assert_eq!(
            sample(&metrics, r#"refunds_total{cause="expired"}"#),
            Some(3.0)
        );
        assert_eq!(
            sample(&metrics, r#"refunds_total{cause="responder_failed"}"#),
            Some(0.0),
            "every cause is exported from the start"
        );
        assert_eq!(
            sample(&metrics, r#"responder_errors_total{error="timeout"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&metrics, "responder_duration_seconds_count "),
            Some(1.0)
        );
        assert_eq!(sample(&metrics, "ledger_drift "), Some(7.0));
        assert_eq!(sample(&metrics, "pending_charges "), Some(2.0));
    }
}
