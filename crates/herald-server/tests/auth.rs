//! Authentication and authorization on the native door: every forged,
//! expired or misdirected credential is refused with its code, capabilities
//! decide each channel, tokens refresh on a live connection, origins are
//! checked before the upgrade; a legitimate neighbour keeps working.

mod common;

use std::time::Duration;

use common::{Server, close_code, connect, publications};
use herald_client::{Client, ClientError, ConnectOptions, Push};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const SECRET: &str = "test-secret-0123456789";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn config() -> String {
    format!(
        "[auth]\ntoken_secret = \"{SECRET}\"\nrsa_public_key_file = \"{}\"\nec_public_key_file = \"{}\"\n\
         ed_public_key_file = \"{}\"\naudience = \"herald-test\"\nrefresh_before_secs = 2\n\
         allowed_origins = [\"https://*.example.com\"]\n[namespaces.news]\npublic = true\n[namespaces.room]\npresence = true\n",
        fixture("rsa_public.pem"),
        fixture("ec_public.pem"),
        fixture("ed_public.pem")
    )
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims(sub: &str, ttl: i64) -> Value {
    json!({
        "sub": sub, "aud": "herald-test", "iat": now(), "exp": (now() as i64 + ttl),
        "info": { "name": sub.to_uppercase() },
        "capabilities": [
            { "channels": ["chat:room-7"], "allow": ["subscribe", "publish", "history"] },
            { "channels": ["room:*"], "allow": ["subscribe", "presence", "publish"] },
            { "channels": ["private-inbox-" .to_string() + sub], "allow": ["subscribe"] }
        ]
    })
}

fn hs(claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

fn pem_token(alg: Algorithm, file: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(file)).unwrap();
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_ed_pem(&pem),
    }
    .unwrap();
    encode(&Header::new(alg), claims, &key).unwrap()
}

async fn connect_with(server: &Server, token: &str) -> Result<Client, ClientError> {
    Client::connect(&server.ws_url(), ConnectOptions::default().token(token)).await.map(|(c, _)| c)
}

/// Connect with a bad token: the reply is an error with `code`, then the socket closes with `close`.
async fn refused(server: &Server, token: &str, code: u16, close: u16) {
    let c = Client::connect_raw(&server.ws_url()).await.unwrap();
    let err = c.send_connect(Some(token), None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(code), "{token}: {err}");
    assert_eq!(close_code(&c, Duration::from_secs(5)).await, Some(close), "{token}");
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_code() {
    let server = Server::start(&config()).await;
    let neighbour = connect_with(&server, &hs(&claims("neighbour", 300))).await.unwrap();
    neighbour.subscribe("chat:room-7", None).await.unwrap();

    let good = claims("u1", 300);
    // Forged signature: a valid token with its signature replaced.
    let t = hs(&good);
    let forged = format!("{}.{}", t.rsplit_once('.').unwrap().0, "AAAA");
    refused(&server, &forged, 101, 4501).await;
    // Signed with another secret.
    let other = encode(&Header::new(Algorithm::HS256), &good, &EncodingKey::from_secret(b"nope")).unwrap();
    refused(&server, &other, 101, 4501).await;
    // Expired (beyond the leeway).
    refused(&server, &hs(&claims("u1", -120)), 117, 4004).await;
    // alg: none.
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&good));
    refused(&server, &none, 101, 4501).await;
    // Wrong audience.
    let mut aud = good.clone();
    aud["aud"] = json!("someone-else");
    refused(&server, &hs(&aud), 101, 4501).await;
    // Not valid yet.
    let mut nbf = good.clone();
    nbf["nbf"] = json!(now() + 3600);
    refused(&server, &hs(&nbf), 101, 4501).await;
    // No exp at all.
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(&server, &hs(&no_exp), 101, 4501).await;
    // Algorithm confusion: HS256 "signed" with the RSA public key as the secret.
    let public_pem = std::fs::read(fixture("rsa_public.pem")).unwrap();
    let confused = encode(&Header::new(Algorithm::HS256), &good, &EncodingKey::from_secret(&public_pem)).unwrap();
    refused(&server, &confused, 101, 4501).await;
    // Garbage.
    refused(&server, "not-a-token", 101, 4501).await;

    let m = server.get("/metrics").await.unwrap().body;
    assert!(m.contains("herald_auth_refused_total{code=\"unauthorized\"}"), "{m}");
    assert!(m.contains("herald_auth_refused_total{code=\"token_expired\"}"), "{m}");
    // The neighbour never noticed.
    server.publish("chat:room-7", json!("fine")).await;
    assert_eq!(publications(&neighbour, "chat:room-7", 1).await[0].1, json!("fine"));
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_are_accepted() {
    let server = Server::start(&config()).await;
    for (alg, file) in [
        (Algorithm::RS256, "rsa_private.pem"),
        (Algorithm::ES256, "ec_private.pem"),
        (Algorithm::EdDSA, "ed_private.pem"),
    ] {
        let c = connect_with(&server, &pem_token(alg, file, &claims("u2", 300)))
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        c.subscribe("chat:room-7", None).await.unwrap();
    }
}

