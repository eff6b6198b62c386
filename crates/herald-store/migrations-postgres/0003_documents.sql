-- Collaborative documents (Yjs): per document, the last compacted snapshot
-- and the updates appended since. Loading = snapshot + every update after it.

-- Sequence numbers of document updates: increasing and never reused.
CREATE SEQUENCE IF NOT EXISTS document_update_seq;

-- One row per document: the last sequence number handed out. An append
-- takes the next number while it holds this row's lock and keeps it until
-- it commits, so one document's updates commit in sequence order on every
-- node: whoever sees update N committed sees every update before it.
CREATE TABLE IF NOT EXISTS document_heads (
    name     TEXT COLLATE "C" PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS document_snapshots (
    name        TEXT COLLATE "C" PRIMARY KEY,
    snapshot    BYTEA NOT NULL,
    through_seq BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS document_updates (
    name TEXT COLLATE "C" NOT NULL,
    seq  BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (name, seq)
);
