-- The message search index (GIN, trigrams) collects new entries in a pending list and merges them into the index
-- when the list passes gin_pending_list_limit (4 MB by default). At a few thousand messages per second the list
-- filled every 3–4 seconds and the send that crossed the limit merged all of it, stalling every send behind it for
-- 300–500 ms (seen as periodic ack spikes in the small-rooms benchmark). With 256 kB the merges come sixteen
-- times as often and each is small: ack p99 at 2 000 sends/s went from 268 ms to 110 ms, p50 unchanged. Turning
-- the pending list off (fastupdate = off) smoothed the spikes as well but doubled the median send.
ALTER INDEX messages_search SET (gin_pending_list_limit = 256);
