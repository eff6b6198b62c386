//! Property tests: random payloads, fragmentation, compression and
//! transport chunking round-trip exactly.

use bytes::Bytes;
use herald_ws::client::TestClient;
use herald_ws::frame::{self, OP_BINARY, OP_CONTINUATION, OP_PING, OP_TEXT};
use herald_ws::{DeflateConfig, DeflateParams, FrameEncoder, Message, ReaderConfig, WsReader, WsWriter};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    text: bool,
    payload: Vec<u8>,
    compress: bool,
    splits: Vec<usize>,
    ping_between: bool,
}

fn payload() -> impl Strategy<Value = (bool, Vec<u8>)> {
    prop_oneof![
        4 => any::<String>().prop_map(|s| (true, s.into_bytes())),
        2 => prop::collection::vec(any::<u8>(), 0..4096).prop_map(|v| (false, v)),
        // Compressible and large enough for 2- and 8-byte lengths.
        1 => (0usize..140_000, any::<u8>())
            .prop_map(|(n, b)| (false, (0..n).map(|i| b ^ (i / 97) as u8).collect())),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (payload(), any::<bool>(), prop::collection::vec(1usize..3000, 0..6), any::<bool>()).prop_map(
        |((text, payload), compress, splits, ping_between)| Case { text, payload, compress, splits, ping_between },
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Client → server: masked, optionally compressed, fragmented messages
    /// (with pings between fragments) arrive exactly as sent, whatever the
    /// transport's chunking.
    #[test]
    fn client_messages_round_trip(cases in prop::collection::vec(case(), 1..6), pipe in 1usize..8192) {
        let got = runtime().block_on(async {
            let (a, b) = tokio::io::duplex(pipe);
            let mut client = TestClient::new(a);
            let cfg = ReaderConfig { max_message_size: 1 << 20, max_frame_size: 1 << 20 };
            let mut reader = WsReader::new(b, cfg, Some(DeflateParams::default()));
            let sender = async {
                for c in &cases {
                    let op = if c.text { OP_TEXT } else { OP_BINARY };
                    if c.ping_between && !c.splits.is_empty() {
                        // First fragment, a ping, then the rest.
                        let body = if c.compress { herald_ws::client::deflate(&c.payload) } else { c.payload.clone() };
                        let cut = c.splits[0].min(body.len());
                        client.send_frame(false, c.compress, op, &body[..cut]).await.unwrap();
                        client.send_frame(true, false, OP_PING, b"between").await.unwrap();
                        client.send_frame(true, false, OP_CONTINUATION, &body[cut..]).await.unwrap();
                    } else {
                        client.send_message(op, &c.payload, c.compress, &c.splits).await.unwrap();
                    }
                }
                client
            };
            let receiver = async {
                let mut got = Vec::new();
                while got.len() < cases.len() {
                    match reader.next().await.unwrap().unwrap() {
                        Message::Ping(p) => assert_eq!(&p[..], b"between"),
                        m => got.push(m),
                    }
                }
                got
            };
            let (_client, got) = tokio::join!(sender, receiver);
            got
        });
        for (c, m) in cases.iter().zip(got) {
            let expected = Bytes::from(c.payload.clone());
            let want = if c.text { Message::Text(expected) } else { Message::Binary(expected) };
            prop_assert_eq!(m, want);
        }
    }

    /// Server → client: frames built once (compressed or not) and written
    /// as one vectored batch decode to the original payloads.
    #[test]
    fn server_batches_round_trip(payloads in prop::collection::vec(payload(), 1..12), threshold in 0usize..512, pipe in 1usize..8192) {
        let mut enc = FrameEncoder::new(&DeflateConfig { enabled: true, threshold, level: 6 });
        let frames: Vec<Bytes> = payloads
            .iter()
            .enumerate()
            .map(|(i, (text, p))| match (i % 2 == 0, text) {
                (true, true) => enc.text_deflated(p),
                (true, false) => enc.binary_deflated(p),
                (false, true) => frame::text(p),
                (false, false) => frame::binary(p),
            })
            .collect();
        let got = runtime().block_on(async {
            let (a, b) = tokio::io::duplex(pipe);
            let mut writer = WsWriter::new(a);
            let mut client = TestClient::new(b);
            let write = async { writer.write_frames(&frames).await.unwrap() };
            let read = async {
                let mut got = Vec::new();
                for _ in 0..frames.len() {
                    got.push(client.read_message().await.unwrap().unwrap());
                }
                got
            };
            tokio::join!(write, read).1
        });
        for ((text, p), (op, data)) in payloads.iter().zip(got) {
            prop_assert_eq!(op, if *text { OP_TEXT } else { OP_BINARY });
            prop_assert_eq!(&data, p);
        }
    }
}
