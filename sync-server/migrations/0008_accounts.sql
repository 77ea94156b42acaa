-- A disabled account signs in no more, and its sessions end; enabling it again lets the
-- person sign in with their password.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
CREATE INDEX tokens_user ON tokens (user_id);
