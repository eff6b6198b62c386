-- Collaborative documents (Yjs): per document, the last compacted snapshot
-- and the updates appended since. Loading = snapshot + every update after it.
CREATE TABLE IF NOT EXISTS document_snapshots (
    name        TEXT PRIMARY KEY,
    snapshot    BLOB NOT NULL,
    through_seq INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;

-- AUTOINCREMENT: sequence numbers are never reused, so a snapshot's
-- `through_seq` never covers an update appended after it.
CREATE TABLE IF NOT EXISTS document_updates (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    data BLOB NOT NULL
);

CREATE INDEX IF NOT EXISTS document_updates_name ON document_updates (name, seq);
