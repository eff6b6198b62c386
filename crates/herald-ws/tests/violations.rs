//! Every protocol violation yields the right error and close code, over
//! real loopback TCP.

mod common;

use common::{ServerOpts, deflate_all, start};
use herald_ws::client::{deflate, encode_frame};
use herald_ws::frame::{OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT};
use herald_ws::{ReaderConfig, WsError};
use tokio::io::AsyncWriteExt;

const MASK: Option<[u8; 4]> = Some([0xa1, 0xb2, 0xc3, 0xd4]);

fn frame(fin: bool, rsv1: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(fin, rsv1, op, MASK, payload)
}

/// Sends `wire` to an echo server and returns the server's error, checking
/// that the client received a close frame with the matching code when the
/// server could send one.
async fn violation(opts: ServerOpts, wire: Vec<u8>) -> WsError {
    let (mut client, server) = start(opts).await;
    // The server may hang up before all bytes are sent: ignore write errors.
    let _ = client.send_raw(&wire).await;
    // Half-close so that truncated input reaches EOF.
    let _ = client.get_mut().shutdown().await;
    let err = server.await.unwrap().unwrap_err();
    // Read frames until the close (echoes of valid messages come first).
    if err.close_code() != 1006 {
        loop {
            match client.read_frame().await {
                Ok(Some(f)) if f.opcode == OP_CLOSE => {
                    assert_eq!(f.payload, err.close_code().to_be_bytes(), "{err}");
                    break;
                }
                Ok(Some(_)) => {}
                // A reset because the server left bytes unread is fine.
                Ok(None) | Err(_) => break,
            }
        }
    }
    err
}

fn plain() -> ServerOpts {
    ServerOpts::default()
}

fn with_deflate() -> ServerOpts {
    ServerOpts { deflate: Some(deflate_all()), ..Default::default() }
}

fn limited(max_message_size: usize, max_frame_size: usize, deflate: bool) -> ServerOpts {
    ServerOpts { cfg: ReaderConfig { max_message_size, max_frame_size }, deflate: deflate.then(deflate_all) }
}

macro_rules! assert_err {
    ($err:expr, $pat:pat, $code:expr) => {{
        let err = $err;
        assert!(matches!(err, $pat), "unexpected error: {err:?}");
        assert_eq!(err.close_code(), $code, "{err}");
    }};
}

#[tokio::test]
async fn unmasked_client_frame() {
    let wire = encode_frame(true, false, OP_TEXT, None, b"hi");
    assert_err!(violation(plain(), wire).await, WsError::UnmaskedFrame, 1002);
}

#[tokio::test]
async fn reserved_bits() {
    // RSV1 without permessage-deflate.
    let wire = frame(true, true, OP_TEXT, b"hi");
    assert_err!(violation(plain(), wire).await, WsError::ReservedBits, 1002);
    // RSV2 is never allowed.
    let mut wire = frame(true, false, OP_TEXT, b"hi");
    wire[0] |= 0x20;
    assert_err!(violation(with_deflate(), wire).await, WsError::ReservedBits, 1002);
    // RSV1 on a continuation frame.
    let mut wire = frame(false, true, OP_TEXT, &deflate(b"abc"));
    wire.extend(frame(true, true, OP_CONTINUATION, b""));
    assert_err!(violation(with_deflate(), wire).await, WsError::ReservedBits, 1002);
    // RSV1 on a control frame.
    let wire = frame(true, true, OP_PING, b"");
    assert_err!(violation(with_deflate(), wire).await, WsError::ReservedBits, 1002);
}

#[tokio::test]
async fn unknown_opcodes() {
    for op in [0x3, 0x7, 0xb, 0xf] {
        let wire = frame(true, false, op, b"");
        assert_err!(violation(plain(), wire).await, WsError::UnknownOpcode(_), 1002);
    }
}

#[tokio::test]
async fn oversize_frames_and_messages() {
    let wire = frame(true, false, OP_BINARY, &[0; 2000]);
    assert_err!(
        violation(limited(10_000, 1000, false), wire).await,
        WsError::FrameTooBig { len: 2000, max: 1000 },
        1009
    );
    let mut wire = frame(false, false, OP_BINARY, &[1; 900]);
    for _ in 0..5 {
        wire.extend(frame(false, false, OP_CONTINUATION, &[1; 900]));
    }
    assert_err!(violation(limited(4000, 1000, false), wire).await, WsError::MessageTooBig { max: 4000 }, 1009);
    // A 64-bit length with the top bit set.
    let mut wire = vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
    wire.extend([0u8; 4]);
    assert_err!(violation(plain(), wire).await, WsError::InvalidLength, 1002);
}

