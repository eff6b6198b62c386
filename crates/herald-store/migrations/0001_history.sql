-- Channel history: one row per stream (channel) and one per stored publication.
-- Later features add their own tables in new numbered migration files; never
-- edit an applied migration (sqlx checks their checksums at open).

CREATE TABLE IF NOT EXISTS streams (
    channel TEXT PRIMARY KEY NOT NULL,
    -- The channel's current history; a wiped database gives new epochs.
    epoch   TEXT NOT NULL,
    -- The last offset assigned and committed (0 = none).
    top     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS publications (
    channel          TEXT NOT NULL,
    "offset"         INTEGER NOT NULL,
    epoch            TEXT NOT NULL,
    time_ms          INTEGER NOT NULL,
    -- time_ms + the namespace's ttl; NULL = kept until trimmed by size.
    expires_ms       INTEGER NULL,
    -- The body, validated JSON text.
    data             TEXT NOT NULL,
    publisher_client TEXT NULL,
    publisher_user   TEXT NULL,
    idempotency_key  TEXT NULL,
    PRIMARY KEY (channel, "offset")
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS publications_expiry
    ON publications (expires_ms) WHERE expires_ms IS NOT NULL;
