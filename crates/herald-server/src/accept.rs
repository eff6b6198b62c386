//! Accepting connections, plain or TLS: each TCP connection passes the
//! per-address gate before anything is read from it (the new-connection rate
//! and the cap on connections no door has taken over yet, see
//! [`RateLimits::admit_accept`](crate::limits::RateLimits::admit_accept);
//! trusted proxies are exempt), then is served as HTTP/1 with a header-read
//! timeout (`[connection] header_read_timeout_secs`: idle before the first
//! request, between keep-alive requests, and a head sent slowly all end
//! there). A door that takes a connection over (a WebSocket upgrade, an SSE
//! stream) releases its pending place through [`PendingConnection`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::limits::PendingSlot;

/// The answer to a socket refused at the gate (written if the socket takes it at once).
const REFUSED: &[u8] =
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// An accepted connection's place among its address's connections that no
/// door has taken over yet; in every request's extensions. A door that takes
/// the connection over calls [`release`](Self::release).
#[derive(Clone, Default)]
pub struct PendingConnection(Arc<Mutex<Option<PendingSlot>>>);

impl PendingConnection {
    /// The connection is taken over (upgraded, streaming): it no longer counts as pending.
    pub fn release(&self) {
        self.0.lock().take();
    }
}

/// Accept connections on `listener` (TLS when `tls` is set) and serve
/// `router` on them until `stop` resolves; then connections still reading
/// requests finish the one in flight and close.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    stop: impl Future<Output = ()> + Send,
) {
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let header_timeout = Duration::from_secs(app.config.connection.header_read_timeout_secs.max(1));
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: let closing sockets free some.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let pending = PendingConnection::default();
        if !app.proxies.trusts(peer.ip()) {
            match app.limits.admit_accept(peer.ip()) {
                Ok(slot) => *pending.0.lock() = Some(slot),
                Err(e) => {
                    tracing::debug!(%peer, error = %e.message, "connection refused");
                    let _ = tcp.try_write(REFUSED);
                    continue;
                }
            }
        }
        let service = ConnectionService { router: TowerToHyperService::new(router.clone()), peer, pending };
        let stopping = stopping_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(tcp, service, header_timeout, stopping).await,
                Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => serve_connection(stream, service, header_timeout, stopping).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
            }
        });
    }
    let _ = stopping_tx.send(true);
}

/// Serve HTTP/1 (with upgrades) on one connection; on shutdown, finish the
/// request in flight and close.
async fn serve_connection<I>(
    io: I,
    service: ConnectionService,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let peer = service.peer;
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let stop = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let r = tokio::select! {
        r = conn.as_mut() => r,
        () = stop => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = r {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// The router for one connection: each request carries the peer's address
/// (`ConnectInfo`) and the connection's [`PendingConnection`].
#[derive(Clone)]
struct ConnectionService {
    router: TowerToHyperService<Router>,
    peer: SocketAddr,
    pending: PendingConnection,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<Incoming>>>::Response;
    type Error = Infallible;
    type Future = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<Incoming>>>::Future;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        req.extensions_mut().insert(self.pending.clone());
        self.router.call(req)
    }
}
