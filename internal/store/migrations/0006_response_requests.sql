-- Custos store, schema version 6: response actions requested on demand.
-- An action asked for from the console's case page (internal/respond
-- OnDemand) records who asked and why on its response_actions row; both
-- stay '' for an action its when: trigger started.
ALTER TABLE response_actions ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE response_actions ADD COLUMN reason TEXT NOT NULL DEFAULT '';
