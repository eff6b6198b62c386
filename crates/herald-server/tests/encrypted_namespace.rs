//! `encrypted = true` namespaces: Herald refuses publications whose data is
//! not the SDK's end-to-end envelope `{herald_e2e, kid, iv, ct}`
//! (docs/encryption.md), from clients and from the HTTP API, so a
//! misconfigured client cannot leak plaintext into the store.

mod common;

use common::{Server, connect};
use serde_json::json;

#[tokio::test]
async fn an_encrypted_namespace_refuses_plaintext_from_clients_and_the_http_api() {
    let server = Server::start("[namespaces.secret]\nencrypted = true\n").await;
    let c = connect(&server).await;
    let envelope =
        json!({"herald_e2e": 1, "kid": "2026-12", "iv": "AAECAwQFBgcICQoL", "ct": "q83vASNFZ4mrze8BI0VniQ=="});
    c.publish("secret:case-42", &envelope, None).await.unwrap();

    for bad in [
        json!({"text": "blood test: negative"}),
        json!("plain string"),
        json!({"herald_e2e": 1, "kid": "k", "iv": "AAECAwQFBgcICQoL", "ct": "q83v", "text": "smuggled"}),
        json!({"herald_e2e": 2, "kid": "k", "iv": "AAECAwQFBgcICQoL", "ct": "q83v"}),
        json!({"herald_e2e": 1, "kid": "k", "iv": "not base64!", "ct": "q83v"}),
        json!({"herald_e2e": 1, "kid": "k", "iv": "AAECAwQFBgcICQoL"}),
    ] {
        let err = c.publish("secret:case-42", &bad, None).await.unwrap_err();
        assert_eq!(err.server_code(), Some(107), "{bad}: {err}");
        assert!(err.to_string().contains("encrypted"), "says why: {err}");
        let r = server.post("/api/publish", &json!({"channel": "secret:case-42", "data": bad})).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (400, Some(107)), "{bad}");
    }
    let r = server.post("/api/publish", &json!({"channel": "secret:case-42", "data": envelope})).await.unwrap();
    assert_eq!(r.status, 200);
    // Only the two envelopes were stored; other namespaces take plaintext.
    let h = server.get("/api/history/secret:case-42").await.unwrap().json();
    assert_eq!(h["publications"].as_array().map(Vec::len), Some(2));
    c.publish("chat:a", &json!({"text": "hi"}), None).await.unwrap();
}
