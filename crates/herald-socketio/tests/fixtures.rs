//! Every frame a real socket.io 4.8 server and socket.io-client 4.8
//! exchanged (recorded by `crates/herald-server/tests/socketio-js/wire-capture.mjs`
//! into `tests/fixtures/*.txt`) decodes with this crate's codec, re-encodes
//! to the same bytes, and the server's own frames are what this crate
//! writes for the same values.

use std::path::Path;

use bytes::Bytes;
use herald_socketio::engineio::{self, EngineConfig, EngineError, Method, Packet as EnginePacket, Transport, payload};
use herald_socketio::events::parse_connect;
use herald_socketio::socketio::{Assembler, DEFAULT_MAX_ATTACHMENTS, Packet, PacketKind, server};

/// One recorded line: a tag and its JSON fields.
struct Line {
    tag: String,
    fields: Vec<serde_json::Value>,
}

fn read_fixture(name: &str) -> Vec<Line> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (tag, rest) = l.split_once(' ').unwrap_or((l, ""));
            let mut fields = Vec::new();
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
            for v in stream.by_ref() {
                fields.push(v.unwrap_or_else(|e| panic!("{name}: {l}: {e}")));
            }
            Line { tag: tag.to_string(), fields }
        })
        .collect()
}

fn text(v: &serde_json::Value) -> &str {
    v.as_str().unwrap()
}

/// Decodes both directions of a capture and counts what it saw.
#[derive(Default)]
struct Replay {
    client: Assembler,
    server: Assembler,
    socketio_packets: usize,
    binary_packets: usize,
    kinds: Vec<PacketKind>,
}

impl Replay {
    fn engine_packet(&mut self, packet: &EnginePacket<'_>, from_client: bool) {
        let assembler = if from_client { &mut self.client } else { &mut self.server };
        match packet {
            EnginePacket::Message(sio) => {
                let p = Packet::decode(sio, DEFAULT_MAX_ATTACHMENTS).unwrap_or_else(|e| panic!("{sio}: {e}"));
                assert_eq!(p.encode(), *sio, "Socket.IO re-encoding");
                self.socketio_packets += 1;
                self.kinds.push(p.kind);
                if let Some(done) = assembler.on_packet(&p).unwrap() {
                    assert!(done.attachments.is_empty());
                }
                if p.kind == PacketKind::Connect && from_client {
                    parse_connect(p.data).unwrap();
                }
            }
            EnginePacket::Binary(bytes)
                if assembler.on_attachment(Bytes::copy_from_slice(bytes)).unwrap().is_some() =>
            {
                self.binary_packets += 1;
            }
            EnginePacket::Open(json) => {
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                let config = EngineConfig {
                    ping_interval: std::time::Duration::from_millis(v["pingInterval"].as_u64().unwrap()),
                    ping_timeout: std::time::Duration::from_millis(v["pingTimeout"].as_u64().unwrap()),
                    max_payload: v["maxPayload"].as_u64().unwrap() as usize,
                    ..EngineConfig::default()
                };
                let transport = if v["upgrades"].as_array().unwrap().is_empty() {
                    Transport::Websocket
                } else {
                    Transport::Polling
                };
                assert_eq!(config.open_packet(v["sid"].as_str().unwrap(), transport), format!("0{json}"));
            }
            _ => {}
        }
    }

    fn run(name: &str) -> Self {
        let mut replay = Replay::default();
        for line in read_fixture(name) {
            match line.tag.as_str() {
                "POST" => {
                    let body = text(&line.fields[1]);
                    let packets = payload::decode(body, 1_000_000).unwrap_or_else(|e| panic!("{body:?}: {e}"));
                    assert_eq!(payload::encode(&packets), body);
                    for p in &packets {
                        replay.engine_packet(p, true);
                    }
                }
                "GET->" if line.fields[0] == 200 => {
                    let body = text(&line.fields[1]);
                    let packets = payload::decode(body, usize::MAX).unwrap_or_else(|e| panic!("{body:?}: {e}"));
                    assert_eq!(payload::encode(&packets), body);
                    for p in &packets {
                        replay.engine_packet(p, false);
                    }
                }
                "C>" | "S>" => {
                    let frame = text(&line.fields[0]);
                    let p = EnginePacket::decode_text(frame, false).unwrap_or_else(|e| panic!("{frame:?}: {e}"));
                    assert_eq!(p.encode(), frame);
                    replay.engine_packet(&p, line.tag == "C>");
                }
                "C>bin" | "S>bin" => {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD.decode(text(&line.fields[0])).unwrap();
                    replay.engine_packet(&EnginePacket::decode_binary(&bytes), line.tag == "C>bin");
                }
                _ => {}
            }
        }
        assert!(!replay.client.assembling() && !replay.server.assembling(), "{name}: attachments left over");
        replay
    }
}

