//! The paced publisher: one connection publishing through the target's own
//! publish path at a fixed rate (a WebSocket publish, or for Pusher servers
//! a signed trigger on the HTTP API, as a Pusher app's backend publishes). Each message carries two stamps:
//! when it was actually sent and when it was *scheduled* to be sent. A
//! publisher that stalls keeps the schedule, so latency measured from the
//! scheduled time includes any queueing it would otherwise hide.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::clock::{instant_of, now_ns};
use crate::pusher_api::TriggerClient;
use crate::wire::{self, Dialect};

/// What the publisher did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PublishStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages scheduled at or after the measurement start.
    pub measured: u64,
    /// Of those, per channel number (message `k` goes to channel `k % channels`).
    pub measured_per_channel: Vec<u64>,
    /// Replies received (native dialect and Pusher HTTP responses).
    pub replies: u64,
    /// Error replies received.
    pub errors: u64,
    /// Largest delay between a message's scheduled and actual send time, µs.
    pub max_send_lag_us: u64,
    /// The first error reply (Pusher HTTP API: status line, headers, body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// How the publisher reaches the server.
enum Link {
    /// A WebSocket connection speaking the target's dialect.
    Ws(wire::Conn),
    /// Pusher's HTTP API.
    PusherHttp(TriggerClient),
}

impl Link {
    async fn publish(&mut self, text: &str) -> std::io::Result<()> {
        match self {
            Link::Ws(conn) => conn.send_text(text).await,
            Link::PusherHttp(client) => client.trigger(text).await,
        }
    }

    async fn read_more(&mut self) -> std::io::Result<usize> {
        match self {
            Link::Ws(conn) => conn.read_more().await,
            Link::PusherHttp(client) => client.read_more().await,
        }
    }

    /// Handles what was read: (replies, error replies).
    async fn drain(&mut self, dialect: Dialect) -> std::io::Result<(u64, u64)> {
        match self {
            Link::Ws(conn) => conn.publisher_drain(dialect).await,
            Link::PusherHttp(client) => client.drain(),
        }
    }

    /// Whether every publish gets a reply to wait for at the end.
    fn replies(&self, dialect: Dialect) -> bool {
        matches!(self, Link::PusherHttp(_)) || dialect == Dialect::Native
    }
}

/// A publisher connection, set up and ready.
pub struct Publisher {
    link: Link,
    dialect: Dialect,
}

impl Publisher {
    /// Connects a publisher (source address 127.0.0.1).
    pub async fn connect(server: SocketAddr, dialect: Dialect) -> anyhow::Result<Self> {
        let link = if dialect == Dialect::Pusher {
            Link::PusherHttp(TriggerClient::connect(server).await.context("publisher connect (Pusher HTTP API)")?)
        } else {
            let mut conn =
                wire::open(server, [127, 0, 0, 1].into(), dialect.path()).await.context("publisher connect")?;
            conn.publisher_setup(dialect).await.context("publisher set-up")?;
            Link::Ws(conn)
        };
        Ok(Self { link, dialect })
    }

    /// Publishes `rate` messages per second of about `size` bytes from
    /// `start_ns` until `end_ns`; messages scheduled at or after
    /// `measure_from_ns` count as measured. Message `k` goes to channel
    /// `k % channels`.
    pub async fn run(
        mut self,
        rate: f64,
        size: usize,
        start_ns: u64,
        end_ns: u64,
        measure_from_ns: u64,
        channels: usize,
    ) -> anyhow::Result<PublishStats> {
        let names: Vec<String> = (0..channels.max(1)).map(wire::channel_name).collect();
        // A Phoenix client may push only to topics it has joined.
        if let (Dialect::Supabase, Link::Ws(conn)) = (self.dialect, &mut self.link) {
            for (i, name) in names.iter().enumerate() {
                conn.phoenix_join(name, i + 1).await.context("publisher phx_join")?;
            }
        }
        let pad = wire::padding(size);
        let interval = 1e9 / rate.max(0.001);
        let mut stats = PublishStats { measured_per_channel: vec![0; names.len()], ..PublishStats::default() };
        let mut k: u64 = 0;
        loop {
            let sched = start_ns + (k as f64 * interval) as u64;
            if sched >= end_ns {
                break;
            }
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(instant_of(sched).into()) => {
                    let sent = now_ns();
                    stats.max_send_lag_us = stats.max_send_lag_us.max(sent.saturating_sub(sched) / 1000);
                    let channel = &names[(k as usize) % names.len()];
                    let text = wire::publish_text(self.dialect, channel, k + 10, sent, sched, &pad);
                    self.link.publish(&text).await.context("publish")?;
                    stats.sent += 1;
                    if sched >= measure_from_ns {
                        stats.measured += 1;
                        stats.measured_per_channel[(k as usize) % names.len()] += 1;
                    }
                    k += 1;
                }
                n = self.link.read_more() => {
                    if n.context("publisher read")? == 0 {
                        anyhow::bail!("the server closed the publisher's connection");
                    }
                    let (r, e) = self.link.drain(self.dialect).await?;
                    stats.replies += r;
                    stats.errors += e;
                }
            }
        }
        // Collect outstanding replies for a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while self.link.replies(self.dialect) && stats.replies < stats.sent {
            match tokio::time::timeout_at(deadline, self.link.read_more()).await {
                Ok(Ok(n)) if n > 0 => {
                    let (r, e) = self.link.drain(self.dialect).await?;
                    stats.replies += r;
                    stats.errors += e;
                }
                _ => break,
            }
        }
        if let Link::PusherHttp(client) = &mut self.link {
            stats.first_error = client.first_error.take();
        }
        Ok(stats)
    }
}
