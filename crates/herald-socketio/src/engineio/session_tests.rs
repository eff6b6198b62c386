use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

use super::*;

const OPEN_PREFIX: &[u8] = b"0{\"sid\":\"s1\"";

fn config() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1000,
        upgrade_timeout: Duration::from_millis(500),
        max_buffered: 10_000,
        allow_upgrades: true,
    }
}

fn polling(now: Instant) -> EngineSession {
    let mut s = EngineSession::new("s1".into(), Transport::Polling, config(), now);
    let open = s.on_poll().unwrap().unwrap();
    assert!(open.starts_with(OPEN_PREFIX), "{}", String::from_utf8_lossy(&open));
    s
}

fn text(s: &str) -> Outgoing {
    Outgoing::text(s)
}

#[test]
fn polling_round_trip_and_waiting_get() {
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(s.on_poll().unwrap(), None, "nothing queued: the GET waits");
    assert_eq!(s.take_poll_response(), None);
    s.send(text("40{\"sid\":\"x\"}")).unwrap();
    s.send(Outgoing::Binary(Bytes::from_static(&[1, 2, 3, 4]))).unwrap();
    assert_eq!(s.take_poll_response().unwrap(), b"40{\"sid\":\"x\"}\x1ebAQIDBA==");
    let inbound = s.on_post(b"40\x1e42[\"a\"]\x1ebAQID", false, now).unwrap();
    assert_eq!(
        inbound,
        vec![Inbound::Text("0"), Inbound::Text("2[\"a\"]"), Inbound::Binary(Cow::Owned(vec![1, 2, 3]))]
    );
}

#[test]
fn responses_are_capped_at_max_payload() {
    let now = Instant::now();
    let mut s = polling(now);
    let big = format!("4{}", "x".repeat(600));
    s.send(text(&big)).unwrap();
    s.send(text(&big)).unwrap();
    assert_eq!(s.on_poll().unwrap().unwrap().len(), 601);
    assert_eq!(s.on_poll().unwrap().unwrap().len(), 601);
    assert_eq!(s.buffered_bytes(), 0);
}

#[test]
fn a_slow_poller_is_cut() {
    let now = Instant::now();
    let mut s = polling(now);
    let big = format!("4{}", "x".repeat(6000));
    s.send(text(&big)).unwrap();
    assert_eq!(s.send(text(&big)), Err(CloseReason::SlowConsumer));
    assert_eq!(s.closed(), Some(CloseReason::SlowConsumer));
}

#[test]
fn overlapping_gets_close_the_session() {
    // engine.io-protocol test suite: the first GET gets `1`, the second 400, then the sid is unknown.
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(s.on_poll().unwrap(), None);
    assert!(matches!(s.on_poll(), Err(EngineError::BadRequest(_))));
    assert_eq!(s.take_poll_response().unwrap(), b"1");
    assert!(s.finished());
    assert_eq!(s.on_poll(), Err(EngineError::UnknownSid));
}

#[test]
fn overlapping_posts_close_the_session() {
    let now = Instant::now();
    let mut s = polling(now);
    s.begin_post().unwrap();
    assert!(matches!(s.begin_post(), Err(EngineError::BadRequest(_))));
    assert_eq!(s.closed(), Some(CloseReason::TransportError));
}

#[test]
fn client_close_ends_the_waiting_get_with_noop() {
    // tests/fixtures/polling.txt: POST "1", then the waiting GET gets "6".
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(s.on_poll().unwrap(), None);
    s.begin_post().unwrap();
    assert_eq!(s.on_post(b"1", false, now).unwrap(), vec![]);
    assert_eq!(s.take_poll_response().unwrap(), b"6");
    assert!(s.finished());
    assert_eq!(s.closed().map(CloseReason::recoverable), Some(true));
}

#[test]
fn malformed_posts_close_the_session_but_oversized_ones_do_not() {
    let now = Instant::now();
    let mut s = polling(now);
    let big = vec![b'4'; 1001];
    assert_eq!(s.on_post(&big, false, now), Err(EngineError::PayloadTooLarge { len: 1001, max: 1000 }));
    assert_eq!(s.closed(), None);
    assert!(matches!(s.on_post(b"abc", false, now), Err(EngineError::Malformed(_))));
    assert_eq!(s.closed(), Some(CloseReason::ParseError));
    // engine.io-protocol test suite: the next GET is refused (400), not answered `1`.
    assert!(s.finished());
    assert_eq!(s.on_poll(), Err(EngineError::UnknownSid));
    assert!(!CloseReason::ParseError.recoverable());

    let mut s = polling(now);
    assert!(s.on_post(b"4a", true, now).is_err(), "binary bodies are Engine.IO 3");
    let mut s = polling(now);
    assert!(s.on_post(&[b'4', 0xff], false, now).is_err());
    let mut s = polling(now);
    assert!(s.on_post(b"2", false, now).is_err(), "a client ping is the wrong heartbeat direction");
    assert_eq!(s.closed(), Some(CloseReason::TransportError));
}

#[test]
fn heartbeat_pings_after_each_pong_and_times_out() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_millis(300)));
    assert_eq!(s.on_timer(t0 + Duration::from_millis(299)), TimerOutcome::default());
    let t1 = t0 + Duration::from_millis(300);
    assert!(s.on_timer(t1).pinged);
    assert_eq!(s.on_poll().unwrap().unwrap(), b"2");
    assert_eq!(s.next_deadline(), Some(t1 + Duration::from_millis(200)));
    let t2 = t1 + Duration::from_millis(50);
    s.on_post(b"3", false, t2).unwrap();
    assert_eq!(s.next_deadline(), Some(t2 + Duration::from_millis(300)), "next ping counts from the pong");
    let t3 = t2 + Duration::from_millis(300);
    assert!(s.on_timer(t3).pinged);
    let outcome = s.on_timer(t3 + Duration::from_millis(200));
    assert!(outcome.closed);
    assert_eq!(s.closed(), Some(CloseReason::PingTimeout));
    assert_eq!(s.next_deadline(), None);
    assert_eq!(s.on_poll(), Err(EngineError::UnknownSid), "engine.io-protocol: 400 after a ping timeout");
}

