-- Whether the client is known to hold the current runtime token: it came from the
-- bootstrap's answer, or a lease presented it. A refresh keeps the token a client holds:
-- it rotates (current → previous) when the current token is held, and otherwise replaces
-- just the current one, whose answer may have been lost.
ALTER TABLE installations ADD COLUMN token_used INTEGER NOT NULL DEFAULT 1;
