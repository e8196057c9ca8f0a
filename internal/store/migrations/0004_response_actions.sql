-- Custos store, schema version 4: the response actions journal. See
-- docs/store.md and docs/integrations.md.
--
-- One row per configured action and finding: the action (SCIM deactivation,
-- SOAR webhook, roster suspend) a case or alert triggered, updated at every
-- attempt. A row whose status is not 'pending' is final: the action is not
-- attempted again for that finding, after a restart either.
CREATE TABLE response_actions (
    action   TEXT    NOT NULL,  -- the configured action's name
    finding  TEXT    NOT NULL,  -- the case or alert id that triggered it
    type     TEXT    NOT NULL,  -- scim_disable, webhook, suspend
    actor    TEXT    NOT NULL,
    target   TEXT    NOT NULL,  -- SCIM user id, webhook host, roster id ('' if unknown)
    status   TEXT    NOT NULL,  -- pending, succeeded, failed, skipped, dry_run
    code     INTEGER NOT NULL,  -- HTTP status of the last attempt, 0 if none
    result   TEXT    NOT NULL,  -- what the last attempt came to, in a sentence
    attempts INTEGER NOT NULL,
    started  INTEGER NOT NULL,  -- first attempt, wall clock, ns since the epoch
    updated  INTEGER NOT NULL,  -- last attempt
    PRIMARY KEY (action, finding)
) WITHOUT ROWID;
CREATE INDEX response_actions_finding ON response_actions (finding);
CREATE INDEX response_actions_actor ON response_actions (actor, started);
