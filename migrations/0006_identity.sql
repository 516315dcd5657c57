-- Sign-in that lasts: rotating refresh tokens per device, and the audit trail (docs/operations.md, "Sign-in and
-- sessions" and "Audit log").

-- One row per refresh token ever issued and not yet collected. Only the SHA-256 of the token is stored: a copy of
-- this table does not let anyone sign in. A sign-in starts a family; each refresh marks the presented token used
-- and adds the next one to the family. Presenting a used token again means a copy of it is in other hands: the
-- whole family is revoked (RFC 9700 §4.14.2, refresh token rotation).
CREATE TABLE refresh_tokens (
    token_hash      bytea PRIMARY KEY,
    family_id       uuid NOT NULL,
    user_id         text NOT NULL REFERENCES users (id),
    device          text NOT NULL CHECK (device IN ('web', 'mobile')),
    -- The client's own id of the installation (browser profile, phone); a newer mobile device revokes the others.
    device_id       text NOT NULL,
    -- The user's passkey at sign-in: after a passkey reset the family no longer refreshes.
    passkey         text NOT NULL,
    -- How the family was started: 'password' or 'sso'.
    method          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_device ON refresh_tokens (user_id, device, device_id);

-- Who did what, when and from where. Append-only: a trigger refuses UPDATE, and DELETE unless the retention purge
-- (`sendjay-router admin audit-purge`) has set `sendjay.audit_purge` for its own transaction.
CREATE TABLE audit_log (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    -- Who: the user who acted; null for an unknown user (a failed login names the claimed id as subject).
    actor    text,
    -- What: a code from docs/operations.md ("Audit log").
    action   text NOT NULL,
    -- To whom or what: a user id, or `room:<id>`.
    subject  text,
    -- Where: the client's address as the router or node saw it.
    source   text,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_subject ON audit_log (subject, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('sendjay.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused); old entries are removed only by sendjay-router admin audit-purge', TG_OP;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
