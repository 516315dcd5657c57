//! Logs in, follows the user's rooms and answers every message that mentions "ping" with "pong", surviving
//! drains and node restarts (the session reconnects and syncs by itself).
//!
//! With a local cluster (`bash deploy/local/cluster.sh`):
//! `cargo run -p sendjay-client --example echo_room -- http://127.0.0.1:7300 bob sendjay`
//! then type `ping` as alice in `sendjay-chat --user alice --room General`.

use sendjay_client::{Event, RouterLocator, Session, SessionOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let router = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:7300".into());
    let user = args.next().unwrap_or_else(|| "bob".into());
    let password = args.next().unwrap_or_else(|| "sendjay".into());
    let locator = RouterLocator::new(&router, &user, &password, "mobile");
    let mut session = Session::start(locator, SessionOptions::default()).await?;
    println!(
        "{user} is on node {}, following {} rooms; waiting for \"ping\"",
        session.node().id,
        session.rooms().len()
    );
    while let Some(event) = session.next_event().await {
        match event {
            Event::Message(m) if m.sender_id != user && m.body.contains("ping") => {
                session.write(m.room_id, format!("pong to {} #{}", m.sender_id, m.seq));
                session.flush().await?;
            }
            Event::Reconnected(node) => println!("back on node {}", node.id),
            Event::Ended(reason) => println!("ended: {}", reason.explain()),
            _ => {}
        }
    }
    if let Some(e) = session.gave_up() {
        eprintln!("{e}");
    }
    Ok(())
}
