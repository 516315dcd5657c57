//! Notifications to people who are not looking (docs/protocol.md §6.16), end to end against real Redis Streams,
//! real PostgreSQL and real HTTP push endpoints: a Web Push service on loopback that checks each VAPID signature
//! and decrypts each payload with the subscription's keys (Node's `http_ece`, not our crypto), and an FCM
//! endpoint that checks the OAuth2 JWT bearer grant and the message (testkit `PushService`).

mod support;

use std::time::{Duration, Instant};

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, DeviceClass, MarkReadArgs, PushSubscribeArgs, Reply, SetForegroundArgs, SetRoomPrefsArgs,
    SettingsPatch, UserIdsArgs,
};
use sendjay_testkit::{PushService, ScriptedResponse, WebPushSubscription};
use support::builder::Scenario;
use support::cluster;
use support::rules::{ok, refused, say};

/// How long a test waits for pushes that must come, and watches for pushes that must not.
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(1500);

struct Setup {
    s: Scenario,
    push: PushService,
    _account: tempfile::NamedTempFile,
}

/// One node with Web Push (a fresh VAPID key) and FCM (the push service's account) and a worker; users kim
/// and lee in one room.
async fn setup() -> Setup {
    let push = PushService::start().await;
    let account = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(account.path(), push.fcm_service_account().await).unwrap();
    let key_file = account.path().to_owned();
    let fcm_base = push.base_url();
    let vapid = sendjay_node::notify::web_push::new_vapid_key();
    let s = cluster()
        .users(&["kim", "lee"])
        .room(&["kim", "lee"])
        .configure(move |c| {
            c.vapid_private_key = Some(vapid.clone());
            c.vapid_subject = "mailto:ops@sendjay.test".into();
            c.fcm_service_account_file = Some(key_file.clone());
            c.fcm_endpoint = fcm_base.clone();
            c.notify_claim_idle_ms = 2000;
            c.default_time_zone = Some("UTC".into());
        })
        .start()
        .await;
    Setup {
        s,
        push,
        _account: account,
    }
}

fn web_push(sub: &WebPushSubscription) -> Call {
    Call::PushSubscribe(PushSubscribeArgs::WebPush {
        endpoint: sub.endpoint.clone(),
        p256dh: sub.p256dh.clone(),
        auth: sub.auth.clone(),
    })
}

fn fcm(token: &str) -> Call {
    Call::PushSubscribe(PushSubscribeArgs::Fcm {
        token: token.into(),
    })
}

/// Subscribes `user`'s web (Web Push) and mobile (FCM token `fcm-<user>`) and disconnects both sessions.
async fn subscribe_offline(setup: &Setup, user: &str) -> WebPushSubscription {
    let sub = setup.push.subscribe().await;
    let web = setup.s.connect(0, user).await;
    ok(&web, web_push(&sub)).await;
    let mobile = setup
        .s
        .connect_as(0, user, DeviceClass::Mobile, "manual")
        .await;
    ok(&mobile, fcm(&format!("fcm-{user}"))).await;
    web.close().await;
    mobile.close().await;
    sub
}