#[tokio::test]
async fn capabilities_decide_each_channel() {
    let server = Server::start(&config()).await;
    let c = connect_with(&server, &hs(&claims("u42", 300))).await.unwrap();
    c.subscribe("chat:room-7", None).await.unwrap();
    c.publish("chat:room-7", &json!("hi"), None).await.unwrap();
    assert_eq!(c.subscribe("chat:room-8", None).await.unwrap_err().server_code(), Some(103));
    assert_eq!(c.publish("news:today", &json!(1), None).await.unwrap_err().server_code(), Some(103));
    // Public namespace: anyone may read.
    c.subscribe("news:today", None).await.unwrap();
    // Private channels need their grant, and only their owner has it.
    c.subscribe("private-inbox-u42", None).await.unwrap();
    assert_eq!(c.subscribe("private-inbox-u43", None).await.unwrap_err().server_code(), Some(103));
    // History needs its right.
    c.history("chat:room-7", Default::default()).await.unwrap();
    assert_eq!(c.history("room:1", Default::default()).await.unwrap_err().server_code(), Some(103));

    // An anonymous visitor reads public namespaces only.
    let anon = connect(&server).await;
    anon.subscribe("news:today", None).await.unwrap();
    assert_eq!(anon.subscribe("chat:room-7", None).await.unwrap_err().server_code(), Some(103));
    assert_eq!(anon.publish("news:today", &json!(1), None).await.unwrap_err().server_code(), Some(103));
}

#[tokio::test]
async fn a_presence_channel_needs_a_user_id() {
    let server = Server::start(&config()).await;
    let mut anonymous = claims("x", 300);
    anonymous.as_object_mut().unwrap().remove("sub");
    let nobody = connect_with(&server, &hs(&anonymous)).await.unwrap();
    let err = nobody.subscribe("room:1", None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(103), "{err}");
    assert!(err.to_string().contains("user id"), "{err}");
    // The same token may still read a channel without presence.
    nobody.subscribe("chat:room-7", None).await.unwrap();
    // With a user id it is admitted, and is listed.
    let ada = connect_with(&server, &hs(&claims("ada", 300))).await.unwrap();
    ada.subscribe("room:1", None).await.unwrap();
    let members = ada.request("presence", json!({"channel": "room:1"})).await.unwrap();
    assert_eq!(members["members"].as_array().map(Vec::len), Some(1), "{members}");
}

#[tokio::test]
async fn presence_shows_the_tokens_user_and_info() {
    let server = Server::start(&config()).await;
    let a = connect_with(&server, &hs(&claims("ada", 300))).await.unwrap();
    a.subscribe("room:1", None).await.unwrap();
    let b = connect_with(&server, &hs(&claims("bob", 300))).await.unwrap();
    b.subscribe("room:1", None).await.unwrap();
    let push = a.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Join { .. })).await.unwrap();
    let Push::Join { member, .. } = push else { unreachable!() };
    assert_eq!(member.user.as_deref(), Some("bob"));
    assert_eq!(member.info, Some(json!({"name": "BOB"})));
}

