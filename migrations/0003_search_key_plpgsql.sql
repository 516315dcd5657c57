-- sj_search_key (0002) as PL/pgSQL, with the same result for every input.
--
-- The message search index evaluates sj_search_key(body) for every inserted message. As a LANGUAGE sql function
-- with a subquery it cannot be inlined, so each insert parsed and planned its body, split the text with a
-- regular expression into one row per character and sorted them back: about a third of PostgreSQL's CPU per
-- sent message in the small-rooms benchmark. PL/pgSQL keeps its plans per session, returns ASCII text (the
-- common case) straight away, and walks other text in a plain loop. The outputs are identical, so the index built
-- with the old definition stays valid and is not rebuilt; the check below refuses to finish otherwise.
CREATE OR REPLACE FUNCTION sj_search_key(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    s   text := lower(t);
    d   constant text := '0123456789abcdefghijklmnopqrstuvwxyz';
    key text := '';
    ch  text;
    n   integer;
BEGIN
    -- In UTF-8 a text is ASCII exactly when it has as many bytes as characters; ASCII is kept as is.
    IF octet_length(s) = char_length(s) AND getdatabaseencoding() = 'UTF8' THEN
        RETURN s;
    END IF;
    FOREACH ch IN ARRAY regexp_split_to_array(s, '') LOOP
        n := ascii(ch);
        IF n < 128 THEN
            key := key || ch;
        ELSE
            key := key || substr(d, n / 46656 % 36 + 1, 1) || substr(d, n / 1296 % 36 + 1, 1)
                       || substr(d, n / 36 % 36 + 1, 1) || substr(d, n % 36 + 1, 1);
        END IF;
    END LOOP;
    RETURN key;
END
$$;

-- The keys the 0002 definition gives for these texts (ASCII lower-cased; 회 = U+D68C → 16do, 의 = U+C758 → 13dk).
DO $$
BEGIN
    IF sj_search_key('') <> ''
       OR sj_search_key('Hello, World_100%') <> 'hello, world_100%'
       OR sj_search_key('회의 Ab') <> '16do13dk ab'
       OR sj_search_key('MiXeD 한글 😀') <> 'mixed 16580ydc 2r5s'
    THEN
        RAISE EXCEPTION 'sj_search_key changed its output; the message search index would be wrong';
    END IF;
END
$$;
