-- Room options (issue 18): a group room's creator or an admin may hide its member list (`set_room_options`).
-- While hidden, `room_members` shows members other than the creator and admins only themselves.
ALTER TABLE rooms ADD COLUMN members_hidden boolean NOT NULL DEFAULT false;
