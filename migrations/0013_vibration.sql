-- The seed's "vibration off" setting (issue 18): the mobile app does not vibrate for notifications. Stored and
-- returned with the other settings (and pushed to the user's other device); the app applies it, as it does
-- `sound_off`.
ALTER TABLE user_settings ADD COLUMN vibration_off boolean NOT NULL DEFAULT false;
