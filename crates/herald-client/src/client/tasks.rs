//! The socket: TCP connect and WebSocket handshake, and the two tasks that
//! own it — the writer (requests, pongs, close) and the reader (replies to
//! waiting requests, pushes to the channel, pings, the close handshake).

use super::*;

/// TCP connect (with the socket options asked for) and WebSocket handshake.
pub(super) async fn open_socket(url: &str, opts: &ConnectOptions) -> Result<Ws, ClientError> {
    let mut request = url.into_client_request()?;
    let uri = request.uri().clone();
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => return Err(ClientError::Protocol("wss:// (TLS) is not supported by this client".into())),
        other => return Err(ClientError::Protocol(format!("URL scheme must be ws://, got {other:?}"))),
    }
    let host = uri.host().ok_or_else(|| ClientError::Protocol(format!("URL {url} has no host")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    for (name, value) in &opts.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| ClientError::Protocol(format!("bad header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| ClientError::Protocol(format!("bad header value {value:?}: {e}")))?;
        request.headers_mut().append(name, value);
    }

    let mut last_err = None;
    let mut stream = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match tcp_connect(addr, opts.recv_buffer_size).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let stream = match (stream, last_err) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(e.into()),
        (None, None) => return Err(ClientError::Protocol(format!("host {host} resolved to no address"))),
    };

    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_SIZE);
    let (ws, _response) = tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    Ok(ws)
}

async fn tcp_connect(addr: SocketAddr, recv_buffer_size: Option<u32>) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(size) = recv_buffer_size {
        socket.set_recv_buffer_size(size)?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes queued frames, flushing once per batch. When every [`Client`]
/// handle is gone it sends a normal close.
pub(super) async fn writer_task(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    'outer: while let Some(item) = rx.recv().await {
        let Outgoing::Message(msg) = item else { return };
        if let Err(e) = sink.feed(msg).await {
            tracing::debug!(error = %e, "herald client: write failed");
            break;
        }
        while let Ok(item) = rx.try_recv() {
            let Outgoing::Message(msg) = item else {
                let _ = sink.flush().await;
                return;
            };
            if let Err(e) = sink.feed(msg).await {
                tracing::debug!(error = %e, "herald client: write failed");
                break 'outer;
            }
        }
        if let Err(e) = sink.flush().await {
            tracing::debug!(error = %e, "herald client: flush failed");
            break;
        }
    }
    // Either the client was dropped (send a close) or writing failed (the
    // close will fail too; the reader reports how the socket ended).
    let frame = CloseFrame { code: CloseCode::Normal, reason: "client dropped".into() };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// Reads frames, answers pings, routes replies and pushes.
pub(super) struct Reader {
    pub(super) stream: SplitStream<Ws>,
    pub(super) shared: Arc<Shared>,
    pub(super) pushes: mpsc::UnboundedSender<Push>,
    pub(super) out: mpsc::WeakUnboundedSender<Outgoing>,
    pub(super) paused: watch::Receiver<bool>,
    pub(super) auto_pong: bool,
}

impl Reader {
    pub(super) async fn run(mut self) {
        let end = self.read_loop().await;
        tracing::debug!(code = ?end.code, reason = %end.reason, "herald client: connection closed");
        let waiting: Vec<_> = {
            let mut st = self.shared.lock();
            st.closed = Some(end.clone());
            st.pending.drain().map(|(_, tx)| tx).collect()
        };
        for tx in waiting {
            let _ = tx.send(Err(end.clone().into()));
        }
        self.shared.closed_tx.send_replace(Some(end.clone()));
        let _ = self.pushes.send(Push::Closed { code: end.code, reason: end.reason });
        if let Some(out) = self.out.upgrade() {
            let _ = out.send(Outgoing::Shutdown);
        }
    }

    /// Reads until the socket ends; returns how it ended.
    async fn read_loop(&mut self) -> CloseInfo {
        let mut close_frame: Option<CloseInfo> = None;
        // Set once the Client is dropped: the closing handshake gets this long.
        let mut give_up_at: Option<Instant> = None;
        loop {
            if give_up_at.is_none() && *self.paused.borrow_and_update() {
                if self.paused.changed().await.is_err() {
                    give_up_at = Some(Instant::now() + CLOSE_GRACE);
                }
                continue;
            }
            let msg = tokio::select! {
                changed = self.paused.changed(), if give_up_at.is_none() => {
                    if changed.is_err() {
                        give_up_at = Some(Instant::now() + CLOSE_GRACE);
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(give_up_at.unwrap_or_else(Instant::now)), if give_up_at.is_some() => {
                    return close_frame.unwrap_or_else(|| CloseInfo {
                        code: None,
                        reason: "client dropped; no closing handshake".into(),
                    });
                }
                msg = self.stream.next() => msg,
            };
            match msg {
                None => {
                    return close_frame.unwrap_or_else(|| CloseInfo {
                        code: None,
                        reason: "connection ended without a close frame".into(),
                    });
                }
                Some(Err(e)) => {
                    return close_frame.unwrap_or_else(|| CloseInfo { code: None, reason: e.to_string() });
                }
                Some(Ok(Message::Text(text))) => self.on_text(text.as_str()),
                Some(Ok(Message::Binary(data))) => match std::str::from_utf8(&data) {
                    Ok(text) => self.on_text(text),
                    Err(_) => {
                        tracing::warn!(len = data.len(), "herald client: binary frame that is not UTF-8");
                        let _ = self
                            .pushes
                            .send(Push::Other(Value::String(format!("<binary frame of {} bytes>", data.len()))));
                    }
                },
                Some(Ok(Message::Close(frame))) => {
                    // Keep reading: the library answers the close and then ends the stream.
                    close_frame = Some(match frame {
                        Some(f) => CloseInfo { code: Some(f.code.into()), reason: f.reason.as_str().to_owned() },
                        None => CloseInfo { code: None, reason: "close frame without a code".into() },
                    });
                }
                Some(Ok(_)) => {} // WebSocket ping/pong: answered by the library.
            }
        }
    }

    fn on_text(&self, text: &str) {
        match parse_incoming(text) {
            Incoming::Reply { id, result } => {
                let result = result.map_err(ClientError::Server);
                self.deliver_reply(id, result);
            }
            Incoming::BadReply { id, problem } => self.deliver_reply(id, Err(ClientError::Protocol(problem))),
            Incoming::Push(Push::Ping) if self.auto_pong => {
                if let Some(out) = self.out.upgrade() {
                    let _ = out.send(Outgoing::Message(Message::text(frames::PONG)));
                }
            }
            Incoming::Push(push) => {
                let _ = self.pushes.send(push);
            }
        }
    }

    fn deliver_reply(&self, id: u64, result: ReplyResult) {
        let waiter = self.shared.lock().pending.remove(&id);
        let result = match waiter {
            Some(tx) => match tx.send(result) {
                Ok(()) => return,
                Err(result) => result,
            },
            None => result,
        };
        // Nobody waits for it: hand it to the push queue.
        let result = match result {
            Ok(raw) => Ok(raw_to_value(&raw)),
            Err(ClientError::Server(e)) => Err(e),
            Err(other) => Err(ServerError { code: 0, message: other.to_string(), temporary: false }),
        };
        let _ = self.pushes.send(Push::Reply { id, result });
    }
}
