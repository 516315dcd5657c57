-- Push subscriptions (issue 16): where each user's device class gets notifications while it is not connected.
-- One row per user and device class (the product allows one web and one mobile session), replaced by the
-- newest subscribe. Web Push rows carry the browser's endpoint and keys (RFC 8291), FCM rows the app's
-- registration token. A push service answering 404/410 (Web Push) or UNREGISTERED (FCM) deletes the row.
CREATE TABLE push_devices (
    user_id     text NOT NULL REFERENCES users (id),
    device      text NOT NULL CHECK (device IN ('web', 'mobile')),
    provider    text NOT NULL CHECK (provider IN ('web_push', 'fcm')),
    -- Web Push: the push service URL; FCM: the registration token.
    address     text NOT NULL CHECK (length(address) <= 4096),
    -- Web Push only: the browser's P-256 public key and auth secret, base64url.
    p256dh      text NOT NULL DEFAULT '',
    auth        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device),
    CHECK (provider = 'fcm' OR (p256dh <> '' AND auth <> ''))
);
