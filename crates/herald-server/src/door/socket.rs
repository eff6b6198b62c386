//! An upgraded WebSocket: its reader (with the door's message limit) and
//! writer, refusing it before it has a hub connection, the lingering close,
//! and the batched write every door's writer uses.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use herald_core::{Connection, DisconnectReason};
use herald_ws::handshake::DeflateParams;
use herald_ws::reader::{Message, ReaderConfig, WsReader};
use herald_ws::writer::WsWriter;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use crate::app::App;

/// How long a closing connection keeps reading (and discarding) client data.
const LINGER: Duration = Duration::from_secs(2);

/// An upgraded socket, split into its reader and writer.
pub struct Socket<S> {
    /// Frames from the client.
    pub reader: WsReader<ReadHalf<S>>,
    /// Frames to the client.
    pub writer: WsWriter<WriteHalf<S>>,
    /// `[connection] write_timeout_secs`: a write that blocks longer cuts the connection.
    pub write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket<S> {
    /// Split `io`; the reader refuses messages over `max_message_size` (1009).
    pub fn new(app: &App, io: S, max_message_size: usize, deflate: Option<DeflateParams>) -> Self {
        let (rd, wr) = tokio::io::split(io);
        let cfg = ReaderConfig { max_message_size, max_frame_size: max_message_size };
        Socket {
            reader: WsReader::new(rd, cfg, deflate),
            writer: WsWriter::new(wr),
            write_timeout: Duration::from_secs(app.config.connection.write_timeout_secs.max(1)),
        }
    }

    /// Write `frames` (within the write timeout), as before a hub connection exists.
    pub async fn send(&mut self, frames: &[Bytes]) -> bool {
        matches!(tokio::time::timeout(self.write_timeout, self.writer.write_frames(frames)).await, Ok(Ok(())))
    }

    /// End a socket that has no hub connection: write `frames` (the last a
    /// close frame), send FIN, then linger.
    pub async fn refuse(mut self, frames: &[Bytes]) {
        self.send(frames).await;
        let _ = self.writer.shutdown().await;
        linger(&mut self.reader).await;
    }
}

/// Read and discard what a closing peer still sends, until its close frame
/// (or [`LINGER`]), so unread data does not turn our close into a reset.
pub async fn linger<R: AsyncRead + Unpin>(reader: &mut WsReader<R>) {
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(Some(m)) = reader.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Write one batch of frames for `conn`. Most writes complete on the first
/// poll (the socket buffer has room), so no timer and no abort watch is set
/// up; a write that blocks gets `write_timeout` and is abandoned when the
/// connection is cut. Returns false when the writer must stop: the
/// connection was cut, or the write failed or timed out (then it is closed
/// as a slow consumer).
pub async fn write_batch<W: AsyncWrite + Unpin>(
    conn: &Connection,
    writer: &mut WsWriter<W>,
    frames: &[Bytes],
    write_timeout: Duration,
) -> bool {
    let mut write = std::pin::pin!(writer.write_frames(frames));
    let written = match std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        Poll::Ready(r) => r.is_ok(),
        Poll::Pending => tokio::select! {
            r = tokio::time::timeout(write_timeout, write) => matches!(r, Ok(Ok(()))),
            _ = conn.outbound.aborted() => return false,
        },
    };
    if !written {
        conn.outbound.close(DisconnectReason::SlowConsumer, false);
    }
    written
}
