-- Read receipts: each user's read position per channel, with the channel's
-- epoch at the time (a mark from an older epoch counts as nothing read).
CREATE TABLE IF NOT EXISTS read_state (
    user_id    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    epoch      TEXT NOT NULL,
    "offset"   INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS read_state_channel ON read_state (channel, updated_ms);

-- Notification inboxes. AUTOINCREMENT: ids are never reused, so a client's
-- `before` cursor and a deleted id never point at another notification.
CREATE TABLE IF NOT EXISTS notifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- Canonical JSON text (keys sorted), so a retry compares equal.
    data       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    -- NULL = never expires.
    expires_ms INTEGER NULL,
    read       INTEGER NOT NULL DEFAULT 0,
    dedupe_key TEXT NULL
);

CREATE INDEX IF NOT EXISTS notifications_user ON notifications (user_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS notifications_dedupe
    ON notifications (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS notifications_expiry
    ON notifications (expires_ms) WHERE expires_ms IS NOT NULL;
