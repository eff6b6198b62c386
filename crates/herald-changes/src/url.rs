//! The parts of a `postgres://user:password@host:port/database?sslmode=…`
//! URL that the replication connection needs. `Debug` hides the password.

/// A parsed connection URL.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// Host name or address.
    pub host: String,
    /// Port. Default 5432.
    pub port: u16,
    /// Role name. Default `postgres`.
    pub user: String,
    /// Password (empty: none).
    pub password: String,
    /// Database. Default: the role name.
    pub database: String,
    /// `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`). Default `prefer`.
    pub sslmode: String,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "postgres://{}@{}:{}/{}", self.user, self.host, self.port, self.database)
    }
}

impl PgUrl {
    /// Parse `url`; the message says what is wrong, without the password.
    pub fn parse(url: &str) -> Result<PgUrl, String> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or("the changes URL must start with postgres:// or postgresql://")?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (decode(user)?, decode(pw)?),
                None => (decode(u)?, String::new()),
            },
            None => ("postgres".to_string(), String::new()),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or("unclosed [ in the host of the changes URL")?;
            (h.to_string(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (hostport.to_string(), ""),
            }
        };
        let port = if port.is_empty() {
            5432
        } else {
            port.parse::<u16>().map_err(|_| format!("the changes URL has an invalid port {port:?}"))?
        };
        let host = if host.is_empty() { "localhost".to_string() } else { host };
        let database = if database.is_empty() { user.clone() } else { decode(database)? };
        let mut sslmode = "prefer".to_string();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if let Some(("sslmode", v)) = pair.split_once('=') {
                sslmode = v.to_string();
            }
        }
        Ok(PgUrl { host, port, user, password, database, sslmode })
    }
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("bad %-escape in the changes URL")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad %-escape in the changes URL")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the changes URL is not UTF-8 after %-decoding".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_minimal_urls() {
        let u = PgUrl::parse("postgres://app:p%40ss@db.local:6543/shop?sslmode=require").unwrap();
        assert_eq!((u.user.as_str(), u.password.as_str()), ("app", "p@ss"));
        assert_eq!(
            (u.host.as_str(), u.port, u.database.as_str(), u.sslmode.as_str()),
            ("db.local", 6543, "shop", "require")
        );
        assert!(!format!("{u:?}").contains("p@ss"));
        let u = PgUrl::parse("postgresql://127.0.0.1").unwrap();
        assert_eq!(
            (u.user.as_str(), u.port, u.database.as_str(), u.sslmode.as_str()),
            ("postgres", 5432, "postgres", "prefer")
        );
        let u = PgUrl::parse("postgres://u@[::1]:5433/d").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5433));
        assert!(PgUrl::parse("mysql://x").is_err());
        assert!(PgUrl::parse("postgres://h:notaport/d").is_err());
    }
}
