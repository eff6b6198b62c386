//! Writing batches of pre-built frames with vectored writes.

use std::io::{self, IoSlice};

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Most buffers handed to one `write_vectored` call (Linux's `IOV_MAX` is
/// 1024; 64 keeps the slice array small and on the stack).
const MAX_IOV: usize = 64;

/// Writes frames built by [`crate::frame`] to a byte stream.
///
/// The writer adds no framing of its own: the caller drains its queue of
/// shared [`Bytes`] frames into a batch and hands the batch to
/// [`WsWriter::write_frames`], which coalesces it into as few system calls
/// as the stream allows. Nothing is copied or allocated per write.
#[derive(Debug)]
pub struct WsWriter<W> {
    io: W,
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    /// A writer over `io`.
    pub fn new(io: W) -> Self {
        Self { io }
    }

    /// Writes every frame in order, then flushes once.
    ///
    /// Uses `write_vectored` with up to 64 buffers per call and resumes
    /// correctly after partial writes, including writes that end in the
    /// middle of a frame. On a stream without vectored-write support each
    /// call writes from one buffer, which is still correct.
    ///
    /// Not cancel-safe: if the future is dropped, an unknown prefix of the
    /// batch was written and the connection must be abandoned.
    pub async fn write_frames(&mut self, frames: &[Bytes]) -> io::Result<()> {
        // Position: index of the first unwritten frame and how many of its
        // bytes were already written.
        let mut index = 0;
        let mut offset = 0;
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        loop {
            while index < frames.len() && offset == frames[index].len() {
                index += 1;
                offset = 0;
            }
            if index == frames.len() {
                break;
            }
            let mut count = 0;
            for (i, frame) in frames[index..].iter().enumerate() {
                if count == MAX_IOV {
                    break;
                }
                let chunk = if i == 0 { &frame[offset..] } else { &frame[..] };
                if !chunk.is_empty() {
                    slices[count] = IoSlice::new(chunk);
                    count += 1;
                }
            }
            let mut written = self.io.write_vectored(&slices[..count]).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            while written > 0 {
                let Some(frame) = frames.get(index) else {
                    return Err(io::Error::other("stream reported more bytes written than given"));
                };
                let left = frame.len() - offset;
                if written < left {
                    offset += written;
                    break;
                }
                written -= left;
                index += 1;
                offset = 0;
            }
        }
        self.io.flush().await
    }

    /// Writes one frame and flushes.
    pub async fn write_frame(&mut self, frame: &Bytes) -> io::Result<()> {
        self.write_frames(std::slice::from_ref(frame)).await
    }

    /// Shuts down the write side of the stream (after a close frame).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.io.shutdown().await
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &W {
        &self.io
    }

    /// The underlying stream, mutably.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.io
    }

    /// The underlying stream.
    pub fn into_inner(self) -> W {
        self.io
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A sink that accepts at most `step` bytes per call, vectored or not.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut budget = self.step;
            for b in bufs {
                let n = b.len().min(budget);
                self.out.extend_from_slice(&b[..n]);
                budget -= n;
                if budget == 0 {
                    break;
                }
            }
            self.calls += 1;
            Poll::Ready(Ok(self.step - budget))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frames() -> Vec<Bytes> {
        (0..200u32).map(|i| Bytes::from(vec![i as u8; (i as usize * 7) % 50])).collect()
    }

    #[tokio::test]
    async fn partial_writes_resume_across_buffers() {
        let frames = frames();
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        for step in [1, 3, 7, 64, 1000, usize::MAX] {
            let mut w = WsWriter::new(Trickle { out: Vec::new(), step, calls: 0 });
            w.write_frames(&frames).await.unwrap();
            assert_eq!(w.get_ref().out, expected, "step {step}");
        }
    }

    #[tokio::test]
    async fn one_call_for_a_small_batch() {
        let frames: Vec<Bytes> = (0..10).map(|_| crate::frame::text(b"hi")).collect();
        let mut w = WsWriter::new(Trickle { out: Vec::new(), step: usize::MAX, calls: 0 });
        w.write_frames(&frames).await.unwrap();
        assert_eq!(w.get_ref().calls, 1);
        assert_eq!(w.get_ref().out.len(), 40);
    }

    #[tokio::test]
    async fn empty_batch_is_fine() {
        let mut w = WsWriter::new(Trickle { out: Vec::new(), step: 1, calls: 0 });
        w.write_frames(&[]).await.unwrap();
        w.write_frames(&[Bytes::new(), Bytes::new()]).await.unwrap();
        assert_eq!(w.get_ref().calls, 0);
    }
}
