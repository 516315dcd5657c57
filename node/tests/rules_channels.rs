//! Public channels (issue 18) over the wire, on real PostgreSQL and Redis: a channel open to the company or to one
//! organisation unit (and the units below it) is in the directory of exactly the users it is open to, who join it
//! themselves; the members on another node see the `join` live and the joiner gets the room's messages from then
//! on. Private groups are never listed and cannot be joined; refusals change nothing.

mod support;

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, Channel, ChannelAfter, CreateChannelArgs, ListChannelsArgs, Push, Reply, RoomArgs,
    RoomSummary, SystemAction,
};
use support::cluster;
use support::rules::{ok, push_where, refused, say};

fn create(name: &str, unit: Option<&str>) -> Call {
    Call::CreateChannel(CreateChannelArgs {
        name: name.into(),
        unit_id: unit.map(Into::into),
    })
}

async fn created(client: &Connection, name: &str, unit: Option<&str>) -> RoomSummary {
    match ok(client, create(name, unit)).await {
        Reply::CreateChannel { room } => room,
        other => panic!("{other:?}"),
    }
}

async fn directory(client: &Connection, query: Option<&str>) -> Vec<Channel> {
    match ok(
        client,
        Call::ListChannels(ListChannelsArgs {
            query: query.map(Into::into),
            ..Default::default()
        }),
    )
    .await
    {
        Reply::ListChannels { channels, has_more } => {
            assert!(!has_more);
            channels
        }
        other => panic!("{other:?}"),
    }
}

fn names(channels: &[Channel]) -> Vec<&str> {
    channels.iter().map(|c| c.name.as_str()).collect()
}

