-- Public channels (issue 18, docs/protocol.md §6.19): group rooms that anyone in the company — or in one
-- organisation unit and the units below it — finds in the channel directory (`list_channels`) and joins by
-- themselves (`join_channel`). Every other group room stays private: invite only.
ALTER TABLE rooms ADD COLUMN channel boolean NOT NULL DEFAULT false;
-- NULL: open to the whole company; else to users of this unit or of a unit below it.
ALTER TABLE rooms ADD COLUMN channel_unit_id text REFERENCES org_units (id);
ALTER TABLE rooms ADD CONSTRAINT rooms_channel_is_a_group CHECK (NOT channel OR kind = 'group');
ALTER TABLE rooms ADD CONSTRAINT rooms_channel_unit_only_for_channels CHECK (channel OR channel_unit_id IS NULL);
-- Names are unique among channels, ignoring case (one "general", not three); the directory pages by this order.
-- A partial index: sends update rooms rows of private rooms and channels alike without touching it (HOT).
CREATE UNIQUE INDEX rooms_channel_names ON rooms (lower(name)) WHERE channel;
