-- Tokens of several kinds: `personal` (the bearer tokens of the API, no
-- expiry), `session` (a signed-in browser, expires), `login_link` (a
-- one-time link sent by mail, expires, deleted when used) and `feed` (a
-- calendar subscription: it opens the calendar feeds and nothing else).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal';
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
CREATE INDEX tokens_person ON tokens (person_id, kind);
-- Sign-in links are asked for by e-mail address.
CREATE INDEX people_email ON people (lower(email));
