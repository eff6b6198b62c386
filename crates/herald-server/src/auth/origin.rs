//! Origin checks for browser connections: an allowed-origins list with
//! wildcards (`https://*.example.com`). A request without an `Origin`
//! header (not a browser) is allowed; a browser from an unlisted origin is
//! refused before the upgrade.

/// The allowed origins.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// From the configured list (empty: any origin).
    pub fn new(allowed: &[String]) -> Self {
        Self { allowed: allowed.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect() }
    }

    /// Whether a request with this `Origin` header value may connect.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        if self.allowed.is_empty() {
            return true;
        }
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.allowed.iter().any(|p| matches(p, &origin))
    }
}

fn matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.split_once("://*.") {
        // `scheme://*.domain` matches `scheme://sub.domain` (any depth), not `scheme://domain`.
        Some((scheme, domain)) => origin
            .strip_prefix(scheme)
            .and_then(|r| r.strip_prefix("://"))
            .is_some_and(|host| host.ends_with(&format!(".{domain}"))),
        None => pattern == origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_exact() {
        let p = OriginPolicy::new(&["https://*.example.com".into(), "http://localhost:3000".into()]);
        assert!(p.allows(None));
        assert!(p.allows(Some("https://app.example.com")));
        assert!(p.allows(Some("https://a.b.example.com")));
        assert!(p.allows(Some("http://localhost:3000/")));
        assert!(!p.allows(Some("https://example.com")));
        assert!(!p.allows(Some("http://app.example.com")));
        assert!(!p.allows(Some("https://evil-example.com")));
        assert!(!p.allows(Some("https://app.example.com.evil.net")));
        assert!(OriginPolicy::new(&[]).allows(Some("https://anything")));
    }
}