#[tokio::test]
async fn a_token_is_refreshed_on_the_live_connection_or_the_connection_ends() {
    let server = Server::start(&config()).await;
    // Expires in 3 s; the server warns 2 s before.
    let c = connect_with(&server, &hs(&claims("u7", 3))).await.unwrap();
    c.subscribe("chat:room-7", None).await.unwrap();
    let warn = c.wait_push(Duration::from_secs(5), |p| matches!(p, Push::TokenExpiring { .. })).await;
    assert!(warn.is_ok(), "token_expiring push before expiry");
    // A refreshed token for another user is refused.
    let err = c.request("refresh", json!({"token": hs(&claims("mallory", 300))})).await.unwrap_err();
    assert_eq!(err.server_code(), Some(101));
    // The same user's new token keeps the connection alive past the old expiry.
    let r = c.request("refresh", json!({"token": hs(&claims("u7", 300))})).await.unwrap();
    assert!(r["expires_at"].as_u64().unwrap() > now() * 1000 + 200_000);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!c.is_closed());
    server.publish("chat:room-7", json!("still")).await;
    assert_eq!(publications(&c, "chat:room-7", 1).await[0].1, json!("still"));

    // Without a refresh the connection is closed with 4004.
    let d = connect_with(&server, &hs(&claims("u8", 2))).await.unwrap();
    assert_eq!(close_code(&d, Duration::from_secs(6)).await, Some(4004));
}

#[tokio::test]
async fn cross_origin_upgrades_are_refused_before_the_upgrade() {
    let server = Server::start(&config()).await;
    let opts = ConnectOptions::default().token(hs(&claims("u1", 300))).header("Origin", "https://evil.test");
    let err = Client::connect(&server.ws_url(), opts).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let opts = ConnectOptions::default().token(hs(&claims("u1", 300))).header("Origin", "https://app.example.com");
    Client::connect(&server.ws_url(), opts).await.unwrap();
}

#[tokio::test]
async fn a_flooding_client_is_throttled_then_cut_while_its_neighbour_flows() {
    let server =
        Server::start("[limits]\nmessages_per_conn_per_sec = 20\nmessages_per_conn_burst = 20\nabuse_threshold = 30\n")
            .await;
    let neighbour = connect(&server).await;
    neighbour.subscribe("chat:calm", None).await.unwrap();
    let flooder = connect(&server).await;
    for i in 0..500 {
        if flooder
            .send_raw_text(format!(r#"{{"id":{},"op":"publish","channel":"chat:flood","data":{i}}}"#, i + 100))
            .is_err()
        {
            break;
        }
    }
    let throttled = flooder
        .wait_push(Duration::from_secs(10), |p| matches!(p, Push::Reply { result: Err(e), .. } if e.code == 112))
        .await
        .ok();
    let closed = close_code(&flooder, Duration::from_secs(10)).await;
    assert!(throttled.is_some(), "throttled with 112 first");
    assert_eq!(closed, Some(4006), "then cut");
    for i in 0..10 {
        neighbour.publish("chat:calm", &json!(i), None).await.unwrap();
    }
    assert_eq!(publications(&neighbour, "chat:calm", 10).await.len(), 10);
    let m = server.get("/metrics").await.unwrap().body;
    assert!(m.contains("herald_rate_limited_total"), "{m}");
}

#[tokio::test]
async fn too_many_connections_for_one_user_are_refused() {
    let server = Server::start(&format!("{}[limits]\nmax_connections_per_user = 2\n", config())).await;
    let t = hs(&claims("u9", 300));
    let _a = connect_with(&server, &t).await.unwrap();
    let _b = connect_with(&server, &t).await.unwrap();
    let err = connect_with(&server, &t).await.unwrap_err();
    assert_eq!(err.server_code(), Some(106));
}

#[tokio::test]
async fn client_events_reach_others_with_the_sender_and_are_not_echoed() {
    let server = Server::start(&config()).await;
    let a = connect_with(&server, &hs(&claims("ada", 300))).await.unwrap();
    let b = connect_with(&server, &hs(&claims("bob", 300))).await.unwrap();
    a.subscribe("room:9", None).await.unwrap();
    b.subscribe("room:9", None).await.unwrap();
    a.request("event", json!({"channel": "room:9", "event": "typing", "data": {"on": true}})).await.unwrap();
    let push = b.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Event { .. })).await.unwrap();
    let Push::Event { event, from, .. } = push else { unreachable!() };
    assert_eq!(event, "typing");
    assert_eq!(from.user.as_deref(), Some("ada"), "the server sets the sender");
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Some(p) = a.try_next_push() {
        assert!(!matches!(&p, Push::Event { .. }), "not echoed to the sender: {p:?}");
    }
    // Not on a channel it may not publish to, and not without a subscription.
    let e = a.request("event", json!({"channel": "news:x", "event": "typing"})).await.unwrap_err();
    assert_eq!(e.server_code(), Some(103));
    let e = a.request("event", json!({"channel": "room:10", "event": "typing"})).await.unwrap_err();
    assert_eq!(e.server_code(), Some(111));
}

