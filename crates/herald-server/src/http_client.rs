//! A small outbound HTTP(S) client for the app's endpoints (authorization
//! callback, JWKS). HTTPS uses rustls with the webpki root certificates.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Largest response body read, bytes.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be made or the connection failed.
    #[error("request failed: {0}")]
    Failed(String),
    /// The answer was too large.
    #[error("answer larger than {MAX_RESPONSE} bytes")]
    TooLarge,
}

/// An HTTP/1.1 client (http and https).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with the webpki roots for https.
    pub fn new() -> Self {
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        Self { inner: Client::builder(TokioExecutor::new()).build(https) }
    }

    /// Send `req` and read the status and body, all within `timeout`.
    pub async fn send(
        &self,
        req: http::Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<(http::StatusCode, Bytes), FetchError> {
        let work = async {
            let resp = self.inner.request(req).await.map_err(|e| FetchError::Failed(e.to_string()))?;
            let status = resp.status();
            let limited = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE);
            let body = limited.collect().await.map_err(|_| FetchError::TooLarge)?.to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(timeout, work).await.map_err(|_| FetchError::Timeout(timeout))?
    }
}
