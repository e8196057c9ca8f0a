-- Custos store, schema version 2: the findings outbox. See docs/store.md.
--
-- Every version of every finding stored, in the order stored, for the sinks
-- (SIEM, syslog, HEC, webhooks) to deliver. Each sink keeps its own cursor:
-- the last seq it is done with.
CREATE TABLE outbox (
    seq      INTEGER PRIMARY KEY,
    finding  TEXT    NOT NULL,  -- finding id
    revision INTEGER NOT NULL,  -- 0, then 1, 2, ... as a case is rewritten
    hash     BLOB    NOT NULL,  -- SHA-256 of line: identical content is one record
    added    INTEGER NOT NULL,  -- when it was stored, wall clock, ns since the epoch
    line     TEXT    NOT NULL   -- the finding line (FORMATS.md section 6)
);
CREATE UNIQUE INDEX outbox_finding ON outbox (finding, hash);

CREATE TABLE outbox_cursors (
    consumer TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;
