//! Publishing what other sessions must learn, in order, after a request committed.
//!
//! Order matters: a new member's node must subscribe to the room (`JoinedRoom`) before it can forward that
//! room's pushes, and a removed member must get the `remove` message before its node unsubscribes
//! (`LeftRoom`). Redis delivers the messages of one publisher connection in publish order, so the steps of one
//! [`Fanout`] are published one after the other by one background task; the reply does not wait for them.
//! Pushes are best effort (a client that misses one catches up with `sync`).

use std::time::Duration;

use bytes::Bytes;
use sendjay_common::bus::UserEvent;
use sendjay_common::codec;
use sendjay_common::protocol::{Push, ServerFrame};

use crate::NodeContext;

/// How many users' events are published concurrently in a large membership change.
const USER_CONCURRENCY: usize = 32;

enum Step {
    Room(i64, Bytes),
    User(String, UserEvent),
    Users(Vec<(String, Vec<UserEvent>)>),
    Sleep(Duration),
}

/// An ordered list of publications.
#[derive(Default)]
pub(crate) struct Fanout {
    steps: Vec<Step>,
}

fn frame(push: &Push) -> Option<Bytes> {
    match codec::encode_server_frame(&ServerFrame::Push { push: push.clone() }) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a push");
            None
        }
    }
}

impl Fanout {
    pub(crate) fn new() -> Fanout {
        Fanout::default()
    }

    /// A push to every session of every member of `room` (on every node).
    pub(crate) fn room(&mut self, room: i64, push: &Push) -> &mut Fanout {
        if let Some(bytes) = frame(push) {
            self.steps.push(Step::Room(room, bytes));
        }
        self
    }

    /// A push to every session of `user`.
    pub(crate) fn user_push(&mut self, user: &str, push: &Push) -> &mut Fanout {
        if let Some(bytes) = frame(push) {
            self.steps.push(Step::User(
                user.to_owned(),
                UserEvent::Deliver {
                    frame: bytes.to_vec(),
                },
            ));
        }
        self
    }

    /// Any event for the sessions of `user`.
    pub(crate) fn user_event(&mut self, user: &str, event: UserEvent) -> &mut Fanout {
        self.steps.push(Step::User(user.to_owned(), event));
        self
    }

    /// `users` joined `room`: their nodes subscribe, then (if given) they get `push` directly — it may have been
    /// published to the room before they were subscribed.
    pub(crate) fn joined(
        &mut self,
        users: &[String],
        room: i64,
        push: Option<&Push>,
    ) -> &mut Fanout {
        if users.is_empty() {
            return self;
        }
        let deliver = push
            .and_then(frame)
            .map(|b| UserEvent::Deliver { frame: b.to_vec() });
        let per_user = users
            .iter()
            .map(|u| {
                let mut events = vec![UserEvent::JoinedRoom { room_id: room }];
                events.extend(deliver.clone());
                (u.clone(), events)
            })
            .collect();
        self.steps.push(Step::Users(per_user));
        self
    }

    /// `users` left `room`: their nodes stop forwarding its pushes.
    pub(crate) fn left(&mut self, users: &[String], room: i64) -> &mut Fanout {
        if !users.is_empty() {
            let per_user = users
                .iter()
                .map(|u| (u.clone(), vec![UserEvent::LeftRoom { room_id: room }]))
                .collect();
            self.steps.push(Step::Users(per_user));
        }
        self
    }

    /// Wait before the next step.
    pub(crate) fn sleep(&mut self, pause: Duration) -> &mut Fanout {
        self.steps.push(Step::Sleep(pause));
        self
    }

    /// Publishes the steps in order from a background task.
    pub(crate) fn spawn(self, ctx: &NodeContext) {
        if self.steps.is_empty() {
            return;
        }
        let bus = ctx.bus.clone();
        tokio::spawn(async move {
            for step in self.steps {
                match step {
                    Step::Room(room, bytes) => {
                        if let Err(e) = bus.publish_room(room, bytes).await {
                            tracing::warn!(error = %e, room, "room publish failed; members will catch up by sync");
                        }
                    }
                    Step::User(user, event) => {
                        if let Err(e) = bus.publish_user(&user, &event).await {
                            tracing::warn!(error = %e, %user, "user publish failed");
                        }
                    }
                    Step::Users(per_user) => {
                        use futures_util::stream::{self, StreamExt};
                        let bus = &bus;
                        stream::iter(per_user)
                            .for_each_concurrent(USER_CONCURRENCY, |(user, events)| async move {
                                for event in events {
                                    if let Err(e) = bus.publish_user(&user, &event).await {
                                        tracing::warn!(error = %e, %user, "user publish failed");
                                        break;
                                    }
                                }
                            })
                            .await;
                    }
                    Step::Sleep(pause) => tokio::time::sleep(pause).await,
                }
            }
        });
    }
}
