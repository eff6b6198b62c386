//! Polling sessions by sid. Each holds its Engine.IO state machine, its
//! Socket.IO layer, its place in its address's connection count, and a
//! pump task: it moves the hub connection's queue into the session's
//! outbox (stamping each frame with the recovery token, in order), runs the
//! Engine.IO timers (pings, ping timeout, upgrade timeout), and once the
//! session is over leaves the hub and forgets the sid. On an upgrade the
//! pump stops and hands its recovery positions to the WebSocket.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use herald_core::{Connection, DisconnectReason};
use herald_socketio::engineio::{CloseReason, EngineSession, Outgoing as EngineOut, Transport};
use herald_socketio::events::RecoveryVector;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::closing_packets;
use super::events::SocketIoSocket;
use super::framing::Stamper;
use crate::app::App;
use crate::limits::IpSlot;

/// The polling sessions of this node.
#[derive(Default)]
pub struct Sessions {
    by_sid: Mutex<HashMap<String, Arc<PollingSession>>>,
}

impl Sessions {
    /// The session `sid`, if this node has it.
    pub fn get(&self, sid: &str) -> Option<Arc<PollingSession>> {
        self.by_sid.lock().get(sid).cloned()
    }

    fn insert(&self, session: Arc<PollingSession>) {
        self.by_sid.lock().insert(session.sid.clone(), session);
    }

    /// Forget `sid`.
    pub fn remove(&self, sid: &str) {
        self.by_sid.lock().remove(sid);
    }

    /// How many sessions this node holds.
    pub fn len(&self) -> usize {
        self.by_sid.lock().len()
    }

    /// Whether this node holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One Engine.IO session opened on polling.
pub struct PollingSession {
    /// Its id.
    pub sid: String,
    /// The Engine.IO state machine (never locked across an await).
    pub engine: Mutex<EngineSession>,
    /// Wakes the waiting GET: something was queued, or the session changed.
    pub wake: Notify,
    /// The Socket.IO layer; taken by the WebSocket on upgrade.
    pub socket: tokio::sync::Mutex<Option<SocketIoSocket>>,
    /// The hub connection, once CONNECT succeeded (the pump drains it).
    conn: Mutex<Option<Arc<Connection>>>,
    /// Wakes the pump: a connection, a close, or an upgrade.
    changed: Notify,
    pump: Mutex<Option<JoinHandle<Option<Stamper>>>>,
    /// The pump ended the session: a late CONNECT must not stay in the hub.
    over: AtomicBool,
    _slot: IpSlot,
}

impl PollingSession {
    /// Open a session (its `open` packet is queued) and start its pump.
    pub fn open(app: &Arc<App>, engine: EngineSession, socket: SocketIoSocket, slot: IpSlot) -> Arc<Self> {
        let session = Arc::new(PollingSession {
            sid: engine.sid().to_string(),
            engine: Mutex::new(engine),
            wake: Notify::new(),
            socket: tokio::sync::Mutex::new(Some(socket)),
            conn: Mutex::new(None),
            changed: Notify::new(),
            pump: Mutex::new(None),
            over: AtomicBool::new(false),
            _slot: slot,
        });
        app.socketio.sessions.insert(session.clone());
        let handle = tokio::spawn(pump(app.clone(), session.clone()));
        *session.pump.lock() = Some(handle);
        session
    }

    /// The Socket.IO layer connected: its queue goes to this session (or,
    /// when the session ended meanwhile, the connection leaves the hub).
    pub fn connected(&self, app: &App, conn: Arc<Connection>) {
        let mut slot = self.conn.lock();
        if self.over.load(Ordering::Acquire) {
            drop(slot);
            app.hub.disconnect(&conn);
            return;
        }
        *slot = Some(conn);
        drop(slot);
        self.changed.notify_one();
    }

    /// Something changed the state: wake the waiting GET and the pump.
    pub fn poke(&self) {
        self.wake.notify_waiters();
        self.changed.notify_one();
    }

    /// Queue packets for the client.
    pub fn send(&self, packets: impl IntoIterator<Item = bytes::Bytes>) {
        let mut engine = self.engine.lock();
        for p in packets {
            if let Some(out) = EngineOut::text_bytes(p) {
                let _ = engine.send(out);
            }
        }
    }

    /// The server ends the session: `reason`'s packets, then a graceful close.
    pub fn end(&self, reason: DisconnectReason) {
        self.send(closing_packets(reason));
        self.engine.lock().close(CloseReason::ServerClose);
        self.poke();
    }

