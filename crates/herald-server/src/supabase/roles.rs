//! Supabase tokens without Herald capabilities: a valid token (signed with
//! the configured key) whose claims carry a `role` (`anon`,
//! `authenticated`, …) but no `capabilities` gets the grants
//! `[supabase.roles]` gives that role. The token is verified first; the
//! grants are then checked by the hub like any token's.

use herald_core::{ChannelPattern, Grant, Grants, Identity, Rights};

use crate::config::supabase::{RoleGrant, SupabaseConfig};

/// Check every role's rights names (at start-up).
pub fn validate(cfg: &SupabaseConfig) -> Result<(), String> {
    for (role, grants) in &cfg.roles {
        for g in grants {
            rights(g).map_err(|r| format!("[supabase.roles] {role}: unknown right {r:?}"))?;
        }
    }
    Ok(())
}

fn rights(g: &RoleGrant) -> Result<Rights, String> {
    g.allow.iter().try_fold(Rights::NONE, |acc, r| Rights::from_name(r).map(|x| acc.union(x)).ok_or_else(|| r.clone()))
}

/// The `role` claim of a JWT (read without checking: call only with a token
/// the authenticator accepted).
fn role_claim(token: &str) -> Option<String> {
    use base64::Engine as _;
    let body = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("role")?.as_str().map(str::to_string)
}

/// `identity` (verified from `token`) with its role's grants when the token
/// granted nothing itself.
pub fn with_role_grants(cfg: &SupabaseConfig, token: &str, mut identity: Identity) -> Identity {
    let granted_nothing = matches!(&identity.grants, Grants::Only(list) if list.is_empty());
    if !granted_nothing || cfg.roles.is_empty() {
        return identity;
    }
    let Some(grants) = role_claim(token).and_then(|role| cfg.roles.get(&role)) else { return identity };
    let mut list = Vec::new();
    for g in grants {
        let Ok(rights) = rights(g) else { continue };
        list.extend(g.channels.iter().map(|c| Grant { pattern: ChannelPattern::parse(c), rights }));
    }
    identity.grants = Grants::Only(list);
    identity
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use herald_core::ChannelName;

    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let b = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", b(&serde_json::json!({"alg": "HS256"})), b(&claims))
    }

    #[test]
    fn a_role_without_capabilities_gets_the_configured_grants() {
        let cfg: SupabaseConfig = toml::from_str(
            r#"[roles]
anon = [{ channels = ["realtime:public-*"], allow = ["subscribe"] }]"#,
        )
        .unwrap();
        validate(&cfg).unwrap();
        let nothing = Identity { grants: Grants::Only(Vec::new()), ..Identity::anonymous() };
        let anon = with_role_grants(&cfg, &jwt(serde_json::json!({"role": "anon"})), nothing.clone());
        let ch = |n: &str| ChannelName::new(n).unwrap();
        assert!(anon.granted(&ch("realtime:public-news"), Rights::SUBSCRIBE));
        assert!(!anon.granted(&ch("realtime:public-news"), Rights::PUBLISH));
        assert!(!anon.granted(&ch("realtime:team"), Rights::SUBSCRIBE));
        let other = with_role_grants(&cfg, &jwt(serde_json::json!({"role": "service"})), nothing);
        assert_eq!(other.grants, Grants::Only(Vec::new()));
        let bad: SupabaseConfig = toml::from_str(r#"roles = { x = [{ channels = ["*"], allow = ["fly"] }] }"#).unwrap();
        assert!(validate(&bad).is_err());
    }
}
