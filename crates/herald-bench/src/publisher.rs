//! The paced publisher: one connection publishing through the target's own
//! WebSocket publish path at a fixed rate. Each message carries two stamps:
//! when it was actually sent and when it was *scheduled* to be sent. A
//! publisher that stalls keeps the schedule, so latency measured from the
//! scheduled time includes any queueing it would otherwise hide.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::clock::{instant_of, now_ns};
use crate::wire::{self, Dialect};

/// What the publisher did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PublishStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages scheduled at or after the measurement start.
    pub measured: u64,
    /// Replies received (native dialect only).
    pub replies: u64,
    /// Error replies received.
    pub errors: u64,
    /// Largest delay between a message's scheduled and actual send time, µs.
    pub max_send_lag_us: u64,
}

/// A publisher connection, set up and ready.
pub struct Publisher {
    conn: wire::Conn,
    dialect: Dialect,
}

impl Publisher {
    /// Connects a publisher (source address 127.0.0.1).
    pub async fn connect(server: SocketAddr, dialect: Dialect) -> anyhow::Result<Self> {
        let mut conn = wire::open(server, [127, 0, 0, 1].into(), dialect.path()).await.context("publisher connect")?;
        conn.publisher_setup(dialect).await.context("publisher set-up")?;
        Ok(Self { conn, dialect })
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
        let pad = wire::padding(size);
        let interval = 1e9 / rate.max(0.001);
        let mut stats = PublishStats::default();
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
                    self.conn.send_text(&text).await.context("publish")?;
                    stats.sent += 1;
                    if sched >= measure_from_ns {
                        stats.measured += 1;
                    }
                    k += 1;
                }
                n = self.conn.read_more() => {
                    if n.context("publisher read")? == 0 {
                        anyhow::bail!("the server closed the publisher's connection");
                    }
                    let (r, e) = self.conn.publisher_drain(self.dialect).await?;
                    stats.replies += r;
                    stats.errors += e;
                }
            }
        }
        // Collect outstanding replies for a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while self.dialect == Dialect::Native && stats.replies < stats.sent {
            match tokio::time::timeout_at(deadline, self.conn.read_more()).await {
                Ok(Ok(n)) if n > 0 => {
                    let (r, e) = self.conn.publisher_drain(self.dialect).await?;
                    stats.replies += r;
                    stats.errors += e;
                }
                _ => break,
            }
        }
        Ok(stats)
    }
}
