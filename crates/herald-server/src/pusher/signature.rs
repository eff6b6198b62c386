//! Pusher's HMAC-SHA256 signatures: channel authorization
//! (`key:hex(HMAC(secret, "socket_id:channel[:channel_data]"))`), user
//! sign-in (`"socket_id::user::" + user_data`), REST request signing
//! (`"METHOD\nPATH\nQUERY"` with `body_md5`) and webhook signatures.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `hex(HMAC-SHA256(secret, data))`.
pub fn sign(secret: &str, data: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` (hex) is `secret`'s HMAC of `data`, compared in constant time.
pub fn verify(secret: &str, data: &[u8], signature: &str) -> bool {
    let Ok(sig) = hex::decode(signature) else { return false };
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.verify_slice(&sig).is_ok()
}

/// The hex MD5 of a REST request body.
pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// Whether `auth` (`key:signature`) authorizes `socket_id` on `channel`
/// (with `channel_data` for presence channels).
pub fn channel_auth_valid(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: &str,
) -> bool {
    let Some((k, sig)) = auth.split_once(':') else { return false };
    let mut data = format!("{socket_id}:{channel}");
    if let Some(cd) = channel_data {
        data.push(':');
        data.push_str(cd);
    }
    k == key && verify(secret, data.as_bytes(), sig)
}

/// Whether `auth` (`key:signature`) signs in `socket_id` as `user_data`.
pub fn signin_valid(key: &str, secret: &str, socket_id: &str, user_data: &str, auth: &str) -> bool {
    let Some((k, sig)) = auth.split_once(':') else { return false };
    k == key && verify(secret, format!("{socket_id}::user::{user_data}").as_bytes(), sig)
}

/// The string a REST request signs: method, path, and every query
/// parameter except `auth_signature`, keys lowercased and sorted, values
/// as sent (not URL-escaped).
pub fn rest_string_to_sign(method: &str, path: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, &str)> = params
        .iter()
        .filter(|(k, _)| k != "auth_signature")
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}\n{}\n{}", method.to_ascii_uppercase(), path, query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";

    #[test]
    fn private_channel_vector() {
        let sig = "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
        assert_eq!(sign(SECRET, b"1234.1234:private-foobar"), sig);
        let auth = format!("{KEY}:{sig}");
        assert!(channel_auth_valid(KEY, SECRET, "1234.1234", "private-foobar", None, &auth));
        assert!(!channel_auth_valid(KEY, SECRET, "1234.1235", "private-foobar", None, &auth));
        assert!(!channel_auth_valid(KEY, SECRET, "1234.1234", "private-foobaz", None, &auth));
        assert!(!channel_auth_valid("other", SECRET, "1234.1234", "private-foobar", None, &auth));
        assert!(!channel_auth_valid(KEY, SECRET, "1234.1234", "private-foobar", None, sig));
    }

    #[test]
    fn presence_and_signin_sign_their_data() {
        let cd = r#"{"user_id":"1"}"#;
        let auth = format!("{KEY}:{}", sign(SECRET, format!("1.2:presence-a:{cd}").as_bytes()));
        assert!(channel_auth_valid(KEY, SECRET, "1.2", "presence-a", Some(cd), &auth));
        assert!(!channel_auth_valid(KEY, SECRET, "1.2", "presence-a", Some(r#"{"user_id":"2"}"#), &auth));
        let ud = r#"{"id":"7"}"#;
        let auth = format!("{KEY}:{}", sign(SECRET, format!("1.2::user::{ud}").as_bytes()));
        assert!(signin_valid(KEY, SECRET, "1.2", ud, &auth));
        assert!(!signin_valid(KEY, SECRET, "1.3", ud, &auth));
    }

    #[test]
    fn rest_vector() {
        let body = r#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        assert_eq!(body_md5(body.as_bytes()), "ec365a775a4cd0599faeb73354201b6f");
        let params: Vec<(String, String)> = [
            ("auth_key", KEY),
            ("auth_timestamp", "1353088179"),
            ("auth_version", "1.0"),
            ("body_md5", "ec365a775a4cd0599faeb73354201b6f"),
            ("auth_signature", "ignored"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let to_sign = rest_string_to_sign("post", "/apps/3/events", &params);
        assert_eq!(
            sign(SECRET, to_sign.as_bytes()),
            "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
    }
}
