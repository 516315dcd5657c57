//! Malformed, truncated, oversized and wrongly typed frames get a documented error; the connection and the
//! node keep serving.

mod support;

use std::time::Duration;

use bytes::Bytes;
use sendjay_client::{ClientError, Connection};
use sendjay_common::close_code::CloseReason;
use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, Reply};
use serde::Serialize;
use support::TestCluster;
use tokio_tungstenite::tungstenite::Message;

async fn orphan_error(client: &Connection) -> ErrorCode {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some((code, _)) = client.orphan_errors.lock().unwrap().pop() {
            return code;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error frame arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next error frame on a raw socket (skipping pushes): its id and code.
async fn next_error<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> (Option<u64>, ErrorCode)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    loop {
        let Some(Ok(Message::Binary(bytes))) = ws.next().await else {
            panic!("socket ended")
        };
        match codec::decode_server_frame(&bytes).unwrap() {
            sendjay_common::protocol::ServerFrame::Error { id, code, .. } => return (id, code),
            sendjay_common::protocol::ServerFrame::Push { .. } => continue,
            other => panic!("expected an error frame, got {other:?}"),
        }
    }
}

#[derive(Serialize)]
struct Raw<'a, A: Serialize> {
    id: u64,
    op: &'a str,
    args: A,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_errors_and_the_connection_stays_usable() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;

    // Not MessagePack, truncated, a positional array, a text frame: errors without an id.
    let good = codec::encode_request(&sendjay_common::protocol::Request {
        id: 1,
        call: Call::Ping,
    })
    .unwrap();
    let bad_frames: Vec<Bytes> = vec![
        Bytes::from_static(b"\xc1\xc1\xc1"),
        Bytes::copy_from_slice(&good[..good.len() - 2]),
        Bytes::from(rmp_serde::to_vec(&(1u64, "ping")).unwrap()),
        Bytes::new(),
    ];
    for frame in bad_frames {
        alice.send_raw(frame).await.unwrap();
        assert_eq!(orphan_error(&alice).await, ErrorCode::BadFrame);
    }
    alice
        .send_message(Message::Text("{\"op\":\"ping\"}".into()))
        .await
        .unwrap();
    assert_eq!(orphan_error(&alice).await, ErrorCode::BadFrame);

    // Over the request limit (64 KiB) but under the WebSocket hard limit: an error, the socket stays.
    alice
        .send_raw(Bytes::from(vec![0x80u8; 100 * 1024]))
        .await
        .unwrap();
    assert_eq!(orphan_error(&alice).await, ErrorCode::FrameTooLarge);

    // Wrongly typed args and unknown ops keep their request id (checked through raw frames and replies).
    let typed = codec::encode(&Raw {
        id: 4242,
        op: "send",
        args: ("room", true),
    })
    .unwrap();
    alice.send_raw(typed.into()).await.unwrap();
    let unknown = codec::encode(&Raw {
        id: 4243,
        op: "teleport",
        args: (),
    })
    .unwrap();
    alice.send_raw(unknown.into()).await.unwrap();
    // (The client matches replies by its own ids, so ids 4242/4243 end up as unmatched; check the server
    // still answers our own requests in order afterwards.)
    assert!(matches!(
        alice.call(Call::Ping).await.unwrap(),
        Reply::Ping { .. }
    ));
    assert!(matches!(
        bob.call(Call::Ping).await.unwrap(),
        Reply::Ping { .. }
    ));

    let err = alice
        .call(Call::Send(sendjay_common::protocol::SendArgs {
            room_id: 1,
            client_msg_id: "has space".into(),
            body: "x".into(),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                code: ErrorCode::BadArgs,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_hard_limit_closes_only_that_connection() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    let _ = alice
        .send_raw(Bytes::from(vec![0u8; 2 * 1024 * 1024]))
        .await;
    let closed = alice
        .closed(Duration::from_secs(5))
        .await
        .expect("closed")
        .expect("close frame");
    assert_eq!(closed.code, CloseReason::FrameTooLarge.code());
    assert!(
        matches!(bob.call(Call::Ping).await.unwrap(), Reply::Ping { .. }),
        "others keep being served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_op_and_bad_args_errors_carry_the_request_id() {
    use futures_util::SinkExt;
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let token = cluster.token("alice", sendjay_common::protocol::DeviceClass::Web);
    let url = format!("{}?token={token}", cluster.nodes[0].ws_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let frames = [
        (
            codec::encode(&Raw {
                id: 7,
                op: "teleport",
                args: (),
            })
            .unwrap(),
            7,
            ErrorCode::UnknownOp,
        ),
        (
            codec::encode(&Raw {
                id: 8,
                op: "send",
                args: ("room", true),
            })
            .unwrap(),
            8,
            ErrorCode::BadArgs,
        ),
        (
            codec::encode(&Raw {
                id: 9,
                op: "history",
                args: 5,
            })
            .unwrap(),
            9,
            ErrorCode::BadArgs,
        ),
    ];
    for (frame, id, code) in frames {
        ws.send(Message::Binary(frame.into())).await.unwrap();
        assert_eq!(next_error(&mut ws).await, (Some(id), code));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_with_invalid_utf8_gets_bad_frame_and_the_connection_stays() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let alice = cluster.connect(0, "alice").await;
    for payload in [
        &b"\xff\xfe"[..],
        b"ok so far \xc3",
        b"\xde\x8f map-looking text",
    ] {
        let frame = Frame::message(Bytes::from_static(payload), OpCode::Data(Data::Text), true);
        alice.send_message(Message::Frame(frame)).await.unwrap();
        assert_eq!(orphan_error(&alice).await, ErrorCode::BadFrame);
    }
    assert!(
        alice.closed(Duration::from_millis(200)).await.is_none(),
        "the connection was closed"
    );
    assert!(matches!(
        alice.call(Call::Ping).await.unwrap(),
        Reply::Ping { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_bin_where_the_protocol_says_str_is_refused() {
    use futures_util::SinkExt;
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let room = cluster.room(&["alice"]).await;
    let token = cluster.token("alice", sendjay_common::protocol::DeviceClass::Web);
    let url = format!("{}?token={token}", cluster.nodes[0].ws_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

    #[derive(Serialize)]
    struct BinId<'a> {
        room_id: i64,
        #[serde(with = "serde_bytes")]
        client_msg_id: &'a [u8],
        body: &'a str,
    }
    #[derive(Serialize)]
    struct BinBody<'a> {
        room_id: i64,
        client_msg_id: &'a str,
        #[serde(with = "serde_bytes")]
        body: &'a [u8],
    }
    #[derive(Serialize)]
    struct BinOp<'a> {
        id: u64,
        #[serde(with = "serde_bytes")]
        op: &'a [u8],
    }
    let bin_id = codec::encode(&Raw {
        id: 11,
        op: "send",
        args: BinId {
            room_id: room,
            client_msg_id: b"c-11",
            body: "hello",
        },
    })
    .unwrap();
    let bin_body = codec::encode(&Raw {
        id: 12,
        op: "send",
        args: BinBody {
            room_id: room,
            client_msg_id: "c-12",
            body: b"hello",
        },
    })
    .unwrap();
    let frames = [
        (bin_id, Some(11), ErrorCode::BadArgs),
        (bin_body, Some(12), ErrorCode::BadArgs),
        (
            codec::encode(&BinOp {
                id: 13,
                op: b"ping",
            })
            .unwrap(),
            None,
            ErrorCode::BadFrame,
        ),
    ];
    for (frame, id, code) in frames {
        ws.send(Message::Binary(frame.into())).await.unwrap();
        assert_eq!(next_error(&mut ws).await, (id, code));
    }
}