#[test]
fn upgrade_sequence() {
    // engine.io-protocol: probe, 3probe, the waiting GET ended by 6, then 5.
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(s.on_poll().unwrap(), None);
    s.begin_upgrade(now).unwrap();
    assert!(s.upgrading());
    let probe = Packet::decode_text("2probe", false).unwrap();
    assert_eq!(s.on_upgrade_packet(&probe), UpgradeStep::SendProbe("3probe"));
    assert_eq!(s.take_poll_response().unwrap(), b"6");
    assert_eq!(s.on_poll().unwrap().unwrap(), b"6", "polls during the probe are answered at once");
    s.send(text("42[\"queued\"]")).unwrap();
    assert!(s.drain_websocket().is_empty(), "nothing goes to the WebSocket before 5");
    assert_eq!(s.on_upgrade_packet(&Packet::Upgrade), UpgradeStep::Upgraded);
    assert_eq!(s.transport(), Transport::Websocket);
    assert_eq!(s.drain_websocket(), vec![text("42[\"queued\"]")]);
    let hello = Packet::decode_text("4hello", false).unwrap();
    assert_eq!(s.on_websocket_packet(hello, now).unwrap(), Some(Inbound::Text("hello")));
    assert!(matches!(s.on_poll(), Err(EngineError::BadRequest(_))), "polling after the upgrade is refused");
    assert!(s.begin_upgrade(now).is_err(), "a second WebSocket for the sid is refused");
}

#[test]
fn queued_packets_answer_a_poll_during_the_probe() {
    // tests/fixtures/upgrade.txt: the waiting GET got the CONNECT reply, not a noop.
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(s.on_poll().unwrap(), None);
    s.begin_upgrade(now).unwrap();
    s.send(text("40{\"sid\":\"x\"}")).unwrap();
    assert_eq!(s.on_upgrade_packet(&Packet::Ping(PROBE)), UpgradeStep::SendProbe("3probe"));
    assert_eq!(s.take_poll_response().unwrap(), b"40{\"sid\":\"x\"}");
}

#[test]
fn failed_or_late_upgrades_keep_the_session_on_polling() {
    let now = Instant::now();
    let mut s = polling(now);
    s.begin_upgrade(now).unwrap();
    assert_eq!(s.on_upgrade_packet(&Packet::Message("x")), UpgradeStep::Failed);
    assert_eq!((s.transport(), s.closed(), s.upgrading()), (Transport::Polling, None, false));

    s.begin_upgrade(now).unwrap();
    assert_eq!(s.on_upgrade_packet(&Packet::Upgrade), UpgradeStep::Failed, "5 before the probe");

    s.begin_upgrade(now).unwrap();
    assert_eq!(s.on_upgrade_packet(&Packet::Ping(PROBE)), UpgradeStep::SendProbe("3probe"));
    let outcome = s.on_timer(now + Duration::from_millis(500));
    assert!(outcome.upgrade_timed_out);
    assert_eq!(s.on_upgrade_packet(&Packet::Upgrade), UpgradeStep::Failed);
    assert_eq!(s.transport(), Transport::Polling);

    s.begin_upgrade(now).unwrap();
    s.on_upgrade_aborted();
    assert!(!s.upgrading());
}

#[test]
fn websocket_sessions() {
    let now = Instant::now();
    let mut s = EngineSession::new("s1".into(), Transport::Websocket, config(), now);
    let first = s.drain_websocket();
    assert!(matches!(&first[..], [Outgoing::Text(t)] if t.starts_with(b"0{\"sid\":\"s1\",\"upgrades\":[]")));
    assert!(s.begin_upgrade(now).is_err());
    assert!(s.on_poll().is_err());
    let binary = Packet::decode_binary(&[7]);
    assert_eq!(s.on_websocket_packet(binary, now).unwrap(), Some(Inbound::Binary(Cow::Borrowed(&[7][..]))));
    assert_eq!(s.on_websocket_packet(Packet::Close, now).unwrap(), None);
    assert_eq!(s.closed(), Some(CloseReason::ClientClose));
    assert!(s.finished());

    let mut s = EngineSession::new("s2".into(), Transport::Websocket, config(), now);
    let big = "x".repeat(1000);
    let err = s.on_websocket_packet(Packet::Message(&big), now).unwrap_err();
    assert_eq!(err, EngineError::PayloadTooLarge { len: 1001, max: 1000 });
    assert_eq!(s.closed(), Some(CloseReason::MessageTooLarge));
    assert!(!CloseReason::MessageTooLarge.recoverable());
    assert!(s.finished());
}

#[test]
fn server_close_appends_close_after_queued_packets() {
    let now = Instant::now();
    let mut s = polling(now);
    s.send(text("41")).unwrap();
    s.close(CloseReason::ServerClose);
    assert_eq!(s.send(text("42[\"late\"]")), Err(CloseReason::ServerClose));
    assert_eq!(s.on_poll().unwrap().unwrap(), b"41\x1e1");
    assert!(s.finished());
}

#[test]
fn an_aborted_poll_closes_the_session() {
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(s.on_poll().unwrap(), None);
    s.on_poll_aborted();
    assert_eq!(s.closed(), Some(CloseReason::TransportError));
}
