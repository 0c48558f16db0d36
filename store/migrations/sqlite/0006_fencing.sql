-- Fencing tokens: each claim of a mail bumps lease_token; only the holder of
-- the current token may record the outcome (a node whose lease expired
-- cannot overwrite the state of the node that took the mail over).
ALTER TABLE outbox ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
