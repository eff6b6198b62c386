//! Minimal WebSocket echo server for interoperability checks with
//! independent clients (for example the npm `ws` package).
//!
//! ```text
//! cargo run -p herald-ws --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! Prints `listening on ADDR` once ready. The HTTP/1.1 handling is
//! deliberately tiny: just enough to parse a GET upgrade request.

use std::io;

use bytes::{Bytes, BytesMut};
use herald_ws::handshake::{DeflateConfig, negotiate};
use herald_ws::{FrameEncoder, Message, ReaderConfig, WsReader, WsWriter, frame};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEAD: usize = 16 * 1024;

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = connection(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Reads the request head; returns headers and any bytes after it.
async fn read_head(stream: &mut TcpStream) -> io::Result<(HeaderMap, BytesMut)> {
    let mut buf = BytesMut::with_capacity(4096);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD || stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("incomplete request head"));
        }
    };
    let head = buf.split_to(end);
    let text = std::str::from_utf8(&head).map_err(io::Error::other)?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    if !request_line.starts_with("GET ") {
        return Err(io::Error::other("not a GET request"));
    }
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| io::Error::other("malformed header line"))?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(io::Error::other)?,
            HeaderValue::from_str(value.trim()).map_err(io::Error::other)?,
        );
    }
    Ok((headers, buf))
}

async fn connection(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (headers, leftover) = read_head(&mut stream).await?;
    let deflate_cfg = DeflateConfig { enabled: true, threshold: 64, level: 6 };
    let negotiated = match negotiate(&headers, &deflate_cfg) {
        Ok(n) => n,
        Err(e) => {
            let body = e.to_string();
            let resp = format!(
                "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(resp.as_bytes()).await?;
            return Err(io::Error::other(e));
        }
    };
    let mut resp = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in &negotiated.response_headers() {
        let value = value.to_str().map_err(io::Error::other)?;
        resp.push_str(&format!("{name}: {value}\r\n"));
    }
    resp.push_str("\r\n");
    stream.write_all(resp.as_bytes()).await?;

    let (rd, wr) = stream.into_split();
    let cfg = ReaderConfig { max_message_size: 16 << 20, max_frame_size: 16 << 20 };
    let mut reader = WsReader::with_buffered(rd, cfg, negotiated.deflate, leftover);
    let mut writer = WsWriter::new(wr);
    let mut encoder = negotiated.deflate.map(|_| FrameEncoder::new(&deflate_cfg));
    loop {
        let msg = match reader.next().await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => {
                if let Some(close) = e.close_frame() {
                    writer.write_frame(&close).await?;
                }
                return Err(io::Error::other(e));
            }
        };
        let reply: Bytes = match (msg, encoder.as_mut()) {
            (Message::Text(t), Some(enc)) => enc.text_deflated(&t),
            (Message::Text(t), None) => frame::text(&t),
            (Message::Binary(b), Some(enc)) => enc.binary_deflated(&b),
            (Message::Binary(b), None) => frame::binary(&b),
            (Message::Ping(p), _) => frame::pong(&p),
            (Message::Pong(_), _) => continue,
            (Message::Close(c), _) => {
                let code = c.map_or(1000, |(code, _)| code);
                writer.write_frame(&frame::close(code, "")).await?;
                return writer.shutdown().await;
            }
        };
        writer.write_frame(&reply).await?;
    }
}
