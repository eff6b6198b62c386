//! `Hub::authorize`: the one authorization check every door goes through.

use super::*;

impl Hub {
    /// Check that `identity` may do `right` on `channel`; returns the
    /// channel's namespace options. The one authorization check every door
    /// goes through.
    pub fn authorize(
        &self,
        identity: &Identity,
        channel: &ChannelName,
        right: Rights,
    ) -> Result<&NamespaceOptions, HeraldError> {
        let opts = self.namespaces.options(channel)?;
        if identity.granted(channel, right) {
            return Ok(opts);
        }
        let public_read = matches!(right, Rights::SUBSCRIBE | Rights::HISTORY | Rights::PRESENCE);
        if opts.public && public_read && !is_private(channel) {
            return Ok(opts);
        }
        metrics::counter!("herald_permission_denied_total", "right" => right.name()).increment(1);
        let who =
            identity.user.as_deref().map(|u| format!("user {u:?}")).unwrap_or_else(|| "an anonymous connection".into());
        Err(HeraldError::new(ErrorCode::PermissionDenied, format!("{who} may not {} on {channel}", right.name())))
    }

    pub(crate) fn authorize_caller(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
        right: Rights,
    ) -> Result<&NamespaceOptions, HeraldError> {
        match caller {
            Caller::Client(conn) => self.authorize(&conn.identity(), channel, right),
            Caller::Identity(identity) => self.authorize(identity, channel, right),
            Caller::Server => self.namespaces.options(channel),
        }
    }
}
