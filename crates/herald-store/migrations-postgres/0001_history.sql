-- Channel history in PostgreSQL: one row per stream (channel) and one per
-- stored publication. Same shape as the SQLite schema (`migrations/`). Every
-- table lives in the store's schema (`[store] schema`, the connection's
-- `search_path`). Never edit an applied migration: add a new numbered file.
--
-- Text that Herald compares or sorts uses COLLATE "C" (byte order), so
-- orderings match the SQLite and in-memory stores whatever the database's
-- locale is.

CREATE TABLE IF NOT EXISTS streams (
    channel TEXT COLLATE "C" PRIMARY KEY,
    -- The channel's current history; a wiped schema gives new epochs.
    epoch   TEXT NOT NULL,
    -- The last offset assigned and committed (0 = none).
    top     BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS publications (
    channel          TEXT COLLATE "C" NOT NULL,
    "offset"         BIGINT NOT NULL,
    epoch            TEXT NOT NULL,
    time_ms          BIGINT NOT NULL,
    -- time_ms + the namespace's ttl; NULL = kept until trimmed by size.
    expires_ms       BIGINT NULL,
    -- The body, validated JSON text (JSON text never holds a raw NUL).
    data             TEXT NOT NULL,
    -- Client-supplied strings, stored as UTF-8 bytes: PostgreSQL text cannot
    -- hold a NUL character, and one odd idempotency key must never fail the
    -- whole group commit it rides in.
    publisher_client BYTEA NULL,
    publisher_user   BYTEA NULL,
    idempotency_key  BYTEA NULL,
    PRIMARY KEY (channel, "offset")
);

CREATE INDEX IF NOT EXISTS publications_expiry
    ON publications (expires_ms) WHERE expires_ms IS NOT NULL;
