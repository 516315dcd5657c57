//! A wire-protocol v1 client over a real WebSocket: requests matched to replies by id, pushes on a channel,
//! and the close code the server ended with. The terminal chat, the load scenarios and the integration tests
//! all talk to nodes through this, so it uses nothing but `sendjay-common` and the wire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, StreamExt};
use futures_util::SinkExt;
use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, Push, Reply, Request, ServerFrame};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a client request failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The node answered with an error frame.
    #[error("server error {code:?}: {message}")]
    Server {
        /// The code.
        code: ErrorCode,
        /// The message.
        message: String,
    },
    /// The connection is closed (the close code, when the server sent one).
    #[error("connection closed ({0:?})")]
    Closed(Option<Closed>),
    /// No reply in time.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The WebSocket could not be opened.
    #[error("could not connect: {0}")]
    Connect(String),
    /// A reply of another op than asked.
    #[error("unexpected reply: {0}")]
    Unexpected(String),
}

/// The close frame the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code.
    pub code: u16,
    /// The reason text.
    pub reason: String,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Reply, ClientError>>>>>;

/// A connected client.
pub struct Client {
    sink: tokio::sync::Mutex<SplitSink<Ws, Message>>,
    pending: Pending,
    next_id: AtomicU64,
    closed: watch::Receiver<Option<Option<Closed>>>,
    /// Pushes from the server, in arrival order.
    pub pushes: tokio::sync::Mutex<mpsc::UnboundedReceiver<Push>>,
    /// Error frames that carried no request id.
    pub orphan_errors: Arc<Mutex<Vec<(ErrorCode, String)>>>,
    timeout: Duration,
}

/// Options for [`Client::connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `manual` or `auto`.
    pub launch: &'static str,
    /// Offer the `sendjay.v1` subprotocol.
    pub offer_subprotocol: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            launch: "manual",
            offer_subprotocol: true,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Small client buffers: the load generator holds thousands of sockets.
pub fn client_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 4096;
    config.write_buffer_size = 0;
    config
}

impl Client {
    /// Connects to a node's WebSocket URL with a token.
    pub async fn connect(
        url: &str,
        token: &str,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        Self::connect_from(url, token, options, None).await
    }

    /// Connects from a given local address (the load generator spreads sockets over 127.0.0.x).
    pub async fn connect_from(
        url: &str,
        token: &str,
        options: ConnectOptions,
        local: Option<std::net::IpAddr>,
    ) -> Result<Client, ClientError> {
        let full = format!("{url}?launch={}", options.launch);
        let mut request = full
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        // The token travels in a header, never in the URL (proxies and access logs record URLs).
        if !token.is_empty() {
            let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| {
                ClientError::Connect(format!("token is not a valid header value: {e}"))
            })?;
            request.headers_mut().insert("authorization", bearer);
        }
        if options.offer_subprotocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_static(sendjay_common::SUBPROTOCOL_V1),
            );
        }
        let host = request.uri().host().unwrap_or("127.0.0.1").to_owned();
        let port = request.uri().port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?
            .next()
            .ok_or_else(|| ClientError::Connect(format!("{host} does not resolve")))?;
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(|e| ClientError::Connect(e.to_string()))?;
        if let Some(local) = local {
            socket
                .bind((local, 0).into())
                .map_err(|e| ClientError::Connect(format!("bind {local}: {e}")))?;
        }
        let stream = socket
            .connect(addr)
            .await
            .map_err(|e| ClientError::Connect(format!("{addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (ws, _response) = tokio_tungstenite::client_async_with_config(
            request,
            MaybeTlsStream::Plain(stream),
            Some(client_config()),
        )
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
        Ok(Self::start(ws, options.timeout))
    }

    fn start(ws: Ws, timeout: Duration) -> Client {
        let (sink, mut stream) = ws.split();
        let pending: Pending = Arc::default();
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed_rx) = watch::channel(None);
        let orphan_errors: Arc<Mutex<Vec<(ErrorCode, String)>>> = Arc::default();
        let reader_pending = pending.clone();
        let reader_orphans = orphan_errors.clone();
        tokio::spawn(async move {
            let mut close = None;
            while let Some(message) = stream.next().await {
                match message {
                    Ok(Message::Binary(bytes)) => match codec::decode_server_frame(&bytes) {
                        Ok(ServerFrame::Reply { id, result }) => {
                            complete(&reader_pending, id, Ok(result))
                        }
                        Ok(ServerFrame::Error {
                            id: Some(id),
                            code,
                            message,
                        }) => complete(
                            &reader_pending,
                            id,
                            Err(ClientError::Server { code, message }),
                        ),
                        Ok(ServerFrame::Error {
                            id: None,
                            code,
                            message,
                        }) => reader_orphans
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((code, message)),
                        Ok(ServerFrame::Push { push }) => {
                            let _ = push_tx.send(push);
                        }
                        Err(_) => {}
                    },
                    Ok(Message::Close(frame)) => {
                        close = frame.map(|f| Closed {
                            code: f.code.into(),
                            reason: f.reason.to_string(),
                        });
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let drained: Vec<_> = reader_pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .collect();
            for (_, waiter) in drained {
                let _ = waiter.send(Err(ClientError::Closed(close.clone())));
            }
            let _ = closed_tx.send(Some(close));
        });
        Client {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            next_id: AtomicU64::new(1),
            closed: closed_rx,
            pushes: tokio::sync::Mutex::new(push_rx),
            orphan_errors,
            timeout,
        }
    }

    /// Sends a request and waits for its reply.
    pub async fn call(&self, call: Call) -> Result<Reply, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = codec::encode_request(&Request { id, call })
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        if let Err(e) = self.send_raw(bytes.into()).await {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ClientError::Closed(self.close_info())),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                Err(ClientError::Timeout(self.timeout))
            }
        }
    }

    /// Sends raw bytes as one binary frame (tests use it for malformed frames).
    pub async fn send_raw(&self, bytes: Bytes) -> Result<(), ClientError> {
        self.send_message(Message::Binary(bytes)).await
    }

    /// Sends any WebSocket message.
    pub async fn send_message(&self, message: Message) -> Result<(), ClientError> {
        self.sink
            .lock()
            .await
            .send(message)
            .await
            .map_err(|_| ClientError::Closed(self.close_info()))
    }

    /// Waits for the next push, up to `wait`.
    pub async fn next_push(&self, wait: Duration) -> Option<Push> {
        tokio::time::timeout(wait, self.pushes.lock().await.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits until the server closes the connection (up to `wait`) and returns its close frame.
    pub async fn closed(&self, wait: Duration) -> Option<Option<Closed>> {
        let mut rx = self.closed.clone();
        tokio::time::timeout(wait, async move {
            loop {
                if let Some(info) = rx.borrow().clone() {
                    return info;
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await
        .ok()
    }

    /// The close frame, if the connection has closed.
    pub fn close_info(&self) -> Option<Closed> {
        self.closed.borrow().clone().flatten()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Closes the connection politely.
    pub async fn close(&self) {
        let _ = self.sink.lock().await.close().await;
    }
}

fn complete(pending: &Pending, id: u64, result: Result<Reply, ClientError>) {
    if let Some(waiter) = pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id)
    {
        let _ = waiter.send(result);
    }
}
