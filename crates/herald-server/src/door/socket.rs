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
use tokio::time::error::Elapsed;

use super::slow_consumer::{Cause, Cut};
use crate::app::App;

/// How long a closing connection keeps reading (and discarding) client data.
const LINGER: Duration = Duration::from_secs(2);

/// An upgraded socket, split into its reader and writer. A session keeps it
/// in place and lends it to [`runtime::run`](super::runtime::run) (which
/// takes the writer for its writer task), so the reader is stored once per
/// connection, not once more in every future it passes through.
pub struct Socket<S> {
    /// Frames from the client.
    pub reader: WsReader<ReadHalf<S>>,
    /// Frames to the client (taken by the runtime's writer task).
    writer: Option<WsWriter<WriteHalf<S>>>,
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
            writer: Some(WsWriter::new(wr)),
            write_timeout: Duration::from_secs(app.config.connection.write_timeout_secs.max(1)),
        }
    }

    /// Write `frames` (within the write timeout), as before a hub connection exists.
    pub async fn send(&mut self, frames: &[Bytes]) -> bool {
        let Some(writer) = self.writer.as_mut() else { return false };
        matches!(tokio::time::timeout(self.write_timeout, writer.write_frames(frames)).await, Ok(Ok(())))
    }

    /// The writer, for the runtime's writer task (once).
    pub(super) fn take_writer(&mut self) -> Option<WsWriter<WriteHalf<S>>> {
        self.writer.take()
    }

    /// End a socket that has no hub connection: write `frames` (the last a
    /// close frame), send FIN, then linger.
    pub async fn refuse(mut self, frames: &[Bytes]) {
        self.send(frames).await;
        if let Some(writer) = self.writer.as_mut() {
            let _ = writer.shutdown().await;
        }
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
/// up; a write that blocks gets `write_timeout`. When the hub cuts the
/// connection meanwhile as a slow consumer (its queue overflowed), the write
/// in flight may still finish within that time, so that the close code can
/// follow it; any other abort (kicked, the client left) abandons it.
/// Returns false when the writer must stop: the connection was aborted, or
/// the write failed or timed out (then it is closed as a slow consumer).
/// Every slow consumer cut seen here is recorded in `cut`.
pub async fn write_batch<W: AsyncWrite + Unpin>(
    conn: &Connection,
    writer: &mut WsWriter<W>,
    frames: &[Bytes],
    write_timeout: Duration,
    cut: &mut Cut,
) -> bool {
    let mut write = std::pin::pin!(writer.write_frames(frames));
    // Ok(true): written; Ok(false): the write failed (the peer is gone); Err: timed out.
    let written: Result<bool, Elapsed> = match std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        Poll::Ready(r) => Ok(r.is_ok()),
        Poll::Pending => {
            let mut write = std::pin::pin!(tokio::time::timeout(write_timeout, write));
            tokio::select! {
                r = &mut write => r.map(|r| r.is_ok()),
                reason = conn.outbound.aborted() => {
                    // Kicked, or the client left: drop the socket now.
                    if reason != DisconnectReason::SlowConsumer {
                        return false;
                    }
                    cut.record(conn.id(), Cause::QueueFull);
                    write.await.map(|r| r.is_ok())
                }
            }
        }
    };
    match written {
        Ok(true) => true,
        Ok(false) => {
            conn.outbound.close(DisconnectReason::SlowConsumer, false);
            false
        }
        Err(_elapsed) => {
            if conn.outbound.closed().is_none() {
                conn.outbound.close(DisconnectReason::SlowConsumer, false);
                cut.record(conn.id(), Cause::WriteTimeout);
            }
            false
        }
    }
}
