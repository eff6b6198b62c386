-- Read receipts: each user's read position per channel, with the channel's
-- epoch at the time (a mark from an older epoch counts as nothing read).
CREATE TABLE IF NOT EXISTS read_state (
    user_id    TEXT COLLATE "C" NOT NULL,
    channel    TEXT COLLATE "C" NOT NULL,
    epoch      TEXT NOT NULL,
    "offset"   BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, channel)
);

CREATE INDEX IF NOT EXISTS read_state_channel ON read_state (channel, updated_ms DESC, user_id);

-- Notification inboxes. The id comes from one sequence (identity column), so
-- ids are unique and increasing across every node sharing the schema, and
-- never reused: a client's `before` cursor never points at another
-- notification.
CREATE TABLE IF NOT EXISTS notifications (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- Canonical JSON text (keys sorted), so a retry compares equal.
    data       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    -- NULL = never expires.
    expires_ms BIGINT NULL,
    read       BOOLEAN NOT NULL DEFAULT FALSE,
    dedupe_key TEXT COLLATE "C" NULL
);

CREATE INDEX IF NOT EXISTS notifications_user ON notifications (user_id, id);
-- Retries from several nodes at once store one notification per key and user.
CREATE UNIQUE INDEX IF NOT EXISTS notifications_dedupe
    ON notifications (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS notifications_expiry
    ON notifications (expires_ms) WHERE expires_ms IS NOT NULL;
