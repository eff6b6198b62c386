//! The app's channel policy: JSON Schemas for published data and an
//! authorization callback asked before each subscription.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Server, connect, temp_dir};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn published_data_must_match_the_namespace_schema() {
    let dir = temp_dir("schema");
    let schema = dir.join("chat.json");
    std::fs::write(
        &schema,
        json!({
            "type": "object",
            "required": ["text"],
            "properties": { "text": { "type": "string", "maxLength": 20 } }
        })
        .to_string(),
    )
    .unwrap();
    let server = Server::start(&format!("[namespaces.chat]\nschema_file = \"{}\"\n", schema.display())).await;
    let c = connect(&server).await;
    c.publish("chat:a", &json!({"text": "hello"}), None).await.unwrap();
    let err = c.publish("chat:a", &json!({"text": 42}), None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(107));
    assert!(err.to_string().contains("/text"), "names the path of the first error: {err}");
    let err = c.publish("chat:a", &json!({"other": 1}), None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(107));
    // The HTTP API is held to the same schema; other namespaces are not.
    let r = server.post("/api/publish", &json!({"channel": "chat:a", "data": {"text": "x".repeat(30)}})).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (400, Some(107)));
    c.publish("free:a", &json!(1), None).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A tiny app endpoint: allows `secure:ok*`, denies `secure:no`, fails on
/// `secure:err`, and is too slow on `secure:slow`. Counts the requests.
async fn app_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                let body = loop {
                    let Ok(k) = s.read(&mut buf[n..]).await else { return };
                    if k == 0 {
                        return;
                    }
                    n += k;
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= len {
                            break body.to_string();
                        }
                    }
                };
                count.fetch_add(1, Ordering::SeqCst);
                let req: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let channel = req["channel"].as_str().unwrap_or("");
                let (status, answer) = match channel {
                    c if c.starts_with("secure:ok") => ("200 OK", r#"{"allow":true}"#),
                    "secure:err" => ("500 Internal Server Error", "{}"),
                    "secure:slow" => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        ("200 OK", r#"{"allow":true}"#)
                    }
                    _ => ("200 OK", r#"{"allow":false}"#),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/authorize"), hits)
}

#[tokio::test]
async fn the_authorization_callback_decides_and_is_cached() {
    let (url, hits) = app_endpoint().await;
    let server = Server::start(&format!(
        "[namespaces.secure]\nauthorize_url = \"{url}\"\nauthorize_cache_secs = 60\nauthorize_timeout_ms = 500\n"
    ))
    .await;
    let c = connect(&server).await;
    c.subscribe("secure:ok", None).await.unwrap();
    assert_eq!(c.subscribe("secure:no", None).await.unwrap_err().server_code(), Some(103));
    let err = c.subscribe("secure:err", None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(116), "5xx denies with a temporary error");
    let err = c.subscribe("secure:slow", None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(116), "a time-out denies");
    assert!(err.to_string().contains("authorization endpoint"), "{err}");
    let before = hits.load(Ordering::SeqCst);
    // A second connection subscribing to the same channel uses the cached answer.
    let d = connect(&server).await;
    d.subscribe("secure:ok", None).await.unwrap();
    assert_eq!(d.subscribe("secure:no", None).await.unwrap_err().server_code(), Some(103));
    assert_eq!(hits.load(Ordering::SeqCst), before, "cached answers are reused");
    // Other namespaces are not asked.
    c.subscribe("open:x", None).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), before);
}
