//! TLS without a proxy: HTTP and the WebSocket door over rustls.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Server;
use herald_ws::client::TestClient;
use herald_ws::frame::OP_TEXT;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsConnector, rustls};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

async fn tls_connect(server: &Server) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixture("tls_ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
}

#[tokio::test]
async fn https_and_wss_work_with_a_configured_certificate() {
    let server = Server::start_tls(&format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        fixture("tls_cert.pem"),
        fixture("tls_key.pem")
    ))
    .await;
    let mut s = tls_connect(&server).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok();
    assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("ok"), "{out}");

    // WebSocket over TLS, through the same upgrade path.
    let mut s = tls_connect(&server).await;
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let mut c = TestClient::new(s);
    c.send_message(OP_TEXT, br#"{"id":1,"op":"connect"}"#, false, &[]).await.unwrap();
    let (_, reply) = tokio::time::timeout(Duration::from_secs(5), c.read_message()).await.unwrap().unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert!(v["result"]["client"].is_string(), "{v}");
}
