-- Custos store, schema version 1. See docs/store.md.
--
-- Times are INTEGER nanoseconds since the Unix epoch, UTC, so they sort and
-- compare exactly; datetime(time / 1000000000, 'unixepoch') shows them.
-- Every record keeps its JSON exactly as received (raw), so fields Custos
-- does not know survive and can be passed on.

-- Access events. seq is the global ingest order, shared with ticket_changes,
-- so the engine can be re-fed exactly what it was fed live.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    id      TEXT    NOT NULL UNIQUE,  -- idempotency: a retried event is ignored
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT,                     -- NULL when the event touches no customer
    ticket  TEXT,
    raw     TEXT    NOT NULL
);
-- "Which customers did actor A see between T1 and T2?" (exposure), answered
-- from the index alone.
CREATE INDEX events_actor_time ON events (actor, time, subject);
-- "Who saw customer C?" (attribution), answered from the index alone.
CREATE INDEX events_subject_time ON events (subject, time, actor) WHERE subject IS NOT NULL;

-- Ticket changes, in the same ingest order as events. A change identical in
-- every contract field to one already stored is a retry and is ignored.
CREATE TABLE ticket_changes (
    seq      INTEGER PRIMARY KEY,
    id       TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    subject  TEXT    NOT NULL,  -- '' when the change names none
    assignee TEXT    NOT NULL,  -- '' when unassigned
    status   TEXT    NOT NULL,
    raw      TEXT    NOT NULL
);
CREATE UNIQUE INDEX ticket_changes_key ON ticket_changes (id, time, status, assignee, subject);

-- The roster: the latest entry per actor id.
CREATE TABLE people (
    id      TEXT PRIMARY KEY,
    vendor  TEXT NOT NULL,
    team    TEXT NOT NULL,
    role    TEXT NOT NULL,
    raw     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX people_vendor ON people (vendor);

-- Customers: the latest record per customer id.
CREATE TABLE subjects (
    id         TEXT PRIMARY KEY,
    honeytoken INTEGER NOT NULL,
    raw        TEXT NOT NULL
) WITHOUT ROWID;

-- Findings. Alerts are immutable (insert or ignore by id); a case is
-- rewritten as it grows (upsert by id) and keeps the time it first opened.
-- seq is the order of first insertion, never changed by an update, so a
-- cursor over it is stable.
CREATE TABLE findings (
    seq      INTEGER PRIMARY KEY,
    id       TEXT    NOT NULL UNIQUE,
    kind     TEXT    NOT NULL,        -- alert or case
    actor    TEXT    NOT NULL,
    rule     TEXT    NOT NULL,        -- '' for cases
    severity INTEGER NOT NULL,        -- 1 info .. 5 critical
    time     INTEGER NOT NULL,        -- this version's event time
    opened   INTEGER NOT NULL,        -- the first version's event time
    raw      TEXT    NOT NULL         -- the finding line (FORMATS.md section 6)
);
CREATE INDEX findings_actor ON findings (actor, seq);
CREATE INDEX findings_rule ON findings (rule, seq);
CREATE INDEX findings_time ON findings (time);
