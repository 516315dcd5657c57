//! Writes the committed seed corpus: a few valid frames of several ops for each fuzz target.
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds`.

use std::fs;
use std::path::Path;

use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, HistoryArgs, MarkReadArgs, Push, Reply, Request, RoomCursor, SendArgs, ServerFrame,
    SyncArgs, OPS,
};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    fs::write(dir.join(name), bytes).expect("write a seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let send = SendArgs {
        room_id: 42,
        client_msg_id: "c-1".into(),
        body: "hello".into(),
    };
    let history = HistoryArgs {
        room_id: 42,
        before_seq: Some(10),
        limit: Some(20),
    };
    let mark_read = MarkReadArgs {
        room_id: 42,
        seq: Some(3),
    };
    let sync = SyncArgs {
        cursors: vec![RoomCursor {
            room_id: 42,
            seq: 7,
        }],
        limit: Some(100),
        changes: Vec::new(),
    };
    let calls = [
        ("ping", Call::Ping),
        ("list_rooms", Call::ListRooms),
        ("send", Call::Send(send.clone())),
        ("history", Call::History(history.clone())),
        ("mark_read", Call::MarkRead(mark_read.clone())),
        ("sync", Call::Sync(sync.clone())),
    ];
    for (id, (name, call)) in calls.into_iter().enumerate() {
        let request = Request {
            id: id as u64 + 1,
            call,
        };
        let bytes = codec::encode_request(&request).expect("encode a seed request");
        write(&root.join("client_frame"), name, &bytes);
    }
    // client_frame_by_op: the op's index, then the args value.
    let by_op = |op: &str| OPS.iter().position(|o| *o == op).expect("a known op") as u8;
    let args = [
        ("send", codec::encode(&send)),
        ("history", codec::encode(&history)),
        ("mark_read", codec::encode(&mark_read)),
        ("sync", codec::encode(&sync)),
    ];
    for (op, value) in args {
        let mut bytes = vec![by_op(op)];
        bytes.extend(value.expect("encode seed args"));
        write(&root.join("client_frame_by_op"), op, &bytes);
    }
    let frames = [
        (
            "reply_ping",
            ServerFrame::Reply {
                id: 1,
                result: Reply::Ping {
                    server_time_ms: 1_700_000_000_000,
                },
            },
        ),
        (
            "error",
            ServerFrame::Error {
                id: Some(2),
                code: ErrorCode::RateLimited,
                message: "wait 20 ms".into(),
            },
        ),
        (
            "push_reconnect",
            ServerFrame::Push {
                push: Push::Reconnect {
                    after_ms: 500,
                    reason: "node draining".into(),
                },
            },
        ),
    ];
    for (name, frame) in frames {
        let bytes = codec::encode_server_frame(&frame).expect("encode a seed frame");
        write(&root.join("server_frame"), name, &bytes);
    }
    println!("seed corpus written to {}", root.display());
}