async fn join(client: &Connection, room_id: i64) -> (RoomSummary, bool) {
    match ok(client, Call::JoinChannel(RoomArgs { room_id })).await {
        Reply::JoinChannel { room, joined } => (room, joined),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn channels_are_found_and_joined_by_those_they_are_open_to() {
    let s = cluster()
        .nodes(2)
        .users(&["kim", "lee", "park", "choi", "retiree"])
        .room(&["kim", "lee"])
        .start()
        .await;
    let private = s.rooms[0];
    // eng ⊃ eng-web; sales beside them. kim and lee in eng-web, park in eng, choi in sales.
    s.db()
        .batch_execute(
            "INSERT INTO org_units (id, parent_id, name, depth) VALUES ('eng', NULL, 'Engineering', 0),
                    ('eng-web', 'eng', 'Web', 1), ('sales', NULL, 'Sales', 0);
             UPDATE users SET unit_id = 'eng-web' WHERE id IN ('kim', 'lee');
             UPDATE users SET unit_id = 'eng' WHERE id = 'park';
             UPDATE users SET unit_id = 'sales' WHERE id = 'choi';",
        )
        .await
        .unwrap();
    let kim = s.connect(0, "kim").await;
    let lee = s.connect(1, "lee").await;
    let park = s.connect(1, "park").await;
    let choi = s.connect(0, "choi").await;

    // kim opens one channel to the company and one to Engineering (a unit above his own).
    let town = created(&kim, "사내 공지 Town Hall", None).await;
    assert!(town.channel && town.kind == "group" && town.member_count == 1);
    let eng = created(&kim, "eng-builds", Some("eng")).await;
    refused(&kim, create("ENG-BUILDS", None), ErrorCode::Conflict).await;
    refused(
        &kim,
        create("sales-only", Some("sales")),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &kim,
        create("nowhere", Some("no-such-unit")),
        ErrorCode::NotFound,
    )
    .await;
    refused(&kim, create("  ", None), ErrorCode::BadArgs).await;
    refused(&kim, create(&"x".repeat(101), None), ErrorCode::BadArgs).await;

    // The directory: by name, each user sees what is open to them, never a private group.
    assert_eq!(
        names(&directory(&park, None).await),
        ["eng-builds", "사내 공지 Town Hall"]
    );
    assert_eq!(
        names(&directory(&lee, None).await),
        ["eng-builds", "사내 공지 Town Hall"]
    );
    assert_eq!(
        names(&directory(&choi, None).await),
        ["사내 공지 Town Hall"]
    );
    assert_eq!(
        names(&directory(&choi, Some("공지")).await),
        ["사내 공지 Town Hall"]
    );
    assert_eq!(
        names(&directory(&park, Some("BUILD")).await),
        ["eng-builds"]
    );
    let listed = directory(&kim, None).await;
    assert!(listed
        .iter()
        .all(|c| c.joined && c.created_by.as_deref() == Some("kim")));
    assert_eq!(listed[0].unit_id.as_deref(), Some("eng"));
    let first = match ok(
        &park,
        Call::ListChannels(ListChannelsArgs {
            limit: Some(1),
            ..Default::default()
        }),
    )
    .await
    {
        Reply::ListChannels { channels, has_more } => {
            assert!(has_more);
            channels
        }
        other => panic!("{other:?}"),
    };
    match ok(
        &park,
        Call::ListChannels(ListChannelsArgs {
            after: Some(ChannelAfter {
                name: first[0].name.clone(),
                room_id: first[0].room_id,
            }),
            ..Default::default()
        }),
    )
    .await
    {
        Reply::ListChannels { channels, has_more } => {
            assert_eq!(names(&channels), ["사내 공지 Town Hall"]);
            assert!(!has_more);
        }
        other => panic!("{other:?}"),
    }

    // park (node 1) joins Engineering's channel: kim (node 0) sees the join live; park gets what is said next.
    let (room, joined) = join(&park, eng.room_id).await;
    assert!(joined && room.channel && room.member_count == 2 && room.unread == 0);
    let push = push_where(&kim, "park's join", |p| {
        matches!(p, Push::Message { message } if message.room_id == eng.room_id
            && message.system.as_ref().is_some_and(|e| e.action == SystemAction::Join && e.actor == "park"))
    })
    .await;
    drop(push);
    // The joiner's sessions get the join message once they are subscribed (as an invited member's do): from then
    // on the room's messages reach them live.
    push_where(&park, "park's own join", |p| {
        matches!(p, Push::Message { message } if message.room_id == eng.room_id
            && message.system.as_ref().is_some_and(|e| e.action == SystemAction::Join))
    })
    .await;
    let hello = say(&kim, eng.room_id, "c1", "빌드 깨졌어요").await;
    push_where(&park, "kim's message", |p| {
        matches!(p, Push::Message { message } if message.room_id == eng.room_id && message.seq == hello.seq)
    })
    .await;
    say(&park, eng.room_id, "c2", "확인할게요").await;
    // Joining again changes nothing.
    let seq_before = room_seq(&s, eng.room_id).await;
    let (_, again) = join(&park, eng.room_id).await;
    assert!(!again);
    assert_eq!(
        room_seq(&s, eng.room_id).await,
        seq_before,
        "no second join message"
    );
    assert!(directory(&park, Some("eng")).await[0].joined);

    // Refused, with nothing changed: outside the unit, a private group, a room that does not exist.
    let members_before = member_rows(&s).await;
    refused(
        &choi,
        Call::JoinChannel(RoomArgs {
            room_id: eng.room_id,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &park,
        Call::JoinChannel(RoomArgs { room_id: private }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &choi,
        Call::JoinChannel(RoomArgs { room_id: 999_999 }),
        ErrorCode::NotFound,
    )
    .await;
    assert_eq!(member_rows(&s).await, members_before);

    // Anyone joins the company-wide one; a member who left comes back by joining.
    assert!(join(&choi, town.room_id).await.1);
    ok(
        &choi,
        Call::Leave(RoomArgs {
            room_id: town.room_id,
        }),
    )
    .await;
    assert!(!directory(&choi, None).await[0].joined);
    assert!(join(&choi, town.room_id).await.1);

    // A user retired while their session is open is refused.
    let retiree = s.connect(0, "retiree").await;
    s.db()
        .execute(
            "UPDATE users SET retired_at = now() WHERE id = 'retiree'",
            &[],
        )
        .await
        .unwrap();
    let members_before = member_rows(&s).await;
    refused(
        &retiree,
        Call::JoinChannel(RoomArgs {
            room_id: town.room_id,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(&retiree, create("retired", None), ErrorCode::Forbidden).await;
    assert_eq!(member_rows(&s).await, members_before);
}

async fn room_seq(s: &support::builder::Scenario, room: i64) -> i64 {
    s.db()
        .query_one("SELECT last_seq FROM rooms WHERE id = $1", &[&room])
        .await
        .unwrap()
        .get(0)
}

async fn member_rows(s: &support::builder::Scenario) -> Vec<(i64, String)> {
    s.db()
        .query(
            "SELECT room_id, user_id FROM room_members ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}
