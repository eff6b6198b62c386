//! Round trips over real loopback TCP.

mod common;

use bytes::Bytes;
use common::{ServerOpts, deflate_all, start, tcp_pair};
use flate2::{Decompress, FlushDecompress};
use herald_ws::client::{TestClient, parse_server_frame};
use herald_ws::frame::{self, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT};
use herald_ws::{DeflateConfig, FrameEncoder, Message, ReaderConfig, WsReader, WsWriter};

fn text_payload(len: usize) -> Vec<u8> {
    "Herald fans out publications — ünïcödé ✓ ".bytes().cycle().take(len).collect::<Vec<u8>>()
}

/// A UTF-8 string of exactly `len` bytes or a little less (char boundary).
fn text_of(len: usize) -> Vec<u8> {
    let mut v = text_payload(len);
    while std::str::from_utf8(&v).is_err() {
        v.pop();
    }
    v
}

#[tokio::test]
async fn small_and_empty_messages_echo() {
    let (mut client, server) = start(ServerOpts::default()).await;
    for (op, payload) in [
        (OP_TEXT, b"hello".to_vec()),
        (OP_BINARY, vec![0, 1, 2, 255]),
        (OP_TEXT, Vec::new()),
        (OP_BINARY, Vec::new()),
        (OP_TEXT, text_of(125)),
        (OP_BINARY, vec![7; 126]),
        (OP_BINARY, vec![9; 65535]),
    ] {
        client.send_message(op, &payload, false, &[]).await.unwrap();
        let (rop, rdata) = client.read_message().await.unwrap().unwrap();
        assert_eq!((rop, rdata.len()), (op, payload.len()));
        assert_eq!(rdata, payload);
    }
    client.send_frame(true, false, OP_CLOSE, &[0x03, 0xe8]).await.unwrap();
    let close = client.read_frame().await.unwrap().unwrap();
    assert_eq!((close.opcode, close.payload), (OP_CLOSE, vec![0x03, 0xe8]));
    let seen = server.await.unwrap().unwrap();
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[0], Message::Text(Bytes::from_static(b"hello")));
    assert_eq!(seen[7], Message::Close(Some((1000, String::new()))));
}

#[tokio::test]
async fn large_messages_use_eight_byte_lengths() {
    let (mut client, server) = start(ServerOpts::default()).await;
    let text = text_of(300_000);
    let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    client.send_message(OP_TEXT, &text, false, &[]).await.unwrap();
    let frame = client.read_frame().await.unwrap().unwrap();
    assert_eq!((frame.opcode, frame.fin, frame.rsv1), (OP_TEXT, true, false));
    assert_eq!(frame.payload, text);
    client.send_message(OP_BINARY, &binary, false, &[]).await.unwrap();
    assert_eq!(client.read_message().await.unwrap().unwrap(), (OP_BINARY, binary));
    // 8-byte length on the wire for > 64 KiB.
    let f = frame::binary(&[0u8; 70_000]);
    assert_eq!(f[1], 127);
    assert_eq!(f.len(), 10 + 70_000);
    drop(client);
    assert_eq!(server.await.unwrap().unwrap().len(), 2);
}

#[tokio::test]
async fn fragmented_message_with_interleaved_ping() {
    let (mut client, server) = start(ServerOpts::default()).await;
    client.send_frame(false, false, OP_TEXT, b"Hel").await.unwrap();
    client.send_frame(true, false, OP_PING, b"ping!").await.unwrap();
    client.send_frame(false, false, OP_CONTINUATION, b"lo, ").await.unwrap();
    client.send_frame(false, false, OP_CONTINUATION, b"").await.unwrap();
    client.send_frame(true, false, OP_CONTINUATION, "wörld".as_bytes()).await.unwrap();
    let pong = client.read_frame().await.unwrap().unwrap();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (OP_PONG, &b"ping!"[..]));
    let (op, data) = client.read_message().await.unwrap().unwrap();
    assert_eq!((op, data.as_slice()), (OP_TEXT, "Hello, wörld".as_bytes()));
    // A UTF-8 character split across fragments is fine.
    let snowman = "☃".as_bytes();
    client.send_frame(false, false, OP_TEXT, &snowman[..1]).await.unwrap();
    client.send_frame(true, false, OP_CONTINUATION, &snowman[1..]).await.unwrap();
    assert_eq!(client.read_message().await.unwrap().unwrap().1, snowman);
    drop(client);
    let seen = server.await.unwrap().unwrap();
    assert_eq!(seen[0], Message::Ping(Bytes::from_static(b"ping!")));
}

#[tokio::test]
async fn compressed_client_messages_are_inflated() {
    let opts = ServerOpts { deflate: Some(deflate_all()), ..Default::default() };
    let (mut client, server) = start(opts).await;
    let big = text_of(500_000);
    let cases: Vec<(u8, Vec<u8>, Vec<usize>)> = vec![
        (OP_TEXT, b"compress me compress me compress me".to_vec(), vec![]),
        (OP_TEXT, big.clone(), vec![]),
        (OP_TEXT, big, vec![10, 1, 500, 3000]),
        (OP_BINARY, vec![0u8; 100_000], vec![1, 1, 1]),
        (OP_BINARY, Vec::new(), vec![]),
    ];
    for (op, payload, splits) in &cases {
        client.send_message(*op, payload, true, splits).await.unwrap();
        let (rop, data) = client.read_message().await.unwrap().unwrap();
        assert_eq!(rop, *op);
        assert_eq!(&data, payload);
    }
    // Uncompressed messages still work on a deflate connection.
    client.send_message(OP_TEXT, b"plain", false, &[2]).await.unwrap();
    assert_eq!(client.read_message().await.unwrap().unwrap().1, b"plain");
    drop(client);
    let seen = server.await.unwrap().unwrap();
    assert_eq!(seen.len(), cases.len() + 1);
}

