-- Expire the sessions of one user after a password change.
BEGIN;
UPDATE sessions
SET expired_at = now();
DELETE FROM remember_tokens WHERE user_id = :user_id;
COMMIT;