/// Serve `body` at any path over plain HTTP; returns the base URL.
async fn serve_static(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/.well-known/jwks.json")
}

#[tokio::test]
async fn keys_from_a_jwks_url_verify_tokens_by_kid() {
    let url = serve_static(std::fs::read_to_string(fixture("jwks.json")).unwrap()).await;
    let server = Server::start(&format!("[auth]\njwks_url = \"{url}\"\n")).await;
    let pem = std::fs::read(fixture("rsa_private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rsa".into());
    let mut c = claims("jw", 300);
    c.as_object_mut().unwrap().remove("aud");
    let token = encode(&header, &c, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap();
    // The key set is fetched in the background at start; allow it a moment.
    let mut ok = None;
    for _ in 0..50 {
        if let Ok(client) = connect_with(&server, &token).await {
            ok = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ok.expect("token with a known kid is accepted").subscribe("chat:room-7", None).await.unwrap();
    // An unknown kid is refused.
    header.kid = Some("other".into());
    let unknown = encode(&header, &c, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap();
    refused(&server, &unknown, 101, 4501).await;
    // An HS256 token naming the RSA key (algorithm confusion) is refused.
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("test-rsa".into());
    let confused = encode(&hs_header, &c, &EncodingKey::from_secret(b"whatever")).unwrap();
    refused(&server, &confused, 101, 4501).await;
}

#[tokio::test]
async fn the_sse_door_refuses_the_same_credentials() {
    use common::http_with;
    let server = Server::start(&config()).await;
    let get = |path: String, headers: Vec<(&'static str, String)>| {
        let addr = server.addr;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http_with(addr, "GET", &path, None, None, &h).await.unwrap()
        }
    };
    let good = hs(&claims("u1", 300));
    let forged = format!("{}.AAAA", good.rsplit_once('.').unwrap().0);
    let r = get(format!("/sse?channel=chat:room-7&token={forged}"), vec![]).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (401, Some(101)));
    let r = get(format!("/sse?channel=chat:room-7&token={}", hs(&claims("u1", -120))), vec![]).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (401, Some(117)));
    let r = get(format!("/sse?channel=chat:room-8&token={good}"), vec![]).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (403, Some(103)), "channel not in capabilities");
    let r = get("/sse?channel=chat:room-7".into(), vec![("Authorization", format!("Bearer {forged}"))]).await;
    assert_eq!(r.status, 401);
    let r = get(format!("/sse?channel=chat:room-7&token={good}"), vec![("Origin", "https://evil.test".into())]).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (403, Some(103)), "cross-origin");
    let mut anonymous = claims("x", 300);
    anonymous.as_object_mut().unwrap().remove("sub");
    let r = get(format!("/sse?channel=room:1&token={}", hs(&anonymous)), vec![]).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (403, Some(103)), "presence channel without sub");
    // The same refusals on long-polling.
    let r = get(format!("/poll?channel=chat:room-8&token={good}"), vec![]).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn an_sse_stream_ends_with_its_token() {
    use common::sse::{Opts, SseStream};
    let server = Server::start(&config()).await;
    let path = format!("/sse?channel=chat:room-7&token={}", hs(&claims("u1", 2)));
    let mut short = SseStream::open(server.addr, &path, Opts::default()).await.unwrap();
    short.expect("connected").await;
    let path = format!("/sse?channel=chat:room-7&token={}", hs(&claims("u2", 300)));
    let mut long = SseStream::open(server.addr, &path, Opts::default()).await.unwrap();
    long.expect("connected").await;
    // Within the token's life the stream works; at its end it is closed with 4004.
    server.publish("chat:room-7", json!("before")).await;
    assert_eq!(short.publications(1).await[0].2, json!("before"));
    let end = short.expect("disconnect").await.json();
    assert_eq!((end["code"].as_u64(), end["reconnect"].as_bool()), (Some(4004), Some(true)), "{end}");
    assert!(short.ends_within(Duration::from_secs(5)).await);
    // A stream with a longer token goes on.
    server.publish("chat:room-7", json!("after")).await;
    let got: Vec<_> = long.publications(2).await.into_iter().map(|(_, _, d)| d).collect();
    assert_eq!(got, vec![json!("before"), json!("after")]);
}