#[tokio::test]
async fn server_frames_inflate_with_flate2_and_are_identical() {
    let cfg = DeflateConfig { enabled: true, threshold: 32, level: 6 };
    let payload = text_of(100_000);
    let mut enc = FrameEncoder::new(&cfg);
    let first = enc.text_deflated(&payload);
    let again = enc.text_deflated(&payload);
    let _other = enc.text_deflated(b"something else in between, long enough to compress");
    let third = enc.text_deflated(&payload);
    let fresh = FrameEncoder::new(&cfg).text_deflated(&payload);
    assert_eq!(first, again);
    assert_eq!(first, third);
    assert_eq!(first, fresh);

    let (frame, used) = parse_server_frame(&first).unwrap().unwrap();
    assert_eq!(used, first.len());
    assert!(frame.fin && frame.rsv1);
    assert_eq!(frame.opcode, OP_TEXT);
    assert!(!frame.payload.ends_with(&[0, 0, 0xff, 0xff]));
    let mut input = frame.payload.clone();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(payload.len() + 1);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync).unwrap();
    assert_eq!(out, payload);
}

#[tokio::test]
async fn one_frame_fans_out_to_many_connections_in_batches() {
    let mut enc = FrameEncoder::new(&deflate_all());
    let publication = text_of(4000);
    let shared =
        [enc.text_deflated(&publication), frame::text(b"second"), frame::ping(b"hb"), frame::binary(&[1; 70_000])];
    let mut clients = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (client, server) = tcp_pair().await;
        clients.push(TestClient::new(client));
        writers.push(WsWriter::new(server));
    }
    let batch: Vec<Bytes> = shared.iter().cycle().take(40).cloned().collect();
    let sends = writers.into_iter().map(|mut w| {
        let batch = batch.clone();
        tokio::spawn(async move { w.write_frames(&batch).await })
    });
    let sends: Vec<_> = sends.collect();
    for client in &mut clients {
        for i in 0..40 {
            let (op, data) = client.read_message().await.unwrap().unwrap();
            match i % 4 {
                0 => assert_eq!((op, &data), (OP_TEXT, &publication)),
                1 => assert_eq!((op, &data[..]), (OP_TEXT, &b"second"[..])),
                2 => assert_eq!((op, &data[..]), (OP_PING, &b"hb"[..])),
                _ => assert_eq!((op, data.len()), (OP_BINARY, 70_000)),
            }
        }
    }
    for s in sends {
        s.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn eof_and_close_end_the_stream() {
    let (client, server) = tcp_pair().await;
    let mut reader = WsReader::new(server, ReaderConfig::default(), None);
    drop(client);
    assert!(reader.next().await.unwrap().is_none());
    assert!(reader.next().await.unwrap().is_none());

    let (client, server) = tcp_pair().await;
    let mut reader = WsReader::new(server, ReaderConfig::default(), None);
    let mut client = TestClient::new(client);
    client.send_frame(true, false, OP_CLOSE, &[]).await.unwrap();
    client.send_frame(true, false, OP_TEXT, b"ignored").await.unwrap();
    assert_eq!(reader.next().await.unwrap(), Some(Message::Close(None)));
    assert_eq!(reader.next().await.unwrap(), None);

    let (client, server) = tcp_pair().await;
    let mut reader = WsReader::new(server, ReaderConfig::default(), None);
    let mut client = TestClient::new(client);
    let mut close = 4001u16.to_be_bytes().to_vec();
    close.extend_from_slice("bye ✓".as_bytes());
    client.send_frame(true, false, OP_CLOSE, &close).await.unwrap();
    assert_eq!(reader.next().await.unwrap(), Some(Message::Close(Some((4001, "bye ✓".into())))));
}

#[tokio::test]
async fn bytes_arriving_one_at_a_time_parse() {
    let (client, server) = tcp_pair().await;
    let params = Some(herald_ws::DeflateParams::default());
    let mut reader = WsReader::new(server, ReaderConfig::default(), params);
    let mut client = TestClient::new(client);
    let payload = text_of(1000);
    let mut wire = herald_ws::client::encode_frame(true, false, OP_TEXT, Some([1, 2, 3, 4]), &payload);
    let z = herald_ws::client::deflate(&payload);
    wire.extend(herald_ws::client::encode_frame(true, true, OP_BINARY, Some([9, 8, 7, 6]), &z));
    let send = tokio::spawn(async move {
        for b in wire {
            client.send_raw(&[b]).await.unwrap();
        }
        client
    });
    assert_eq!(reader.next().await.unwrap(), Some(Message::Text(payload.clone().into())));
    assert_eq!(reader.next().await.unwrap(), Some(Message::Binary(payload.into())));
    drop(send.await.unwrap());
    assert_eq!(reader.next().await.unwrap(), None);
}