    /// Stop the pump for the upgrade: the recovery positions, or `None`
    /// when the session is already over.
    pub async fn hand_over(&self) -> Option<Stamper> {
        self.changed.notify_one();
        let handle = self.pump.lock().take()?;
        handle.await.ok().flatten()
    }
}

fn deadline(at: Option<Instant>) -> tokio::time::Instant {
    match at {
        Some(at) => tokio::time::Instant::from_std(at),
        None => tokio::time::Instant::now() + Duration::from_secs(3600),
    }
}

async fn next_batch(
    conn: &Option<Arc<Connection>>,
    batch: &mut Vec<herald_core::Outgoing>,
) -> Result<(), DisconnectReason> {
    match conn {
        Some(conn) => conn.outbound.next_batch(batch).await,
        None => std::future::pending().await,
    }
}

/// When the session must end whatever the client does: no CONNECT by
/// `connect_by`, or the connection's token expired (on WebSocket the door
/// runtime watches the expiry).
fn session_deadline(conn: Option<&Connection>, connect_by: Instant) -> (Option<Instant>, DisconnectReason) {
    match conn {
        None => (Some(connect_by), DisconnectReason::ConnectTimeout),
        Some(conn) => {
            let at = conn
                .identity()
                .expires_at_ms
                .map(|exp| Instant::now() + Duration::from_millis(exp.saturating_sub(herald_core::now_ms())));
            (at, DisconnectReason::TokenExpired)
        }
    }
}

async fn pump(app: Arc<App>, session: Arc<PollingSession>) -> Option<Stamper> {
    let cfg = &app.config.socketio;
    let mut stamper = Stamper::new(RecoveryVector::new(), cfg.max_recovery_token);
    let mut batch = Vec::new();
    let sent = metrics::counter!("herald_frames_sent_total", "door" => super::DOOR);
    // Until CONNECT: the connect timeout; then the token's expiry.
    let connect_by = Instant::now() + cfg.connect_timeout();
    loop {
        let conn = session.conn.lock().clone();
        let (next, due) = {
            let engine = session.engine.lock();
            if engine.transport() == Transport::Websocket {
                return Some(stamper);
            }
            if engine.closed().is_some() {
                break;
            }
            let (due, reason) = session_deadline(conn.as_deref(), connect_by);
            if due.is_some_and(|at| at <= Instant::now()) {
                drop(engine);
                session.end(reason);
                continue;
            }
            (engine.next_deadline(), due)
        };
        let next = [next, due].into_iter().flatten().min();
        tokio::select! {
            r = next_batch(&conn, &mut batch) => match r {
                Ok(()) => {
                    let mut engine = session.engine.lock();
                    for item in batch.drain(..) {
                        if item.frame.is_empty() {
                            continue;
                        }
                        sent.increment(1);
                        if engine.send(EngineOut::Text(stamper.text(&item))).is_err() {
                            break;
                        }
                    }
                    if engine.closed() == Some(CloseReason::SlowConsumer)
                        && let Some(conn) = &conn
                    {
                        conn.outbound.close(DisconnectReason::SlowConsumer, false);
                    }
                    drop(engine);
                    session.wake.notify_waiters();
                }
                Err(reason) => {
                    if reason == DisconnectReason::SlowConsumer
                        && let Some(conn) = conn.as_deref()
                    {
                        // A polling client that stopped polling (or a full hub queue): counted and logged as on every door.
                        crate::door::slow_consumer::record(super::DOOR, conn.id(), crate::door::slow_consumer::Cause::QueueFull);
                    }
                    metrics::counter!("herald_disconnects_total", "reason" => reason.name(), "door" => super::DOOR)
                        .increment(1);
                    session.end(reason);
                }
            },
            () = tokio::time::sleep_until(deadline(next)) => {
                let outcome = session.engine.lock().on_timer(Instant::now());
                if outcome.pinged || outcome.closed {
                    session.wake.notify_waiters();
                }
            }
            () = session.changed.notified() => {}
        }
    }
    // Over: leave the hub, let the last poll collect what is queued, forget the sid.
    let conn = {
        let mut slot = session.conn.lock();
        session.over.store(true, Ordering::Release);
        slot.take()
    };
    if let Some(conn) = conn {
        app.hub.disconnect(&conn);
        conn.outbound.close(DisconnectReason::Disconnected, false);
    }
    session.wake.notify_waiters();
    let grace = tokio::time::Instant::now() + Duration::from_millis(cfg.closed_session_grace_ms);
    while !session.engine.lock().finished() && tokio::time::Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.socketio.sessions.remove(&session.sid);
    tracing::debug!(sid = %session.sid, reason = ?session.engine.lock().closed(), "polling session over");
    None
}
