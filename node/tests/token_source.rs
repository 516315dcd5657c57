//! Where a node takes the token from: `Authorization: Bearer`, then a `sendjay.token.<JWT>` entry of
//! `Sec-WebSocket-Protocol`, then the deprecated `?token=`; each counted in `sendjay_ws_token_source_total`.

mod support;

use futures_util::{SinkExt, StreamExt};
use sendjay_common::codec;
use sendjay_common::protocol::{Call, DeviceClass, Request, ServerFrame};
use support::TestCluster;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Request as HttpRequest};
use tokio_tungstenite::tungstenite::Message;

/// The current value of `sendjay_ws_token_source_total{source="…"}` on node 0.
async fn source_count(cluster: &TestCluster, source: &str) -> f64 {
    let text = sendjay_node::metrics::render(&cluster.nodes[0].ctx).await;
    let wanted = format!("sendjay_ws_token_source_total{{source=\"{source}\"}}");
    text.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

fn request(url: &str, headers: &[(&'static str, &str)]) -> HttpRequest<()> {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    request
}

/// Opens the socket, checks the echoed subprotocol and that a `ping` gets its reply (the session is live).
async fn connects_and_pings(request: HttpRequest<()>, echoed: Option<&str>) {
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade accepted");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        echoed,
        "only sendjay.v1 is echoed, never the token entry"
    );
    let ping = codec::encode_request(&Request {
        id: 1,
        call: Call::Ping,
    })
    .unwrap();
    ws.send(Message::Binary(ping.into())).await.unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => match codec::decode_server_frame(&bytes).unwrap() {
                ServerFrame::Reply { id: 1, .. } => break,
                ServerFrame::Push { .. } => continue,
                other => panic!("unexpected {other:?}"),
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("session refused: {other:?}"),
        }
    }
    let _ = ws.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_source_is_accepted_and_counted() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let url = cluster.nodes[0].ws_url();
    let token = cluster.token("alice", DeviceClass::Web);

    let before = source_count(&cluster, "header").await;
    let bearer = format!("Bearer {token}");
    connects_and_pings(
        request(
            &url,
            &[
                ("authorization", &bearer),
                ("sec-websocket-protocol", "sendjay.v1"),
            ],
        ),
        Some("sendjay.v1"),
    )
    .await;
    assert_eq!(source_count(&cluster, "header").await, before + 1.0);

    let before = source_count(&cluster, "subprotocol").await;
    let offered = format!("sendjay.v1, sendjay.token.{token}");
    connects_and_pings(
        request(&url, &[("sec-websocket-protocol", &offered)]),
        Some("sendjay.v1"),
    )
    .await;
    assert_eq!(source_count(&cluster, "subprotocol").await, before + 1.0);

    // The deprecated query parameter still works, and is counted as `query`.
    let before = source_count(&cluster, "query").await;
    connects_and_pings(request(&format!("{url}?token={token}"), &[]), None).await;
    assert_eq!(source_count(&cluster, "query").await, before + 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_entry_without_the_protocol_entry_is_refused_with_400() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let token = cluster.token("alice", DeviceClass::Web);
    let offered = format!("sendjay.token.{token}");
    let refused = tokio_tungstenite::connect_async(request(
        &cluster.nodes[0].ws_url(),
        &[("sec-websocket-protocol", &offered)],
    ))
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }
}
