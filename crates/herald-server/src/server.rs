//! The HTTP server: routes, serving, and graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Response, StatusCode, header};
use axum::routing::get;
use herald_core::DisconnectReason;

use crate::app::App;

/// Largest HTTP API request body, bytes.
pub const MAX_HTTP_BODY: usize = 1024 * 1024;

/// All routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ws", get(crate::native::upgrade::ws_upgrade))
        .route("/yjs/{room}", get(crate::yjs::upgrade::yjs_upgrade))
        .merge(crate::sse::router())
        .merge(crate::pusher::router())
        .merge(crate::socketio::router(&app))
        .merge(crate::supabase::router())
        .merge(crate::ably::router())
        .nest("/api", crate::http_api::router(app.clone()))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_HTTP_BODY))
        .with_state(app)
}

async fn readyz(State(app): State<Arc<App>>) -> Response<Body> {
    let mut ready = !app.shutting_down() && app.hub.broker().ready().await;
    let mut text = if ready { "ready".to_string() } else { "not ready".to_string() };
    // The change feed's reason says what to fix (wal_level, REPLICATION, …).
    if let Some(reason) = app.changes.as_ref().and_then(|c| c.status.not_ready_reason()) {
        ready = false;
        text = format!("not ready: {reason}");
    }
    let mut resp = Response::new(Body::from(text));
    if !ready {
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    resp
}

async fn metrics(State(app): State<Arc<App>>) -> Response<Body> {
    let text = app.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; version=0.0.4"));
    resp
}

/// Serve on `listener` until `shutdown` resolves, then close every client
/// with "server going away, reconnect", wait up to the grace period, and
/// flush the store.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let tls = tls_acceptor(&app)?;
    let server_task = tokio::spawn(crate::accept::serve(app.clone(), listener, tls, router(app.clone()), stop));
    shutdown.await;
    tracing::info!("shutting down: telling clients to reconnect elsewhere");
    app.begin_shutdown();
    let _ = stop_tx.send(());
    app.hub.close_all(DisconnectReason::Shutdown);
    let grace = Duration::from_secs(app.config.shutdown_grace_secs);
    let deadline = Instant::now() + grace;
    while app.hub.connection_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(docs) = &app.docs {
        docs.flush().await;
    }
    if let Some(changes) = &app.changes {
        changes.stop();
    }
    app.hub.broker().close().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), server_task).await;
    tracing::info!("stopped");
    Ok(())
}

fn tls_acceptor(app: &App) -> std::io::Result<Option<tokio_rustls::TlsAcceptor>> {
    let t = &app.config.tls;
    match (&t.cert_file, &t.key_file) {
        (Some(cert), Some(key)) => crate::tls::acceptor(cert, key).map(Some).map_err(std::io::Error::other),
        (None, None) => Ok(None),
        _ => Err(std::io::Error::other("TLS needs both tls.cert_file and tls.key_file")),
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
