//! Accounts, people and settings over the wire: passkey reset closes every session on every node and revokes
//! the old tokens, logout ends one device, retirement closes and refuses, settings and profiles are stored and
//! returned, presence per device class, typing, and the organisation tree with lazy loading and search.

mod support;

use std::time::{Duration, Instant};

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::close_code::CloseReason;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, DeviceClass, OrgUnitsArgs, PresenceInfo, ProfilePatch, Push, Reply, ResetPasskeyArgs,
    RoomArgs, SearchUsersArgs, SetMobileInstalledArgs, Settings, SettingsPatch, UnitMembersArgs,
    UserArgs, UserIdsArgs,
};
use support::rules::{ok, push_where, refused, say};
use support::{cluster, TestCluster};

/// Connects with a token and returns the close code the node ends the attempt with.
async fn refused_connect(cluster: &TestCluster, node: usize, token: &str) -> u16 {
    let client = Connection::connect(
        &cluster.nodes[node].ws_url(),
        token,
        ConnectOptions::default(),
    )
    .await
    .expect("upgrade");
    client
        .closed(Duration::from_secs(5))
        .await
        .expect("closed")
        .expect("close frame")
        .code
}

async fn close_code(client: &Connection) -> u16 {
    client
        .closed(Duration::from_secs(3))
        .await
        .expect("closed in time")
        .expect("close frame")
        .code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_the_passkey_closes_every_session_on_every_node_and_revokes_old_tokens() {
    let cluster = cluster().nodes(2).users(&["alice", "bob"]).start().await;
    let web = cluster.connect(0, "alice").await;
    let mobile = cluster
        .connect_as(1, "alice", DeviceClass::Mobile, "manual")
        .await;
    let bob = cluster.connect(1, "bob").await;
    let old_token = cluster.token("alice", DeviceClass::Web);
    let started = Instant::now();
    let Reply::ResetPasskey { user_id } =
        ok(&web, Call::ResetPasskey(ResetPasskeyArgs { user_id: None })).await
    else {
        panic!()
    };
    assert_eq!(user_id, "alice");
    assert_eq!(close_code(&web).await, CloseReason::TokenRevoked.code());
    assert_eq!(close_code(&mobile).await, CloseReason::TokenRevoked.code());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "closed within a second: {:?}",
        started.elapsed()
    );
    assert_eq!(
        refused_connect(&cluster, 1, &old_token).await,
        CloseReason::TokenRevoked.code()
    );
    bob.call(Call::Ping)
        .await
        .expect("other users are untouched");
    // Only an admin may reset someone else.
    let before = cluster.fingerprint().await;
    refused(
        &bob,
        Call::ResetPasskey(ResetPasskeyArgs {
            user_id: Some("alice".into()),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before);
    cluster.make_admin("bob").await;
    refused(
        &bob,
        Call::ResetPasskey(ResetPasskeyArgs {
            user_id: Some("ghost".into()),
        }),
        ErrorCode::NotFound,
    )
    .await;
    ok(
        &bob,
        Call::ResetPasskey(ResetPasskeyArgs {
            user_id: Some("alice".into()),
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_only_that_devices_session() {
    let cluster = cluster().nodes(2).users(&["alice"]).start().await;
    let web = cluster.connect(0, "alice").await;
    let mobile = cluster
        .connect_as(1, "alice", DeviceClass::Mobile, "manual")
        .await;
    ok(
        &mobile,
        Call::SetMobileInstalled(SetMobileInstalledArgs { installed: true }),
    )
    .await;
    assert_eq!(ok(&web, Call::Logout).await, Reply::Logout);
    assert_eq!(close_code(&web).await, CloseReason::LoggedOut.code());
    mobile
        .call(Call::Ping)
        .await
        .expect("the mobile session lives on");
    // The same token still connects (logout is not a reset).
    cluster.connect(0, "alice").await;
    // A mobile logout also clears "installed".
    ok(&mobile, Call::Logout).await;
    assert_eq!(close_code(&mobile).await, CloseReason::LoggedOut.code());
    assert_eq!(
        cluster
            .count(
                "SELECT mobile_installed::int::bigint FROM users WHERE id = 'alice'",
                &[]
            )
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_closes_sessions_refuses_login_and_keeps_history() {
    let cluster = cluster()
        .nodes(2)
        .users(&["admin", "alice", "bob"])
        .start()
        .await;
    cluster.make_admin("admin").await;
    let room = cluster.room(&["alice", "bob"]).await;
    let admin = cluster.connect(0, "admin").await;
    let alice = cluster.connect(1, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    say(&alice, room, "1", "my last words").await;
    refused(
        &bob,
        Call::RetireUser(UserArgs {
            user_id: "alice".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &admin,
        Call::RetireUser(UserArgs {
            user_id: "admin".into(),
        }),
        ErrorCode::BadArgs,
    )
    .await;
    refused(
        &admin,
        Call::RetireUser(UserArgs {
            user_id: "nobody".into(),
        }),
        ErrorCode::NotFound,
    )
    .await;
    let Reply::RetireUser { retired_at_ms, .. } = ok(
        &admin,
        Call::RetireUser(UserArgs {
            user_id: "alice".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(retired_at_ms > 0);
    assert_eq!(
        close_code(&alice).await,
        CloseReason::UserUnavailable.code()
    );
    let token = cluster.token("alice", DeviceClass::Web);
    assert_eq!(
        refused_connect(&cluster, 0, &token).await,
        CloseReason::UserUnavailable.code()
    );
    // History kept; the retired member is shown as retired and anyone may remove them.
    let Reply::History { messages, .. } = ok(
        &bob,
        Call::History(sendjay_common::protocol::HistoryArgs {
            room_id: room,
            before_seq: None,
            limit: None,
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(messages[0].body, "my last words");
    let Reply::RoomMembers { members, .. } = ok(
        &bob,
        Call::RoomMembers(sendjay_common::protocol::RoomMembersArgs {
            room_id: room,
            after: None,
            limit: None,
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(members.iter().any(|m| m.user_id == "alice" && m.retired));
    // Retiring twice keeps the first date.
    let Reply::RetireUser {
        retired_at_ms: again,
        ..
    } = ok(
        &admin,
        Call::RetireUser(UserArgs {
            user_id: "alice".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(again, retired_at_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_stored_returned_and_shared_with_the_other_device() {
    let cluster = cluster().nodes(2).users(&["alice"]).start().await;
    let web = cluster.connect(0, "alice").await;
    let mobile = cluster
        .connect_as(1, "alice", DeviceClass::Mobile, "manual")
        .await;
    let Reply::GetSettings { settings } = ok(&web, Call::GetSettings).await else {
        panic!()
    };
    assert_eq!(settings, Settings::default());
    let Reply::SetSettings { settings } = ok(
        &web,
        Call::SetSettings(SettingsPatch {
            sound_off: Some(true),
            vibration_off: Some(true),
            hide_body: Some(true),
            notify_from: Some("08:30".into()),
            notify_to: Some("19:00".into()),
            time_zone: Some("Asia/Seoul".into()),
            web_standalone: Some(true),
            ..Default::default()
        }),
    )
    .await
    else {
        panic!()
    };
    let expected = Settings {
        sound_off: true,
        vibration_off: true,
        hide_body: true,
        notify_from: Some("08:30".into()),
        notify_to: Some("19:00".into()),
        time_zone: "Asia/Seoul".into(),
        web_standalone: true,
        ..Default::default()
    };
    assert_eq!(settings, expected);
    push_where(
        &mobile,
        "settings",
        |p| matches!(p, Push::Settings { settings } if *settings == expected),
    )
    .await;
    let Reply::GetSettings { settings } = ok(&mobile, Call::GetSettings).await else {
        panic!()
    };
    assert_eq!(settings, expected);
    // Partial update keeps the rest (the time zone too); "" makes notifications come at any hour.
    let Reply::SetSettings { settings } = ok(
        &mobile,
        Call::SetSettings(SettingsPatch {
            notifications_off: Some(true),
            notify_from: Some(String::new()),
            notify_to: Some(String::new()),
            ..Default::default()
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        settings,
        Settings {
            notifications_off: true,
            notify_from: None,
            notify_to: None,
            ..expected
        }
    );
    let before = cluster.fingerprint().await;
    for bad in [
        SettingsPatch {
            notify_from: Some("25:00".into()),
            notify_to: Some("07:00".into()),
            ..Default::default()
        },
        SettingsPatch {
            notify_from: Some("22:00".into()),
            ..Default::default()
        },
        SettingsPatch {
            notify_from: Some("".into()),
            notify_to: Some("07:00".into()),
            ..Default::default()
        },
        SettingsPatch {
            time_zone: Some("Seoul time".into()),
            ..Default::default()
        },
    ] {
        refused(&web, Call::SetSettings(bad), ErrorCode::BadArgs).await;
    }
    assert_eq!(cluster.fingerprint().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_per_device_class_and_typing() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let alice_web = cluster.connect(0, "alice").await;
    let bob_mobile = cluster
        .connect_as(1, "bob", DeviceClass::Mobile, "manual")
        .await;
    let presence = |ids: &[&str]| {
        Call::Presence(UserIdsArgs {
            user_ids: ids.iter().map(|s| s.to_string()).collect(),
        })
    };
    let info = |id: &str, web, mobile, installed| PresenceInfo {
        user_id: id.into(),
        web,
        mobile,
        mobile_installed: installed,
    };
    let Reply::Presence { users } =
        ok(&alice_web, presence(&["bob", "alice", "carol", "ghost"])).await
    else {
        panic!()
    };
    assert_eq!(
        users,
        vec![
            info("bob", false, true, false),
            info("alice", true, false, false),
            info("carol", false, false, false)
        ]
    );
    refused(
        &alice_web,
        Call::SetMobileInstalled(SetMobileInstalledArgs { installed: true }),
        ErrorCode::Forbidden,
    )
    .await;
    ok(
        &bob_mobile,
        Call::SetMobileInstalled(SetMobileInstalledArgs { installed: true }),
    )
    .await;
    bob_mobile.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Reply::Presence { users } = ok(&alice_web, presence(&["bob"])).await else {
        panic!()
    };
    assert_eq!(
        users,
        vec![info("bob", false, false, true)],
        "reachable on mobile though not connected"
    );

    let bob = cluster.connect(1, "bob").await;
    ok(&alice_web, Call::Typing(RoomArgs { room_id: room })).await;
    push_where(&bob, "typing", |p| matches!(p, Push::Typing { room_id, user_id } if *room_id == room && user_id == "alice")).await;
    let carol = cluster.connect(0, "carol").await;
    refused(
        &carol,
        Call::Typing(RoomArgs { room_id: room }),
        ErrorCode::NotMember,
    )
    .await;
    refused(&alice_web, presence(&["has space"]), ErrorCode::BadArgs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_tree_loads_lazily_and_people_are_found_by_name() {
    let cluster = TestCluster::start(1).await;
    // company → 2 divisions → departments → teams; 10 000 users spread over the teams.
    cluster
        .db()
        .batch_execute(
            "INSERT INTO org_units (id, parent_id, name, sort_order, depth) VALUES
                ('co', NULL, '샌드제이', 0, 0),
                ('d1', 'co', '개발본부', 1, 1), ('d2', 'co', '영업본부', 2, 1),
                ('old', 'co', '폐지된 부서', 3, 1);
             UPDATE org_units SET in_use = false WHERE id = 'old';
             INSERT INTO org_units (id, parent_id, name, sort_order, depth)
             SELECT 'dep' || i, CASE WHEN i <= 5 THEN 'd1' ELSE 'd2' END, '부서 ' || i, i, 2 FROM generate_series(1, 10) i;
             INSERT INTO org_units (id, parent_id, name, sort_order, depth)
             SELECT 'team' || i, 'dep' || (1 + (i - 1) / 10), '팀 ' || i, i, 3 FROM generate_series(1, 100) i;
             INSERT INTO users (id, display_name, unit_id, password_hash, passkey, job, phone)
             SELECT 'u' || i, (ARRAY['김','이','박','최','정'])[1 + i % 5] || (ARRAY['민준','서연','지호','하은','도윤'])[1 + (i / 5) % 5] || i,
                    'team' || (1 + i % 100), 'x', 'pk-u' || i, 'engineer', '010-0000-' || lpad(i::text, 4, '0')
               FROM generate_series(1, 10000) i;
             INSERT INTO users (id, display_name, unit_id, password_hash, passkey) VALUES ('me', 'Me Myself', 'team1', 'x', 'pk-me');
             UPDATE users SET retired_at = now() WHERE id = 'u100';",
        )
        .await
        .unwrap();
    let me = cluster.connect(0, "me").await;
    let Reply::OrgUnits { units, .. } =
        ok(&me, Call::OrgUnits(OrgUnitsArgs { parent_id: None })).await
    else {
        panic!()
    };
    assert_eq!(
        units.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        vec!["co"]
    );
    assert_eq!(units[0].child_count, 2, "the unit not in use is hidden");
    let Reply::OrgUnits { units, .. } = ok(
        &me,
        Call::OrgUnits(OrgUnitsArgs {
            parent_id: Some("co".into()),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        units
            .iter()
            .map(|u| (u.id.as_str(), u.depth))
            .collect::<Vec<_>>(),
        vec![("d1", 1), ("d2", 1)]
    );
    let Reply::OrgUnits { units, .. } = ok(
        &me,
        Call::OrgUnits(OrgUnitsArgs {
            parent_id: Some("dep1".into()),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(units.len(), 10);
    assert_eq!(units[0].member_count, 100, "team1: 99 generated users + me");
    refused(
        &me,
        Call::OrgUnits(OrgUnitsArgs {
            parent_id: Some("nope".into()),
        }),
        ErrorCode::NotFound,
    )
    .await;

    // A unit's members, page by page, by name; retired users are not listed.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let Reply::UnitMembers {
            users, has_more, ..
        } = ok(
            &me,
            Call::UnitMembers(UnitMembersArgs {
                unit_id: "team1".into(),
                after: after.clone(),
                limit: Some(30),
            }),
        )
        .await
        else {
            panic!()
        };
        after = users.last().map(|u| u.user_id.clone());
        seen.extend(users);
        if !has_more {
            break;
        }
    }
    assert_eq!(seen.len(), 100);
    assert!(seen
        .windows(2)
        .all(|w| (w[0].name.as_str(), w[0].user_id.as_str())
            < (w[1].name.as_str(), w[1].user_id.as_str())));
    assert!(seen
        .iter()
        .all(|u| u.user_id != "u100" && u.unit_name == "팀 1"));

    // Search by any part of a Korean name.
    // 박서연<i>: i % 5 == 2 and (i / 5) % 5 == 1, one i in 25: 400 people.
    let Reply::SearchUsers { users } = ok(
        &me,
        Call::SearchUsers(SearchUsersArgs {
            query: "박서연".into(),
            limit: Some(500),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(users.len(), 400);
    assert!(users.iter().all(|u| u.name.starts_with("박서연")));
    let Reply::SearchUsers { users } = ok(
        &me,
        Call::SearchUsers(SearchUsersArgs {
            query: "서연".into(),
            limit: Some(500),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(users.len(), 500, "capped by the limit (2 000 match)");
    let Reply::SearchUsers { users } = ok(
        &me,
        Call::SearchUsers(SearchUsersArgs {
            query: "myself".into(),
            limit: None,
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        users.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(),
        vec!["me"]
    );

    // Profiles, and editing one's own.
    let Reply::UpdateProfile { user } = ok(
        &me,
        Call::UpdateProfile(ProfilePatch {
            nickname: Some("휴가 중 🏖".into()),
            absence_code: Some("dayoff".into()),
            absence_text: Some("08/15~08/23".into()),
            absence_from: Some("2024-08-15".into()),
            absence_to: Some("2024-08-23".into()),
            ..Default::default()
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        (
            user.nickname.as_str(),
            user.absence_code.as_str(),
            user.absence_from.as_deref(),
            user.unit_id.as_deref()
        ),
        ("휴가 중 🏖", "dayoff", Some("2024-08-15"), Some("team1"))
    );
    let Reply::GetUsers { users } = ok(
        &me,
        Call::GetUsers(UserIdsArgs {
            user_ids: vec!["u7".into(), "ghost".into(), "me".into(), "u100".into()],
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        users.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(),
        vec!["u7", "me", "u100"]
    );
    assert!(users[2].retired && users[0].phone == "010-0000-0007");
    let before = cluster.fingerprint().await;
    refused(
        &me,
        Call::UpdateProfile(ProfilePatch {
            absence_from: Some("2024-02-30".into()),
            ..Default::default()
        }),
        ErrorCode::BadArgs,
    )
    .await;
    refused(
        &me,
        Call::UpdateProfile(ProfilePatch {
            nickname: Some("x".repeat(101)),
            ..Default::default()
        }),
        ErrorCode::BadArgs,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before);
}

/// The audit entries about `subject`, as (actor, action, source), once `want` of them are written (entries are
/// written right after the change commits, in the background).
async fn audit_entries(
    cluster: &TestCluster,
    subject: &str,
    want: usize,
) -> Vec<(Option<String>, String, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let rows = cluster
            .db()
            .query(
                "SELECT actor, action, source FROM audit_log WHERE subject = $1 ORDER BY id",
                &[&subject],
            )
            .await
            .unwrap();
        if rows.len() >= want || Instant::now() > deadline {
            return rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_devices_sign_in_and_account_and_room_changes_are_audited() {
    let cluster = cluster().nodes(1).users(&["alice", "bob"]).start().await;
    cluster.make_admin("bob").await;
    // Three sign-ins of alice, as the router would have stored them.
    for (device, device_id) in [("web", "laptop"), ("web", "kiosk"), ("mobile", "phone")] {
        cluster
            .db()
            .execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, device, device_id, passkey, method, expires_at)
                 VALUES (sha256(convert_to($2, 'UTF8')), gen_random_uuid(), 'alice', $1, $2, 'pk-alice', 'password', now() + interval '1 day')",
                &[&device, &device_id],
            )
            .await
            .unwrap();
    }
    let token = cluster
        .keys
        .issue_for_device(
            "alice",
            "pk-alice",
            DeviceClass::Web,
            Some("laptop"),
            sendjay_common::jwt::now_secs(),
            3600,
        )
        .unwrap();
    let web = Connection::connect(
        &cluster.nodes[0].ws_url(),
        &token,
        ConnectOptions::default(),
    )
    .await
    .unwrap();
    ok(&web, Call::Logout).await;
    assert_eq!(close_code(&web).await, CloseReason::LoggedOut.code());
    let revoked: Vec<(String, Option<String>)> = cluster
        .db()
        .query(
            "SELECT device_id, revoked_reason FROM refresh_tokens WHERE user_id = 'alice' ORDER BY device_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        revoked,
        vec![
            ("kiosk".into(), None),
            ("laptop".into(), Some("logout".into())),
            ("phone".into(), None),
        ],
        "only the signed-out installation's sign-in ends"
    );

    let bob = cluster.connect(0, "bob").await;
    ok(
        &bob,
        Call::ResetPasskey(ResetPasskeyArgs {
            user_id: Some("alice".into()),
        }),
    )
    .await;
    let local = Some("127.0.0.1".to_owned());
    assert_eq!(
        audit_entries(&cluster, "alice", 2).await,
        vec![
            (Some("alice".into()), "logout".into(), local.clone()),
            (Some("bob".into()), "passkey_reset".into(), local.clone()),
        ]
    );
    let Reply::CreateGroup { room, .. } = ok(
        &bob,
        Call::CreateGroup(sendjay_common::protocol::CreateGroupArgs {
            name: "audit".into(),
            user_ids: vec!["alice".into()],
        }),
    )
    .await
    else {
        panic!()
    };
    ok(
        &bob,
        Call::Leave(RoomArgs {
            room_id: room.room_id,
        }),
    )
    .await;
    assert_eq!(
        audit_entries(&cluster, &format!("room:{}", room.room_id), 2).await,
        vec![
            (Some("bob".into()), "room_created".into(), local.clone()),
            (Some("bob".into()), "member_left".into(), local),
        ]
    );
    // A refused change is not audited.
    refused(
        &bob,
        Call::RetireUser(UserArgs {
            user_id: "bob".into(),
        }),
        ErrorCode::BadArgs,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(audit_entries(&cluster, "bob", 0).await.is_empty());
}
