//! A tiny HTTP/1.1 client on hyper for the file API tests: one connection per request.
#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Sends `req` to `addr` and collects the whole answer.
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Response<Bytes> {
    let stream = TcpStream::connect(addr).await.expect("connect to the node");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(conn);
    let response = sender.send_request(req).await.expect("HTTP request");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("HTTP body").to_bytes();
    Response::from_parts(parts, bytes)
}

/// A GET with optional bearer token and extra headers.
pub fn get(path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", "127.0.0.1");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

/// `POST /v1/files?room_id=..&name=..` with the bytes and a claimed type.
pub fn upload(
    token: &str,
    room: i64,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> Request<Full<Bytes>> {
    let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    Request::post(format!("/v1/files?room_id={room}&name={name}"))
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", mime)
        .body(Full::new(Bytes::from(bytes)))
        .unwrap()
}

/// The JSON of an answer.
pub fn json(r: &Response<Bytes>) -> serde_json::Value {
    serde_json::from_slice(r.body()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} {}",
            r.status(),
            String::from_utf8_lossy(r.body())
        )
    })
}

/// A header as text ("" when absent).
pub fn header<'a>(r: &'a Response<Bytes>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
