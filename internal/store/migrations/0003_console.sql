-- Custos store, schema version 3: the investigator console's own tables
-- (internal/console). Each row keeps the console's record as JSON (raw);
-- the columns beside it are what the console looks rows up by.

CREATE TABLE console_users (
    name TEXT PRIMARY KEY,
    raw  TEXT NOT NULL
) WITHOUT ROWID;

-- id is the SHA-256 of the session cookie's token, never the token.
CREATE TABLE console_sessions (
    id        TEXT    PRIMARY KEY,
    user      TEXT    NOT NULL,
    last_seen INTEGER NOT NULL,  -- nanoseconds since the epoch, UTC
    raw       TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_user ON console_sessions (user);

-- What investigators decided about each case (assignee, status, verdict).
CREATE TABLE console_cases (
    case_id TEXT PRIMARY KEY,
    raw     TEXT NOT NULL
) WITHOUT ROWID;

-- Each case's history: assignments, comments, verdicts, closes, responses.
CREATE TABLE console_case_actions (
    seq     INTEGER PRIMARY KEY,
    case_id TEXT    NOT NULL,
    time    INTEGER NOT NULL,
    raw     TEXT    NOT NULL
);
CREATE INDEX console_case_actions_case ON console_case_actions (case_id, seq);

-- Identity reveals: who saw which agent's identity, why, and until when.
CREATE TABLE console_reveals (
    seq   INTEGER PRIMARY KEY,
    user  TEXT    NOT NULL,
    actor TEXT    NOT NULL,
    until INTEGER NOT NULL,
    raw   TEXT    NOT NULL
);
CREATE INDEX console_reveals_user ON console_reveals (user, until);

-- The console's audit trail. Append-only: nothing in Custos updates or
-- deletes it.
CREATE TABLE console_audit (
    seq    INTEGER PRIMARY KEY,
    time   INTEGER NOT NULL,
    user   TEXT    NOT NULL,
    action TEXT    NOT NULL,
    raw    TEXT    NOT NULL
);
CREATE INDEX console_audit_user ON console_audit (user, seq);
CREATE INDEX console_audit_action ON console_audit (action, seq);

-- Keys the console generates once and keeps (the pseudonym key).
CREATE TABLE console_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- The console rebuilds the ticket index for the customers on a page, in
-- time order.
CREATE INDEX console_ticket_changes_subject ON ticket_changes (subject, time) WHERE subject <> '';
