//! Upgrade validation and permessage-deflate negotiation.

use herald_ws::handshake::{DEFLATE_RESPONSE, DeflateConfig, DeflateParams, HandshakeError, accept_key, negotiate};
use http::HeaderMap;
use http::header::{HeaderValue, SEC_WEBSOCKET_EXTENSIONS};

fn request(extra: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("example.com"));
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert("connection", HeaderValue::from_static("Upgrade"));
    h.insert("sec-websocket-version", HeaderValue::from_static("13"));
    h.insert("sec-websocket-key", HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
    for (k, v) in extra {
        h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn with_extensions(offers: &[&str]) -> HeaderMap {
    let pairs: Vec<(&str, &str)> = offers.iter().map(|o| ("sec-websocket-extensions", *o)).collect();
    request(&pairs)
}

fn deflate_on() -> DeflateConfig {
    DeflateConfig::default()
}

fn accepted(offers: &[&str]) -> bool {
    let n = negotiate(&with_extensions(offers), &deflate_on()).unwrap();
    assert_eq!(n.deflate.is_some(), n.response_extensions.is_some());
    if let Some(ext) = &n.response_extensions {
        assert_eq!(ext, DEFLATE_RESPONSE);
        assert_eq!(n.deflate, Some(DeflateParams::default()));
    }
    n.deflate.is_some()
}

#[test]
fn accept_key_matches_rfc_6455() {
    assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let n = negotiate(&request(&[]), &deflate_on()).unwrap();
    assert_eq!(n.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let headers = n.response_headers();
    assert_eq!(headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert!(headers.get(SEC_WEBSOCKET_EXTENSIONS).is_none());
}

#[test]
fn no_extension_header_means_no_compression() {
    assert!(!accepted(&[]));
}

#[test]
fn plain_offer_is_accepted() {
    assert!(accepted(&["permessage-deflate"]));
    assert_eq!(DEFLATE_RESPONSE, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

#[test]
fn client_max_window_bits_with_and_without_value() {
    assert!(accepted(&["permessage-deflate; client_max_window_bits"]));
    assert!(accepted(&["permessage-deflate; client_max_window_bits=9"]));
    assert!(accepted(&["permessage-deflate; client_max_window_bits=\"15\""]));
    assert!(!accepted(&["permessage-deflate; client_max_window_bits=20"]));
}

#[test]
fn unknown_param_is_declined() {
    assert!(!accepted(&["permessage-deflate; mystery_param"]));
    assert!(!accepted(&["permessage-deflate; mystery_param=1"]));
}

#[test]
fn small_server_window_is_declined() {
    assert!(!accepted(&["permessage-deflate; server_max_window_bits=10"]));
    assert!(accepted(&["permessage-deflate; server_max_window_bits=15"]));
}

#[test]
fn first_acceptable_offer_wins() {
    // Browsers' typical header.
    assert!(accepted(&["permessage-deflate; client_max_window_bits"]));
    assert!(accepted(&["permessage-deflate; server_max_window_bits=8, permessage-deflate; bogus, \
         permessage-deflate; client_max_window_bits"]));
    // Offers spread over several header lines.
    assert!(accepted(&[
        "x-unknown-ext; a=1",
        "permessage-deflate; server_max_window_bits=9",
        "permessage-deflate; server_no_context_takeover",
    ]));
    assert!(!accepted(&[
        "permessage-deflate; server_max_window_bits=9",
        "permessage-deflate; a",
        "x-webkit-deflate-frame",
    ]));
}

#[test]
fn disabled_config_never_compresses() {
    let cfg = DeflateConfig { enabled: false, ..DeflateConfig::default() };
    let n = negotiate(&with_extensions(&["permessage-deflate"]), &cfg).unwrap();
    assert!(n.deflate.is_none());
    assert!(n.response_extensions.is_none());
}

#[test]
fn header_tokens_are_case_insensitive_lists() {
    let mut h = request(&[]);
    h.insert("upgrade", HeaderValue::from_static("WebSocket"));
    h.insert("connection", HeaderValue::from_static("keep-alive, Upgrade"));
    assert!(negotiate(&h, &deflate_on()).is_ok());
}

#[test]
fn invalid_requests_are_rejected() {
    let cfg = deflate_on();
    let mut h = request(&[]);
    h.remove("upgrade");
    assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::MissingUpgrade));

    let mut h = request(&[]);
    h.insert("connection", HeaderValue::from_static("keep-alive"));
    assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::MissingConnectionUpgrade));

    let mut h = request(&[]);
    h.remove("sec-websocket-version");
    assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::MissingVersion));

    let mut h = request(&[]);
    h.insert("sec-websocket-version", HeaderValue::from_static("8"));
    assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::UnsupportedVersion("8".into())));

    let mut h = request(&[]);
    h.remove("sec-websocket-key");
    assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::MissingKey));

    for bad in ["", "not base64!", "dGhlIHNhbXBsZQ==", "dGhlIHNhbXBsZSBub25jZSEh"] {
        let mut h = request(&[]);
        h.insert("sec-websocket-key", HeaderValue::from_str(bad).unwrap());
        assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::InvalidKey), "{bad:?}");
    }

    let h = request(&[("sec-websocket-key", "AQIDBAUGBwgJCgsMDQ4PEA==")]);
    assert_eq!(negotiate(&h, &cfg), Err(HandshakeError::DuplicateKey));
}

#[test]
fn errors_read_as_sentences() {
    let msg = HandshakeError::UnsupportedVersion("8".into()).to_string();
    assert!(msg.contains("version \"8\"") && msg.contains("13"), "{msg}");
    assert!(HandshakeError::InvalidKey.to_string().contains("16 bytes"));
}