/// Waits until `user` has no live session (the node releases the record after the socket closes).
async fn wait_offline(observer: &Connection, user: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let Reply::Presence { users } = ok(
            observer,
            Call::Presence(UserIdsArgs {
                user_ids: vec![user.into()],
            }),
        )
        .await
        else {
            panic!("presence answers presence")
        };
        if users.iter().all(|u| !u.web && !u.mobile) {
            return;
        }
        assert!(Instant::now() < deadline, "{user} still shows online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fcm_for(push: &PushService, token: &str) -> Vec<serde_json::Value> {
    push.fcm_messages()
        .await
        .into_iter()
        .filter(|m| m.token == token)
        .map(|m| m.message)
        .collect()
}

async fn wait_fcm_for(push: &PushService, token: &str, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = fcm_for(push, token).await;
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_recipient_gets_exactly_one_push_per_message_on_each_device() {
    let setup = setup().await;
    let room = setup.s.rooms[0];
    let sub = subscribe_offline(&setup, "lee").await;
    let kim = setup.s.connect(0, "kim").await;
    wait_offline(&kim, "lee").await;
    let first = say(&kim, room, "m1", "lunch at noon?").await;
    let second = say(&kim, room, "m2", "in the lobby").await;

    let web = setup.push.wait_received(&sub.id, 2, WAIT).await;
    assert_eq!(web.len(), 2, "two messages, two Web Pushes: {web:?}");
    let mut seqs: Vec<i64> = web
        .iter()
        .map(|p| p.payload_json()["seq"].as_i64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, [first.seq, second.seq]);
    let payload = web
        .iter()
        .map(|p| p.payload_json())
        .find(|p| p["seq"] == first.seq)
        .unwrap();
    assert_eq!(payload["kind"], "message");
    assert_eq!(payload["room_id"], room);
    assert_eq!(payload["sender_name"], "kim");
    assert_eq!(payload["body"], "lunch at noon?");
    assert_eq!(payload["room_name"], "test");
    assert_eq!(
        web[0].topic.as_deref(),
        Some(&*format!("room-{room}")),
        "collapsed per room"
    );
    assert_eq!(web[0].vapid_sub, "mailto:ops@sendjay.test");

    let mobile = wait_fcm_for(&setup.push, "fcm-lee", 2).await;
    assert_eq!(mobile.len(), 2, "two FCM messages: {mobile:?}");
    assert_eq!(mobile[0]["android"]["collapse_key"], format!("room-{room}"));
    assert_eq!(mobile[0]["android"]["priority"], "HIGH");
    assert_eq!(mobile[0]["data"]["kind"], "message");
    assert_eq!(setup.push.fcm_grants().await, 1, "one OAuth2 token, reused");

    // Nothing for the sender, nothing twice.
    tokio::time::sleep(QUIET).await;
    assert_eq!(setup.push.received(&sub.id).await.len(), 2);
    assert_eq!(fcm_for(&setup.push, "fcm-lee").await.len(), 2);
    assert!(fcm_for(&setup.push, "fcm-kim").await.is_empty());
}

/// Connects as `user` on the web, makes these calls, disconnects, and waits (watching from `observer`) until
/// the session is gone.
async fn offline_after(setup: &Setup, observer: &Connection, user: &str, calls: Vec<Call>) {
    let web = setup.s.connect(0, user).await;
    for call in calls {
        ok(&web, call).await;
    }
    web.close().await;
    wait_offline(observer, user).await;
}

fn room_notifications(room_id: i64, on: bool) -> Call {
    Call::SetRoomPrefs(SetRoomPrefsArgs {
        room_id,
        nickname: None,
        notifications: Some(on),
    })
}

fn settings(patch: SettingsPatch) -> Call {
    Call::SetSettings(patch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_rooms_and_notification_hours_hold_pushes_back_but_a_mention_gets_through() {
    let setup = setup().await;
    let room = setup.s.rooms[0];
    let sub = setup.push.subscribe().await;
    let kim = setup.s.connect(0, "kim").await;
    let muted = vec![web_push(&sub), room_notifications(room, false)];
    offline_after(&setup, &kim, "lee", muted).await;

    say(&kim, room, "m1", "muted chatter").await;
    let mention = say(&kim, room, "m2", "@lee please look").await;
    let got = setup.push.wait_received(&sub.id, 1, WAIT).await;
    tokio::time::sleep(QUIET).await;
    let got_all = setup.push.received(&sub.id).await;
    assert_eq!(got_all.len(), 1, "only the mention: {got_all:?}");
    assert_eq!(got[0].payload_json()["seq"], mention.seq);
    assert_eq!(got[0].payload_json()["mention"], true);

    // Unmuted, but outside the notification hours (a one-minute window twelve hours away, in UTC).
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let far = now.time().hour() as i32 * 60 + now.time().minute() as i32 + 720;
    let hhmm = |m: i32| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    let away = settings(SettingsPatch {
        notify_from: Some(hhmm(far)),
        notify_to: Some(hhmm(far + 1)),
        time_zone: Some("UTC".into()),
        ..Default::default()
    });
    offline_after(
        &setup,
        &kim,
        "lee",
        vec![room_notifications(room, true), away],
    )
    .await;
    say(&kim, room, "m3", "after hours").await;
    say(&kim, room, "m4", "@lee even a mention waits for the hours").await;
    tokio::time::sleep(QUIET * 2).await;
    assert_eq!(
        setup.push.received(&sub.id).await.len(),
        1,
        "nothing outside the hours"
    );

    // Notifications off beats a mention; back inside the hours (always) a message comes through.
    let off = settings(SettingsPatch {
        notify_from: Some(String::new()),
        notify_to: Some(String::new()),
        notifications_off: Some(true),
        ..Default::default()
    });
    offline_after(&setup, &kim, "lee", vec![off]).await;
    say(&kim, room, "m5", "@lee off means off").await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(setup.push.received(&sub.id).await.len(), 1);
    let on = settings(SettingsPatch {
        notifications_off: Some(false),
        ..Default::default()
    });
    offline_after(&setup, &kim, "lee", vec![on]).await;
    let back = say(&kim, room, "m6", "welcome back").await;
    let got = setup.push.wait_received(&sub.id, 2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].payload_json()["seq"], back.seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hide_body_and_hide_sender_hold_in_the_decrypted_payload() {
    let setup = setup().await;
    let room = setup.s.rooms[0];
    let sub = setup.push.subscribe().await;
    let kim = setup.s.connect(0, "kim").await;
    let hide = settings(SettingsPatch {
        hide_body: Some(true),
        hide_sender: Some(true),
        ..Default::default()
    });
    offline_after(&setup, &kim, "lee", vec![web_push(&sub), hide]).await;
    say(&kim, room, "m1", "the secret plan").await;
    let got = setup.push.wait_received(&sub.id, 1, WAIT).await;
    assert_eq!(got.len(), 1);
    let text = &got[0].payload;
    assert!(!text.contains("secret"), "no body in {text}");
    assert!(!text.contains("kim"), "no sender in {text}");
    let payload = got[0].payload_json();
    assert!(payload.get("body").is_none() && payload.get("sender_name").is_none());
    assert_eq!(payload["room_id"], room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_the_web_clears_the_notification_on_mobile() {
    let setup = setup().await;
    let room = setup.s.rooms[0];
    let sub = subscribe_offline(&setup, "lee").await;
    let kim = setup.s.connect(0, "kim").await;
    wait_offline(&kim, "lee").await;
    let m = say(&kim, room, "m1", "did you see this?").await;
    assert_eq!(wait_fcm_for(&setup.push, "fcm-lee", 1).await.len(), 1);
    assert_eq!(setup.push.wait_received(&sub.id, 1, WAIT).await.len(), 1);

    let lee_web = setup.s.connect(0, "lee").await;
    ok(
        &lee_web,
        Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(m.seq),
        }),
    )
    .await;
    let mobile = wait_fcm_for(&setup.push, "fcm-lee", 2).await;
    assert_eq!(mobile.len(), 2, "a clear follows the read: {mobile:?}");
    assert_eq!(mobile[1]["data"]["kind"], "clear");
    assert_eq!(mobile[1]["data"]["room_id"], room.to_string());
    assert_eq!(mobile[1]["data"]["last_read_seq"], m.seq.to_string());
    assert_eq!(mobile[1]["android"]["collapse_key"], format!("room-{room}"));
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        setup.push.received(&sub.id).await.len(),
        1,
        "the reading device clears its own notifications"
    );
    // A second read of the same room clears nothing more.
    ok(
        &lee_web,
        Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(m.seq),
        }),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(fcm_for(&setup.push, "fcm-lee").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_the_foreground_keeps_pushes_away_and_a_connected_device_is_skipped() {
    let setup = setup().await;
    let room = setup.s.rooms[0];
    let sub = subscribe_offline(&setup, "lee").await;
    let kim = setup.s.connect(0, "kim").await;
    wait_offline(&kim, "lee").await;
    let lee_web = setup.s.connect(0, "lee").await;
    ok(
        &lee_web,
        Call::SetForeground(SetForegroundArgs { foreground: true }),
    )
    .await;
    say(&kim, room, "m1", "while lee looks").await;
    tokio::time::sleep(QUIET).await;
    assert!(
        fcm_for(&setup.push, "fcm-lee").await.is_empty(),
        "no push while looking"
    );
    assert!(setup.push.received(&sub.id).await.is_empty());

    // The tab goes to the background: mobile is told, the connected web client notifies by itself.
    ok(
        &lee_web,
        Call::SetForeground(SetForegroundArgs { foreground: false }),
    )
    .await;
    let m2 = say(&kim, room, "m2", "now lee looks away").await;
    let mobile = wait_fcm_for(&setup.push, "fcm-lee", 1).await;
    assert_eq!(mobile.len(), 1);
    assert_eq!(mobile[0]["data"]["seq"], m2.seq.to_string());
    tokio::time::sleep(QUIET).await;
    assert!(setup.push.received(&sub.id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_subscriptions_are_removed_and_a_busy_service_is_retried_after_retry_after() {
    let setup = setup().await;
    let room = setup.s.rooms[0];
    let sub = subscribe_offline(&setup, "lee").await;
    let kim = setup.s.connect(0, "kim").await;
    wait_offline(&kim, "lee").await;

    setup
        .push
        .script(&sub.id, &[ScriptedResponse::retry_after(429, 2)])
        .await;
    say(&kim, room, "m1", "are you busy?").await;
    let got = setup.push.wait_received(&sub.id, 1, WAIT).await;
    assert_eq!(got.len(), 1, "delivered after the 429");
    let attempts = setup.push.attempts(&sub.id).await;
    assert_eq!(attempts[0].status, 429);
    let waited = got[0].at_ms - attempts[0].at_ms;
    assert!(
        waited >= 1900,
        "retried after Retry-After: 2 s, not after {waited} ms"
    );

    // The browser's subscription ends: 410, and the row is gone; the FCM token is unregistered: 404.
    setup.push.gone(&sub.id).await;
    setup.push.fcm_unregister("fcm-lee").await;
    say(&kim, room, "m2", "anyone?").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let left: i64 = setup
            .s
            .db()
            .query_one(
                "SELECT count(*) FROM push_devices WHERE user_id = 'lee'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} dead subscriptions still stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        setup.push.attempts(&sub.id).await.last().unwrap().status,
        410
    );
    // Nothing is sent to them any more.
    let before = setup.push.attempts(&sub.id).await.len();
    say(&kim, room, "m3", "still there?").await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(setup.push.attempts(&sub.id).await.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_ops_check_their_arguments_and_the_config_names_the_key() {
    let setup = setup().await;
    let lee = setup.s.connect(0, "lee").await;
    let Reply::PushConfig {
        web_push_key,
        fcm: fcm_on,
    } = ok(&lee, Call::PushConfig).await
    else {
        panic!("push_config answers push_config")
    };
    assert!(fcm_on);
    use base64::Engine;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&web_push_key)
        .unwrap();
    assert_eq!((key.len(), key[0]), (65, 4), "an uncompressed P-256 point");
    refused(
        &lee,
        Call::PushSubscribe(PushSubscribeArgs::WebPush {
            endpoint: "javascript:alert(1)".into(),
            p256dh: "x".into(),
            auth: "y".into(),
        }),
        ErrorCode::BadArgs,
    )
    .await;
    refused(&lee, fcm(" "), ErrorCode::BadArgs).await;
    let count: i64 = setup
        .s
        .db()
        .query_one("SELECT count(*) FROM push_devices", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "refused subscriptions store nothing");
    ok(&lee, fcm("tok")).await;
    assert_eq!(
        ok(&lee, Call::PushUnsubscribe).await,
        Reply::PushUnsubscribe { removed: true }
    );
    assert_eq!(
        ok(&lee, Call::PushUnsubscribe).await,
        Reply::PushUnsubscribe { removed: false }
    );
}
