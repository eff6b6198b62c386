//! Shared loopback harness: an echo server built from the crate's reader,
//! writer and frame builders, and a connected client.

#![allow(dead_code)]

use bytes::Bytes;
use herald_ws::client::TestClient;
use herald_ws::{
    DeflateConfig, DeflateParams, FrameEncoder, Message, ReaderConfig, WsError, WsReader, WsWriter, frame,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Server side settings for one test connection.
#[derive(Clone, Default)]
pub struct ServerOpts {
    pub cfg: ReaderConfig,
    /// When set, permessage-deflate is "negotiated": the reader accepts
    /// RSV1 and echoes are compressed with this configuration.
    pub deflate: Option<DeflateConfig>,
}

/// A connected pair over real loopback TCP.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.unwrap();
    client.set_nodelay(true).unwrap();
    (client, server.unwrap().0)
}

/// Echo loop: text/binary echoed (compressed when negotiated), pings
/// answered, close echoed. Returns every message received, or the error
/// after sending its close frame.
pub async fn serve(stream: TcpStream, opts: ServerOpts) -> Result<Vec<Message>, WsError> {
    let (rd, wr) = stream.into_split();
    let params = opts.deflate.as_ref().map(|_| DeflateParams::default());
    let mut reader = WsReader::new(rd, opts.cfg, params);
    let mut writer = WsWriter::new(wr);
    let mut encoder = opts.deflate.as_ref().map(FrameEncoder::new);
    let mut seen = Vec::new();
    loop {
        let msg = match reader.next().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return Ok(seen),
            Err(e) => {
                if let Some(close) = e.close_frame() {
                    let _ = writer.write_frame(&close).await;
                }
                let _ = writer.shutdown().await;
                return Err(e);
            }
        };
        let reply: Bytes = match (&msg, encoder.as_mut()) {
            (Message::Text(t), Some(enc)) => enc.text_deflated(t),
            (Message::Text(t), None) => frame::text(t),
            (Message::Binary(b), Some(enc)) => enc.binary_deflated(b),
            (Message::Binary(b), None) => frame::binary(b),
            (Message::Ping(p), _) => frame::pong(p),
            (Message::Pong(_), _) => {
                seen.push(msg);
                continue;
            }
            (Message::Close(c), _) => {
                let reply = match c {
                    Some((code, _)) => frame::close(*code, ""),
                    None => frame::close(1000, ""),
                };
                let _ = writer.write_frame(&reply).await;
                seen.push(msg);
                return Ok(seen);
            }
        };
        seen.push(msg);
        writer.write_frame(&reply).await?;
    }
}

/// Starts an echo server on one end of a loopback pair and returns a test
/// client on the other end plus the server task.
pub async fn start(opts: ServerOpts) -> (TestClient<TcpStream>, JoinHandle<Result<Vec<Message>, WsError>>) {
    let (client, server) = tcp_pair().await;
    let task = tokio::spawn(serve(server, opts));
    (TestClient::new(client), task)
}

/// Deflate settings that compress everything.
pub fn deflate_all() -> DeflateConfig {
    DeflateConfig { enabled: true, threshold: 0, level: 6 }
}