#[tokio::test]
async fn zip_bomb_is_stopped_at_the_limit() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let z = deflate(&zeros);
    assert!(z.len() < 20_000, "compressed to {}", z.len());
    let wire = frame(true, true, OP_BINARY, &z);
    assert_err!(violation(limited(1 << 20, 1 << 20, true), wire).await, WsError::MessageTooBig { max: 1048576 }, 1009);
    // The same bomb split into fragments.
    let mut wire = frame(false, true, OP_BINARY, &z[..100]);
    for chunk in z[100..].chunks(1000) {
        wire.extend(frame(false, false, OP_CONTINUATION, chunk));
    }
    wire.extend(frame(true, false, OP_CONTINUATION, b""));
    assert_err!(violation(limited(1 << 20, 1 << 20, true), wire).await, WsError::MessageTooBig { .. }, 1009);
}

#[tokio::test]
async fn control_frame_rules() {
    let wire = frame(false, false, OP_PING, b"x");
    assert_err!(violation(plain(), wire).await, WsError::FragmentedControlFrame, 1002);
    let wire = frame(true, false, OP_PONG, &[0; 126]);
    assert_err!(violation(plain(), wire).await, WsError::ControlFrameTooLong(126), 1002);
    let wire = frame(true, false, OP_CLOSE, &[0x03]);
    assert_err!(violation(plain(), wire).await, WsError::InvalidClosePayload, 1002);
    for code in [0u16, 999, 1005, 1006, 1015, 2000, 5000] {
        let wire = frame(true, false, OP_CLOSE, &code.to_be_bytes());
        assert_err!(violation(plain(), wire).await, WsError::InvalidCloseCode(_), 1002);
    }
    let wire = frame(true, false, OP_CLOSE, &[0x03, 0xe8, 0xff, 0xfe]);
    assert_err!(violation(plain(), wire).await, WsError::InvalidUtf8, 1007);
}

#[tokio::test]
async fn invalid_utf8_text() {
    let wire = frame(true, false, OP_TEXT, &[b'a', 0xc3, 0x28]);
    assert_err!(violation(plain(), wire).await, WsError::InvalidUtf8, 1007);
    // Fragmented: a truncated character at the end of the message.
    let mut wire = frame(false, false, OP_TEXT, b"ok");
    wire.extend(frame(true, false, OP_CONTINUATION, &[0xe2, 0x98]));
    assert_err!(violation(plain(), wire).await, WsError::InvalidUtf8, 1007);
    // Compressed.
    let wire = frame(true, true, OP_TEXT, &deflate(&[0xff; 300]));
    assert_err!(violation(with_deflate(), wire).await, WsError::InvalidUtf8, 1007);
    // Binary may hold anything.
    let mut wire = frame(true, false, OP_BINARY, &[0xff; 3]);
    wire.extend(frame(true, false, OP_TEXT, &[0xff]));
    assert_err!(violation(plain(), wire).await, WsError::InvalidUtf8, 1007);
}

#[tokio::test]
async fn corrupt_compressed_data() {
    let wire = frame(true, true, OP_BINARY, &[0xff; 64]);
    assert_err!(violation(with_deflate(), wire).await, WsError::InvalidCompressedData, 1007);
}

#[tokio::test]
async fn continuation_sequencing() {
    let wire = frame(true, false, OP_CONTINUATION, b"orphan");
    assert_err!(violation(plain(), wire).await, WsError::UnexpectedContinuation, 1002);
    // A continuation after a complete message.
    let mut wire = frame(true, false, OP_TEXT, b"done");
    wire.extend(frame(true, false, OP_CONTINUATION, b"late"));
    assert_err!(violation(plain(), wire).await, WsError::UnexpectedContinuation, 1002);
    // A new data frame while a fragmented message is open.
    let mut wire = frame(false, false, OP_TEXT, b"part");
    wire.extend(frame(true, false, OP_BINARY, b"new"));
    assert_err!(violation(plain(), wire).await, WsError::ExpectedContinuation, 1002);
    let mut wire = frame(false, false, OP_BINARY, b"part");
    wire.extend(frame(false, false, OP_TEXT, b"new"));
    assert_err!(violation(plain(), wire).await, WsError::ExpectedContinuation, 1002);
}

#[tokio::test]
async fn eof_inside_a_frame_or_message() {
    let mut wire = frame(true, false, OP_TEXT, b"truncated payload");
    wire.truncate(wire.len() - 3);
    assert_err!(violation(plain(), wire).await, WsError::UnexpectedEof, 1006);
    let wire = frame(false, false, OP_TEXT, b"never finished");
    assert_err!(violation(plain(), wire).await, WsError::UnexpectedEof, 1006);
}
