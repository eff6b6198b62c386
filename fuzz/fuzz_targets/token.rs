//! Connection tokens: header and claim parsing of arbitrary strings never
//! panics and never grants anything without a valid signature.
#![no_main]

use std::sync::OnceLock;

use herald_server::auth::TokenVerifier;
use herald_server::config::AuthConfig;
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static TokenVerifier {
    static V: OnceLock<TokenVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let cfg = AuthConfig { token_secret: Some("fuzz-secret".into()), ..Default::default() };
        TokenVerifier::from_config(&cfg).ok().flatten().expect("verifier")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        assert!(verifier().verify(token).is_err(), "a random string verified as a token");
    }
});
