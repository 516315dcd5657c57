//! The Rust SDK's `Session` against real nodes: it comes back by itself after its node crashes — through its
//! locator, with `sync` from gap-free cursors and the unsent queue resent with the same `client_msg_id`s — so
//! the caller sees every message once; and it ends, instead of fighting, when a newer login evicts it.
//!
//! Node tests may not depend on the router, so the locator here hands out a token minted with the cluster's
//! key and the first node of a list the test edits (as the router would after a node died).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sendjay_client::router::NodeRef;
use sendjay_client::{EndReason, Event, LocateError, Locator, Session, SessionOptions};
use sendjay_common::protocol::DeviceClass;
use support::{cluster, send};

struct ListLocator {
    token: String,
    nodes: Arc<Mutex<Vec<NodeRef>>>,
}

impl ListLocator {
    fn first(&self) -> Result<NodeRef, LocateError> {
        self.nodes
            .lock()
            .unwrap()
            .first()
            .cloned()
            .ok_or_else(|| LocateError::Other("no live node".into()))
    }
}

impl Locator for ListLocator {
    async fn log_in(&self) -> Result<(String, NodeRef), LocateError> {
        Ok((self.token.clone(), self.first()?))
    }
    async fn assign(&self, _token: &str) -> Result<NodeRef, LocateError> {
        self.first()
    }
}

/// What the caller of a session has been handed.
#[derive(Default)]
struct Seen {
    /// How often each seq arrived.
    messages: BTreeMap<i64, usize>,
    /// Acknowledged sends: (seq, duplicate).
    acks: Vec<(i64, bool)>,
    reconnected: bool,
}

impl Seen {
    fn note(&mut self, event: Event) {
        match event {
            Event::Message(m) => *self.messages.entry(m.seq).or_default() += 1,
            Event::Acknowledged { message, duplicate } => self.acks.push((message.seq, duplicate)),
            Event::Reconnected(_) => self.reconnected = true,
            other => panic!("unexpected event {other:?}"),
        }
    }
}

fn quick() -> SessionOptions {
    SessionOptions {
        backoff: sendjay_client::Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(400),
        ),
        ..SessionOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_its_node_crashing_and_sees_every_message_once() {
    let mut cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let nodes: Vec<NodeRef> = cluster
        .nodes
        .iter()
        .map(|n| NodeRef {
            id: n.node_id().to_owned(),
            url: n.ws_url(),
        })
        .collect();
    let list = Arc::new(Mutex::new(nodes));
    let locator = ListLocator {
        token: cluster.token("alice", DeviceClass::Web),
        nodes: list.clone(),
    };
    let mut alice = Session::start(locator, quick())
        .await
        .expect("session starts");
    let bob = cluster.connect(1, "bob").await;

    let mut seen = Seen::default();
    for i in 0..5 {
        send(&bob, room, &format!("b{i}"), "before the crash").await;
    }
    while seen.messages.len() < 5 {
        let event = tokio::time::timeout(Duration::from_secs(10), alice.next_event())
            .await
            .expect("pushes arrive")
            .expect("session goes on");
        seen.note(event);
    }

    // Alice's node dies; the "router" now knows only bob's node. Bob keeps writing, alice writes too.
    list.lock().unwrap().remove(0);
    cluster.nodes.remove(0).crash().await;
    for i in 5..10 {
        send(&bob, room, &format!("b{i}"), "while alice is away").await;
    }
    let first = alice.write(room, "written while disconnected 1");
    let second = alice.write(room, "written while disconnected 2");
    assert!(alice.flush().await.is_err(), "the old connection is gone");
    assert_eq!(alice.unsent().pending(), 2, "both kept, with their ids");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(seen.reconnected && seen.messages.len() >= 12 && seen.acks.len() == 2) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = tokio::time::timeout(left, alice.next_event())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "not back within 30 s: seen {:?}, acks {:?}",
                    seen.messages, seen.acks
                )
            })
            .unwrap_or_else(|| panic!("session gave up: {:?}", alice.gave_up()));
        seen.note(event);
    }
    assert_eq!(
        seen.messages.keys().copied().collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>(),
        "every seq of the room, bob's ten and alice's two"
    );
    assert!(
        seen.messages.values().all(|&n| n == 1),
        "each exactly once: {:?}",
        seen.messages
    );
    assert!(alice.unsent().is_empty());
    // On bob's side the two resent messages exist once each, with the ids they were written with.
    let history = cluster
        .db()
        .query(
            "SELECT client_msg_id FROM messages WHERE room_id = $1 AND sender_id = 'alice' ORDER BY seq",
            &[&room],
        )
        .await
        .unwrap();
    let ids: Vec<String> = history.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, [first, second]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_when_a_newer_login_evicts_it() {
    let cluster = cluster().nodes(1).user("alice").start().await;
    let node = NodeRef {
        id: cluster.nodes[0].node_id().to_owned(),
        url: cluster.nodes[0].ws_url(),
    };
    let locator = ListLocator {
        token: cluster.token("alice", DeviceClass::Web),
        nodes: Arc::new(Mutex::new(vec![node])),
    };
    let mut old = Session::start(locator, quick())
        .await
        .expect("session starts");
    let _newer = cluster.connect(0, "alice").await;
    let event = tokio::time::timeout(Duration::from_secs(10), old.next_event())
        .await
        .expect("the eviction arrives");
    assert_eq!(event, Some(Event::Ended(EndReason::Evicted)));
    assert_eq!(old.next_event().await, None, "nothing after the end");
    assert!(old.gave_up().is_none());
}
