//! The one admission gate every door goes through before it serves a
//! client: shutting down → origin → client address (behind trusted
//! proxies) → that address's connection rate and slot → credentials; and,
//! for WebSocket doors, the upgrade itself (permessage-deflate negotiation,
//! the 101). Every refusal is a [`HeraldError`] the door answers with the
//! protocol's JSON body (`crate::api_error::ApiError`) before anything else.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri, header};
use herald_core::{ErrorCode, HeraldError, Identity};
use herald_ws::handshake::{self, DeflateConfig, DeflateParams, Negotiated};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tracing::Instrument;

use crate::accept::PendingConnection;
use crate::app::App;
use crate::limits::IpSlot;

/// Cookie that may carry the token (for `EventSource`, which cannot set headers).
pub const TOKEN_COOKIE: &str = "herald_token";

/// Where a door reads the client's token at admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Not at admission: the native door reads it from its `connect` frame,
    /// Pusher sockets are anonymous (they sign each subscription instead).
    Later,
    /// The `token` query parameter (y-websocket's `params` option).
    QueryParam,
    /// `token=` (once), else `Authorization: Bearer`, else the
    /// `herald_token` cookie (the SSE door: `EventSource` sets no headers).
    QueryHeaderOrCookie,
}

/// A client the gate let in.
pub struct Admitted {
    /// Its real address.
    pub client_ip: IpAddr,
    /// Its place in its address's connection count; hold it while the connection lasts.
    pub slot: IpSlot,
    /// Its identity, when the door's [`Credentials`] are read at admission.
    pub identity: Option<Identity>,
}

impl Admitted {
    /// The identity read at admission (a door whose [`Credentials`] are not
    /// [`Credentials::Later`]); unauthorized otherwise.
    pub fn take_identity(&mut self) -> Result<Identity, HeraldError> {
        self.identity.take().ok_or_else(|| HeraldError::new(ErrorCode::Unauthorized, "no credentials were read"))
    }
}

/// Admit a client of any door, in the order every door shares.
pub fn admit(
    app: &App,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    credentials: Credentials,
) -> Result<Admitted, HeraldError> {
    if app.shutting_down() {
        return Err(HeraldError::unavailable("server is shutting down; connect to another node"));
    }
    check_origin(app, headers)?;
    let client_ip = client_ip(app, peer, headers);
    // A direct client's socket was counted against its address's rate when
    // it was accepted (`crate::accept`); a proxy's clients are counted here.
    let slot = app.limits.admit_connection(client_ip, !app.proxies.trusts(peer.ip()))?;
    let identity = match credentials {
        Credentials::Later => None,
        Credentials::QueryParam => Some(app.auth.authenticate(query_token(uri.query()).as_deref())?),
        Credentials::QueryHeaderOrCookie => Some(app.auth.authenticate(request_token(uri, headers)?.as_deref())?),
    };
    Ok(Admitted { client_ip, slot, identity })
}

/// Admit a WebSocket client: [`admit`], then [`upgrade`].
pub fn admit_websocket(
    app: &App,
    peer: SocketAddr,
    req: &mut Request<Body>,
    credentials: Credentials,
    compression: Compression,
) -> Result<(Admitted, Upgrade), HeraldError> {
    let admitted = admit(app, peer, req.uri(), req.headers(), credentials)?;
    let upgrade = upgrade(app, req, compression)?;
    Ok((admitted, upgrade))
}

/// The client's real address (behind trusted proxies).
pub fn client_ip(app: &App, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    app.proxies.client_ip(peer.ip(), headers)
}

/// Refuse a browser page from an origin the server does not allow.
pub fn check_origin(app: &App, headers: &HeaderMap) -> Result<(), HeraldError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if app.auth.origins.allows(origin) {
        return Ok(());
    }
    metrics::counter!("herald_origin_refused_total").increment(1);
    Err(HeraldError::new(ErrorCode::PermissionDenied, format!("origin {} is not allowed", origin.unwrap_or(""))))
}

/// The first `token` query parameter.
fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
}

/// The token from `token=`, else `Authorization: Bearer`, else the `herald_token` cookie.
pub fn request_token(uri: &Uri, headers: &HeaderMap) -> Result<Option<String>, HeraldError> {
    let mut given = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).filter(|(k, _)| k == "token");
    if let Some((_, t)) = given.next() {
        if given.next().is_some() {
            return Err(HeraldError::bad_request("\"token\" given more than once"));
        }
        return Ok(Some(t.into_owned()));
    }
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let bearer = v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        return match bearer {
            Some(t) if !t.is_empty() => Ok(Some(t.to_string())),
            _ => Err(HeraldError::new(ErrorCode::Unauthorized, "Authorization must be \"Bearer <token>\"")),
        };
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == TOKEN_COOKIE)
        .map(|(_, v)| v.to_string());
    Ok(cookie)
}

/// Whether a WebSocket door offers permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// As `[websocket] compression` says (the native door).
    Configured,
    /// Never (Pusher and y-websocket frames are small or already compact).
    Off,
}

/// A valid WebSocket upgrade, negotiated and ready for its 101.
pub struct Upgrade {
    /// The negotiated permessage-deflate parameters, if any.
    pub deflate: Option<DeflateParams>,
    negotiated: Negotiated,
    on_upgrade: hyper::upgrade::OnUpgrade,
    pending: Option<PendingConnection>,
}

/// Validate a WebSocket upgrade request and negotiate its extensions.
pub fn upgrade(app: &App, req: &mut Request<Body>, compression: Compression) -> Result<Upgrade, HeraldError> {
    let ws = &app.config.websocket;
    let deflate = match compression {
        Compression::Configured => {
            DeflateConfig { enabled: ws.compression, threshold: ws.compression_threshold, level: ws.compression_level }
        }
        Compression::Off => DeflateConfig { enabled: false, ..DeflateConfig::default() },
    };
    let negotiated = handshake::negotiate(req.headers(), &deflate)
        .map_err(|e| HeraldError::new(ErrorCode::BadRequest, format!("not a valid WebSocket upgrade: {e}")))?;
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return Err(HeraldError::bad_request("connection cannot be upgraded (HTTP/1.1 required)"));
    };
    let pending = req.extensions().get::<PendingConnection>().cloned();
    Ok(Upgrade { deflate: negotiated.deflate, negotiated, on_upgrade, pending })
}

/// The upgraded socket a door's session runs on.
pub type UpgradedIo = TokioIo<Upgraded>;

impl Upgrade {
    /// Answer 101 and run `session` on the upgraded socket (in `span`).
    pub fn start<F, Fut>(self, span: tracing::Span, session: F) -> Response<Body>
    where
        F: FnOnce(UpgradedIo, Option<DeflateParams>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Upgrade { deflate, negotiated, on_upgrade, pending } = self;
        // The door takes the connection over: it no longer counts as pending.
        if let Some(p) = pending {
            p.release();
        }
        tokio::spawn(
            async move {
                match on_upgrade.await {
                    Ok(upgraded) => session(TokioIo::new(upgraded), deflate).await,
                    Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                }
            }
            .instrument(span),
        );
        switching_protocols(negotiated)
    }
}

/// The 101 answer for a negotiated handshake.
fn switching_protocols(negotiated: Negotiated) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&negotiated.accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(ext) = negotiated.response_extensions {
        h.insert(header::SEC_WEBSOCKET_EXTENSIONS, ext);
    }
    resp
}
