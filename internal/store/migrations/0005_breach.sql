-- Custos store, schema version 5: what the breach questions (exposure,
-- attribution, canaries; internal/breach) need. Rebuilding the ticket index
-- for a set of customers uses console_ticket_changes_subject (version 3).

-- Canary customers: honeytoken records minted for one team or one site
-- (exactly one of the two is non-empty), so a canary in a leak names where
-- it was shown.
CREATE TABLE canaries (
    subject TEXT    PRIMARY KEY,
    team    TEXT    NOT NULL,
    site    TEXT    NOT NULL,
    minted  INTEGER NOT NULL,  -- nanoseconds since the epoch, UTC
    seed    TEXT    NOT NULL
) WITHOUT ROWID;

-- Reach: how many distinct customers each actor accessed, all time and per
-- UTC day, and how many anyone accessed. Attribution scores an actor's
-- coverage of a leak against their reach, for every actor who touched a
-- leaked customer; counting that from the events would read every event of
-- every such actor (seconds at 10 M events). Store.Append keeps the counts
-- exact as events arrive (updateReach, once per batch).
CREATE TABLE reach_actor (
    actor    TEXT PRIMARY KEY,
    subjects INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE reach_actor_day (
    actor    TEXT    NOT NULL,
    day      INTEGER NOT NULL,  -- days since the epoch, UTC
    subjects INTEGER NOT NULL,
    PRIMARY KEY (actor, day)
) WITHOUT ROWID;
CREATE TABLE reach_day (
    day      INTEGER PRIMARY KEY,
    subjects INTEGER NOT NULL
);
CREATE TABLE reach_total (
    id       INTEGER PRIMARY KEY CHECK (id = 0),
    subjects INTEGER NOT NULL
);

-- Events stored before this version.
INSERT INTO reach_actor SELECT actor, count(DISTINCT subject) FROM events WHERE subject IS NOT NULL GROUP BY actor;
INSERT INTO reach_actor_day SELECT actor, time / 86400000000000, count(DISTINCT subject) FROM events WHERE subject IS NOT NULL GROUP BY 1, 2;
INSERT INTO reach_day SELECT time / 86400000000000, count(DISTINCT subject) FROM events WHERE subject IS NOT NULL GROUP BY 1;
INSERT INTO reach_total SELECT 0, count(DISTINCT subject) FROM events WHERE subject IS NOT NULL;
