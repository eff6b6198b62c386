//! Bounded permessage-deflate decompression for client messages.

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::WsError;
use crate::frame::DEFLATE_TRAILER;

/// Smallest output growth step.
const MIN_GROW: usize = 1024;

/// A raw-deflate decompressor that never lets a message's output grow past
/// a limit, so a small compressed payload (a "zip bomb") cannot make the
/// server allocate more than the configured message size plus one byte.
pub(crate) struct Inflater {
    decompress: Decompress,
    /// Reset after each message (`client_no_context_takeover` agreed).
    reset_per_message: bool,
    /// The stream ended with a BFINAL block inside the current message;
    /// any further input of that message is ignored.
    ended: bool,
}

impl Inflater {
    /// A 15-bit-window raw deflate decompressor; it accepts streams made
    /// with any smaller client window too.
    pub(crate) fn new(reset_per_message: bool) -> Self {
        Self { decompress: Decompress::new(false), reset_per_message, ended: false }
    }

    /// Inflates one fragment of a compressed message, appending to `out`.
    pub(crate) fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), WsError> {
        let mut consumed = 0;
        while !self.ended {
            if out.len() == out.capacity() {
                grow(out, input.len() - consumed, limit)?;
            }
            let (in_before, out_before) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
                .map_err(|_| WsError::InvalidCompressedData)?;
            let read = (self.decompress.total_in() - in_before) as usize;
            let wrote = self.decompress.total_out() - out_before;
            consumed += read;
            if out.len() > limit {
                return Err(WsError::MessageTooBig { max: limit });
            }
            if status == Status::StreamEnd {
                // A BFINAL block ended the stream; whatever follows in this
                // message (such as the appended trailer) is ignored.
                self.ended = true;
                break;
            }
            if out.len() < out.capacity() {
                if consumed == input.len() {
                    // All input consumed and the decompressor stopped with
                    // space left: nothing is pending.
                    break;
                }
                if read == 0 && wrote == 0 {
                    // Input left over that the decompressor will not take.
                    return Err(WsError::InvalidCompressedData);
                }
            }
        }
        Ok(())
    }

    /// Ends a message: feeds the 00 00 ff ff trailer RFC 7692 section
    /// 7.2.2 says to append, then resets the decompressor if needed.
    pub(crate) fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), WsError> {
        let result = self.inflate(&DEFLATE_TRAILER, out, limit);
        if self.reset_per_message || self.ended {
            self.decompress.reset(false);
            self.ended = false;
        }
        result
    }
}

/// Grows `out` (roughly doubling) without its capacity exceeding
/// `limit + 1`; one byte past the limit is how an oversized message is
/// detected.
fn grow(out: &mut Vec<u8>, pending_input: usize, limit: usize) -> Result<(), WsError> {
    let cap_limit = limit.saturating_add(1);
    if out.len() >= cap_limit {
        return Err(WsError::MessageTooBig { max: limit });
    }
    let step = out.capacity().max(pending_input).max(MIN_GROW);
    let target = out.len().saturating_add(step).min(cap_limit);
    out.reserve_exact(target - out.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&DEFLATE_TRAILER));
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn inflates_in_fragments() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let z = deflate(&data);
        let mut inf = Inflater::new(true);
        let mut out = Vec::new();
        for chunk in z.chunks(777) {
            inf.inflate(chunk, &mut out, 1 << 20).unwrap();
        }
        inf.finish_message(&mut out, 1 << 20).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn output_is_capped() {
        let z = deflate(&vec![0u8; 1 << 20]);
        let mut inf = Inflater::new(true);
        let mut out = Vec::new();
        let err = inf.inflate(&z, &mut out, 4096).unwrap_err();
        assert!(matches!(err, WsError::MessageTooBig { max: 4096 }));
        assert!(out.capacity() <= 4097);
    }

    #[test]
    fn exact_limit_is_allowed() {
        let data = vec![b'a'; 5000];
        let z = deflate(&data);
        let mut inf = Inflater::new(true);
        let mut out = Vec::new();
        inf.inflate(&z, &mut out, 5000).unwrap();
        inf.finish_message(&mut out, 5000).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn garbage_is_rejected() {
        let mut inf = Inflater::new(true);
        let mut out = Vec::new();
        let err = inf.inflate(&[0xff; 32], &mut out, 1 << 20).unwrap_err();
        assert!(matches!(err, WsError::InvalidCompressedData));
    }
}