#[test]
fn polling_capture() {
    let r = Replay::run("polling.txt");
    assert_eq!(r.binary_packets, 4, "binary emit, binary ack, and the echo of each");
    assert!(r.kinds.contains(&PacketKind::BinaryAck));
    assert!(r.socketio_packets >= 10);
}

#[test]
fn upgrade_capture() {
    let r = Replay::run("upgrade.txt");
    assert_eq!(r.binary_packets, 2);
    let lines = read_fixture("upgrade.txt");
    let frames: Vec<&str> =
        lines.iter().filter(|l| l.tag == "C>" || l.tag == "S>").map(|l| text(&l.fields[0])).collect();
    assert_eq!(&frames[..3], ["2probe", "3probe", "5"]);
}

#[test]
fn websocket_capture() {
    let r = Replay::run("websocket.txt");
    assert!(r.kinds.contains(&PacketKind::ConnectError));
    assert_eq!(r.binary_packets, 1, "the client's binary ack");
    let lines = read_fixture("websocket.txt");
    let server_frames: Vec<&str> = lines.iter().filter(|l| l.tag == "S>").map(|l| text(&l.fields[0])).collect();
    assert!(server_frames.contains(&"2"), "the server pinged");
    assert!(server_frames.contains(&server::invalid_namespace("/admin").as_str()));
}

#[test]
fn recovery_capture() {
    Replay::run("recovery.txt");
    let lines = read_fixture("recovery.txt");
    let frames: Vec<(&str, &str)> =
        lines.iter().filter(|l| l.tag == "C>" || l.tag == "S>").map(|l| (l.tag.as_str(), text(&l.fields[0]))).collect();
    // The first CONNECT reply carries a pid; the reconnect sends it back with the last offset.
    let reply = frames.iter().find(|(t, f)| *t == "S>" && f.starts_with("40")).unwrap().1;
    let reply: serde_json::Value = serde_json::from_str(&reply[2..]).unwrap();
    let pid = reply["pid"].as_str().unwrap();
    let reconnect = frames.iter().filter(|(t, f)| *t == "C>" && f.starts_with("40")).nth(1).unwrap().1;
    let auth = parse_connect(Some(&reconnect[2..])).unwrap();
    assert_eq!(auth.pid.as_deref(), Some(pid));
    assert_eq!(auth.token.as_deref(), Some("abc"));
    // The last string argument the client saw is what it sent back.
    let last_tick = frames.iter().filter(|(t, f)| *t == "S>" && f.contains("\"tick\"")).nth(1).unwrap().1;
    let packet = Packet::decode(&last_tick[1..], 0).unwrap();
    let (_, args) = packet.event().unwrap();
    assert_eq!(serde_json::from_str::<String>(args.last().unwrap().get()).unwrap(), auth.offset.unwrap());
    // Missed events are replayed before the CONNECT reply.
    let after_reconnect: Vec<&str> =
        frames.iter().skip_while(|(_, f)| *f != reconnect).filter(|(t, _)| *t == "S>").map(|(_, f)| *f).collect();
    assert!(after_reconnect[0].starts_with("42[\"tick\",3"));
    assert!(after_reconnect[2].starts_with("40{"));
}

#[test]
fn error_capture() {
    let lines = read_fixture("errors.txt");
    let mut checked = 0;
    for pair in lines.windows(2) {
        let (req, res) = (&pair[0], &pair[1]);
        if !res.tag.ends_with("->") || res.fields[0] == 200 {
            continue;
        }
        let path = text(&req.fields[0]);
        let query = path.split_once('?').map_or("", |(_, q)| q);
        let method = match req.tag.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            _ => Method::Other,
        };
        // A well-formed sid that no session holds is the caller's refusal.
        let ours = match engineio::parse_query(query, method, false) {
            Ok(q) if q.sid.is_some() => EngineError::UnknownSid,
            Ok(q) => panic!("{path}: accepted {q:?}"),
            Err(e) => e,
        };
        assert_eq!(ours.http_status(), res.fields[0], "{path}");
        assert_eq!(ours.body(), text(&res.fields[1]), "{path}");
        checked += 1;
    }
    assert_eq!(checked, 9);
}
