-- Notification hours (issue 16): the setting means the original product's 알림시간 (TM_FR/TM_TO), the daily window
-- in which notifications ARE delivered, no longer the quiet hours in which they are not. The window is the
-- complement of the quiet hours, so the stored values keep their meaning when the columns swap names: the old
-- quiet_to (when quiet ended) is when notifications start, the old quiet_from is when they stop. Plus the user's
-- time zone (IANA name; '' = the device's own), in which the window is read.
ALTER TABLE user_settings RENAME COLUMN quiet_from TO notify_to;
ALTER TABLE user_settings RENAME COLUMN quiet_to TO notify_from;
ALTER TABLE user_settings ADD COLUMN time_zone text NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64);
COMMENT ON COLUMN user_settings.notify_from IS 'notifications are delivered from this minute after local midnight (with notify_to; both NULL = always)';
COMMENT ON COLUMN user_settings.notify_to IS 'until this minute after local midnight (wrapping past midnight when before notify_from; equal = the whole day)';
