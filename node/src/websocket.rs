//! The WebSocket upgrade on a hyper request and the socket settings that keep idle connections small.
//!
//! tungstenite's defaults allocate 128 KiB read and write buffers per connection; a node holding hundreds of
//! thousands of mostly idle sockets cannot afford that, so the buffers here are small and grow only while a
//! large frame is in flight.

use hyper::header::{HeaderMap, HeaderValue};
use sendjay_common::SUBPROTOCOL_V1;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The hard limit of one incoming WebSocket message; past it the connection is closed with 1009.
pub const HARD_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Bytes read from the socket per read call (also the read buffer a connection keeps).
pub const READ_BUFFER_BYTES: usize = 512;

/// Socket settings for server connections.
pub fn server_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = READ_BUFFER_BYTES;
    config.write_buffer_size = 0;
    config.max_write_buffer_size = HARD_MAX_MESSAGE_BYTES * 16;
    config.max_message_size = Some(HARD_MAX_MESSAGE_BYTES);
    config.max_frame_size = Some(HARD_MAX_MESSAGE_BYTES);
    config
}

/// Why an upgrade request was refused (answered with HTTP 400 before any WebSocket exists).
#[derive(Debug, PartialEq, Eq)]
pub enum UpgradeRefusal {
    /// Not a WebSocket upgrade, or the version is not 13.
    NotWebSocket,
    /// The client asked only for subprotocols this node does not speak.
    UnsupportedProtocol,
}

impl UpgradeRefusal {
    /// The response body explaining what to do.
    pub fn message(&self) -> &'static str {
        match self {
            UpgradeRefusal::NotWebSocket => {
                "expected a WebSocket upgrade (GET with Upgrade: websocket, Sec-WebSocket-Version: 13)\n"
            }
            UpgradeRefusal::UnsupportedProtocol => {
                "unsupported subprotocol: this node speaks `sendjay.v1`; offer it in Sec-WebSocket-Protocol\n"
            }
        }
    }
}

/// The accepted handshake: the accept key and the subprotocol to echo, if one was offered.
#[derive(Debug)]
pub struct Handshake {
    /// Value of `Sec-WebSocket-Accept`.
    pub accept: String,
    /// Whether to answer `Sec-WebSocket-Protocol: sendjay.v1`.
    pub echo_protocol: bool,
}

fn header_has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks an upgrade request's headers.
pub fn check_upgrade(headers: &HeaderMap) -> Result<Handshake, UpgradeRefusal> {
    let upgrade = header_has_token(headers, "upgrade", "websocket")
        && header_has_token(headers, "connection", "upgrade");
    let version = headers
        .get("sec-websocket-version")
        .map(HeaderValue::as_bytes)
        == Some(b"13");
    let key = headers
        .get("sec-websocket-key")
        .ok_or(UpgradeRefusal::NotWebSocket)?;
    if !upgrade || !version {
        return Err(UpgradeRefusal::NotWebSocket);
    }
    let offered = headers.contains_key("sec-websocket-protocol");
    let echo_protocol = header_has_token(headers, "sec-websocket-protocol", SUBPROTOCOL_V1);
    if offered && !echo_protocol {
        return Err(UpgradeRefusal::UnsupportedProtocol);
    }
    Ok(Handshake {
        accept: tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
        echo_protocol,
    })
}

/// The prefix of the `Sec-WebSocket-Protocol` entry that carries the token (`sendjay.token.<JWT>`): a browser
/// cannot set `Authorization` on a WebSocket, but it can offer subprotocols. The entry is never echoed.
pub const TOKEN_PROTOCOL_PREFIX: &str = "sendjay.token.";

/// Where the token of an upgrade request came from, in the order the node looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <JWT>` (non-browser clients).
    Header,
    /// A `sendjay.token.<JWT>` entry of `Sec-WebSocket-Protocol` (browsers).
    Subprotocol,
    /// `?token=<JWT>` in the URL: deprecated, because proxies and access logs record URLs.
    Query,
}

impl TokenSource {
    /// The label of the `sendjay_node_ws_token_source_total` metric.
    pub fn label(self) -> &'static str {
        match self {
            TokenSource::Header => "header",
            TokenSource::Subprotocol => "subprotocol",
            TokenSource::Query => "query",
        }
    }
}

/// Finds the token of an upgrade request: the `Authorization` header first, then a `sendjay.token.` subprotocol
/// entry, then the deprecated `?token=` query parameter.
pub fn find_token(headers: &HeaderMap, query: Option<&str>) -> Option<(String, TokenSource)> {
    if let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    {
        return Some((token.trim().to_owned(), TokenSource::Header));
    }
    if let Some(token) = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|t| t.trim().strip_prefix(TOKEN_PROTOCOL_PREFIX))
    {
        return Some((token.to_owned(), TokenSource::Subprotocol));
    }
    query_param(query, "token").map(|t| (t.to_owned(), TokenSource::Query))
}

/// A query parameter's value (tokens and ids need no percent-decoding).
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        pair.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_and_checks_protocols() {
        assert_eq!(
            query_param(Some("token=abc.def&launch=auto"), "launch"),
            Some("auto")
        );
        assert_eq!(query_param(Some("token=abc"), "launch"), None);
        let mut headers = HeaderMap::new();
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
        headers.insert(
            "sec-websocket-key",
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        let ok = check_upgrade(&headers).unwrap();
        assert_eq!(ok.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(!ok.echo_protocol);
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("sendjay.v2"),
        );
        assert_eq!(
            check_upgrade(&headers).unwrap_err(),
            UpgradeRefusal::UnsupportedProtocol
        );
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("sendjay.v2, sendjay.v1"),
        );
        assert!(check_upgrade(&headers).unwrap().echo_protocol);
    }

    #[test]
    fn finds_the_token_in_header_then_subprotocol_then_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(find_token(&headers, Some("launch=auto")), None);
        assert_eq!(
            find_token(&headers, Some("token=q.q.q")),
            Some(("q.q.q".to_owned(), TokenSource::Query))
        );
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("sendjay.v1, sendjay.token.s.s.s"),
        );
        assert_eq!(
            find_token(&headers, Some("token=q.q.q")),
            Some(("s.s.s".to_owned(), TokenSource::Subprotocol))
        );
        assert!(check_upgrade_protocols(&headers));
        headers.insert("authorization", HeaderValue::from_static("Bearer h.h.h"));
        assert_eq!(
            find_token(&headers, None),
            Some(("h.h.h".to_owned(), TokenSource::Header))
        );
    }

    fn check_upgrade_protocols(headers: &HeaderMap) -> bool {
        header_has_token(headers, "sec-websocket-protocol", SUBPROTOCOL_V1)
    }
}
