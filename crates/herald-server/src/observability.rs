//! Logs (tracing, pretty or JSON) and Prometheus metrics.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the log subscriber. `RUST_LOG` overrides the default `info` filter.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Install the Prometheus recorder; `None` if one is already installed.
pub fn init_metrics() -> Option<PrometheusHandle> {
    let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
    let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets).ok()?;
    let handle = builder.install_recorder().ok()?;
    describe();
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("herald_connections", "Open client connections on this node");
    describe_gauge!("herald_subscriptions", "Channel subscriptions on this node");
    describe_counter!("herald_messages_received_total", "Frames received from clients");
    describe_counter!("herald_messages_published_total", "Publications accepted");
    describe_counter!("herald_messages_delivered_total", "Publications queued to subscribers");
    describe_counter!("herald_frames_sent_total", "Frames written to sockets");
    describe_counter!(
        "herald_slow_consumer_disconnects_total",
        "Connections cut as slow consumers (outbound queue full, or a socket write past the write timeout), by door"
    );
    describe_counter!("herald_disconnects_total", "Server-initiated disconnects by reason");
    describe_counter!("herald_recoveries_total", "Subscriptions that asked to recover, by outcome");
    describe_histogram!("herald_publish_seconds", "Time from publish request to durable, ordered publication");
    describe_histogram!("herald_store_commit_seconds", "Time to commit one batch of publications");
}
