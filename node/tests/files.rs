//! Files and images end to end over the HTTP API (protocol §19), on the local directory backend and on a real
//! S3-compatible server (moto), against real PostgreSQL and Redis: upload, download with Range and ETag,
//! access control, signed URLs, thumbnails, content sniffing, limits, expiry, and storage faults.

mod support;

use std::io::Cursor;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, StatusCode};
use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, DeviceClass, FileInfo, ForwardArgs, HistoryArgs, MediaFilter, Message, MessageKind,
    MessageRef, Reply, SearchArgs, SendRichArgs,
};
use support::http::{self, header, json};
use support::storage::files_on_disk;
use support::TestCluster;

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn info_of(upload: &serde_json::Value) -> FileInfo {
    FileInfo {
        file_id: upload["file_id"].as_str().unwrap().into(),
        name: upload["name"].as_str().unwrap().into(),
        size: upload["size"].as_i64().unwrap(),
        mime: upload["mime"].as_str().unwrap().into(),
        width: upload["width"].as_u64().map(|w| w as u32),
        height: upload["height"].as_u64().map(|h| h as u32),
        ..Default::default()
    }
}

async fn send_file(
    client: &Connection,
    room: i64,
    id: &str,
    kind: MessageKind,
    file: FileInfo,
) -> Result<Message, ErrorCode> {
    let reply = client
        .call(Call::SendRich(SendRichArgs {
            room_id: room,
            client_msg_id: id.into(),
            kind,
            file: Some(file),
            ..Default::default()
        }))
        .await;
    match reply {
        Ok(Reply::Send { message, .. }) => Ok(message),
        Ok(other) => panic!("unexpected reply {other:?}"),
        Err(e) => Err(error_code(&e)),
    }
}

fn error_code(e: &sendjay_client::ClientError) -> ErrorCode {
    match e {
        sendjay_client::ClientError::Server { code, .. } => *code,
        other => panic!("not a server error: {other:?}"),
    }
}

async fn stored_files(cluster: &TestCluster) -> i64 {
    cluster
        .db()
        .query_one("SELECT count(*) FROM files", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_upload_stream_and_are_read_only_by_members() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice", "bob", "eve"]).await;
    let team = cluster.room(&["alice", "bob"]).await;
    let a = cluster.nodes[0].addr;
    let b = cluster.nodes[1].addr;
    let alice_token = cluster.token("alice", DeviceClass::Web);
    let bob_token = cluster.token("bob", DeviceClass::Web);
    let eve_token = cluster.token("eve", DeviceClass::Web);
    let alice = cluster.connect(0, "alice").await;

    // Upload a PNG claimed as a PDF: the sniffed type wins; dimensions and a thumbnail are made.
    let bytes = png(640, 480);
    let up = http::send(
        a,
        http::upload(
            &alice_token,
            team,
            "화면 캡처.png",
            "application/pdf",
            bytes.clone(),
        ),
    )
    .await;
    assert_eq!(
        up.status(),
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(up.body())
    );
    let meta = json(&up);
    assert_eq!(meta["mime"], "image/png");
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(meta["size"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(meta["state"], "uploaded");
    assert_eq!(meta["sha256"].as_str().unwrap().len(), 64);
    let id = meta["file_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/files/{id}");

    // Before it is sent only the uploader may read it; never a non-member.
    assert_eq!(
        http::send(b, http::get(&path, Some(&alice_token), &[]))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        http::send(b, http::get(&path, Some(&bob_token), &[]))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        http::send(b, http::get(&path, None, &[])).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Sending it makes it readable to the room's members, on any node.
    let message = send_file(&alice, team, "img-1", MessageKind::Image, info_of(&meta))
        .await
        .unwrap();
    let file = message.file.clone().unwrap();
    assert_eq!((file.width, file.size), (Some(640), bytes.len() as i64));
    assert!(file.expires_at_ms.is_some() && !file.expired);
    let whole = http::send(b, http::get(&path, Some(&bob_token), &[])).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.body().as_ref(), bytes.as_slice());
    assert_eq!(header(&whole, "content-type"), "image/png");
    assert_eq!(header(&whole, "x-content-type-options"), "nosniff");
    assert!(header(&whole, "content-disposition").starts_with("inline"));
    let etag = header(&whole, "etag").to_owned();
    let eve = http::send(b, http::get(&path, Some(&eve_token), &[])).await;
    assert_eq!(
        (eve.status(), json(&eve)["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // Range and ETag.
    let part = http::send(
        a,
        http::get(&path, Some(&bob_token), &[("range", "bytes=10-19")]),
    )
    .await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body().as_ref(), &bytes[10..20]);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 10-19/{}", bytes.len())
    );
    let tail = http::send(
        a,
        http::get(&path, Some(&bob_token), &[("range", "bytes=-5")]),
    )
    .await;
    assert_eq!(tail.body().as_ref(), &bytes[bytes.len() - 5..]);
    let past = http::send(
        a,
        http::get(&path, Some(&bob_token), &[("range", "bytes=999999-")]),
    )
    .await;
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let cached = http::send(
        a,
        http::get(&path, Some(&bob_token), &[("if-none-match", &etag)]),
    )
    .await;
    assert_eq!(
        (cached.status(), cached.body().len()),
        (StatusCode::NOT_MODIFIED, 0)
    );

    // Signed URLs for <img>: bound to the user and file, refused when forged or expired.
    let info =
        json(&http::send(a, http::get(&format!("{path}/info"), Some(&bob_token), &[])).await);
    let url = info["url"].as_str().unwrap().to_owned();
    let thumb_url = info["thumbnail_url"].as_str().unwrap().to_owned();
    let signed = http::send(b, http::get(&url, None, &[])).await;
    assert_eq!(signed.body().as_ref(), bytes.as_slice());
    let thumb = http::send(b, http::get(&thumb_url, None, &[])).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let decoded = image::load_from_memory(thumb.body()).expect("the thumbnail is an image");
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
    let forged = url.replace("u=bob", "u=eve");
    let r = http::send(b, http::get(&forged, None, &[])).await;
    assert_eq!(
        (r.status(), json(&r)["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("bad_signature"))
    );
    let signer = sendjay_node::files::signed_url::UrlSigner::new(support::SECRET.as_bytes());
    let old = signer.url(
        &id,
        sendjay_node::files::signed_url::Variant::File,
        "bob",
        1,
    );
    let r = http::send(b, http::get(&old, None, &[])).await;
    assert_eq!(json(&r)["error"], "url_expired");

    // CORS preflight from the web client's origin.
    let preflight = Request::options("/v1/files")
        .header("host", "127.0.0.1")
        .header("origin", "http://web.example")
        .header("access-control-request-method", "POST")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = http::send(a, preflight).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert!(header(&r, "access-control-allow-headers").contains("Range"));

    // Eve cannot send Alice's upload; nor can Alice send it into another room (file_link is for that).
    let elsewhere = cluster.room(&["alice"]).await;
    assert_eq!(
        send_file(
            &alice,
            elsewhere,
            "img-2",
            MessageKind::Image,
            info_of(&meta)
        )
        .await
        .unwrap_err(),
        ErrorCode::BadArgs
    );
    let mut unknown = info_of(&meta);
    unknown.file_id = "nope".into();
    assert_eq!(
        send_file(&alice, team, "img-3", MessageKind::Image, unknown)
            .await
            .unwrap_err(),
        ErrorCode::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let cluster = TestCluster::start_with(1, |c| {
        c.files_max_bytes = 64 * 1024;
        c.files_max_image_pixels = 10_000;
    })
    .await;
    cluster.users(&["alice", "eve"]).await;
    let team = cluster.room(&["alice"]).await;
    let a = cluster.nodes[0].addr;
    let token = cluster.token("alice", DeviceClass::Web);
    let err = |r: &hyper::Response<Bytes>| json(r)["error"].as_str().unwrap_or("").to_owned();

    // Too large: refused from Content-Length before a byte is stored, and while streaming (chunked).
    let r = http::send(
        a,
        http::upload(
            &token,
            team,
            "big.bin",
            "application/octet-stream",
            vec![1; 100_000],
        ),
    )
    .await;
    assert_eq!(
        (r.status(), err(&r)),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    let chunks =
        futures_util::stream::iter((0..20).map(|_| {
            Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from(vec![7u8; 8192])))
        }));
    let chunked = Request::post(format!("/v1/files?room_id={team}&name=big.bin"))
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::StreamBody::new(chunks))
        .unwrap();
    let stream = tokio::net::TcpStream::connect(a).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let r = sender.send_request(chunked).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Names: path-like and control characters.
    for name in ["../../etc/passwd", "a\\b", "bell\u{7}", "..", ""] {
        let r = http::send(
            a,
            http::upload(&token, team, name, "text/plain", b"x".to_vec()),
        )
        .await;
        assert_eq!(
            (r.status(), err(&r)),
            (StatusCode::BAD_REQUEST, "bad_args".into()),
            "{name:?}"
        );
    }
    // A wrong media claim for bytes that are not media; an HTML file is kept, but only as an attachment.
    let r = http::send(
        a,
        http::upload(
            &token,
            team,
            "x.png",
            "image/png",
            b"<html><script>alert(1)</script>".to_vec(),
        ),
    )
    .await;
    assert_eq!(
        (r.status(), err(&r)),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_mismatch".into()
        )
    );
    let html = json(
        &http::send(
            a,
            http::upload(
                &token,
                team,
                "x.html",
                "text/html",
                b"<html><script>alert(1)</script>".to_vec(),
            ),
        )
        .await,
    );
    let r = http::send(
        a,
        http::get(
            &format!("/v1/files/{}", html["file_id"].as_str().unwrap()),
            Some(&token),
            &[],
        ),
    )
    .await;
    assert!(header(&r, "content-disposition").starts_with("attachment"));
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    // A decompression bomb (here: more pixels than the node's limit) is refused with a clear error.
    let r = http::send(
        a,
        http::upload(&token, team, "bomb.png", "image/png", png(200, 200)),
    )
    .await;
    assert_eq!(
        (r.status(), err(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large".into())
    );
    // Not a member of the room.
    let eve = cluster.token("eve", DeviceClass::Web);
    let r = http::send(
        a,
        http::upload(&eve, team, "x.txt", "text/plain", b"x".to_vec()),
    )
    .await;
    assert_eq!(
        (r.status(), err(&r)),
        (StatusCode::FORBIDDEN, "not_member".into())
    );

    // Truncated upload: the client promises 50 000 bytes, sends 1 000 and goes away.
    use tokio::io::AsyncWriteExt;
    let mut raw = tokio::net::TcpStream::connect(a).await.unwrap();
    raw.write_all(format!("POST /v1/files?room_id={team}&name=cut.bin HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-length: 50000\r\n\r\n").as_bytes()).await.unwrap();
    raw.write_all(&[9u8; 1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let uploading: i64 = cluster
        .db()
        .query_one("SELECT count(*) FROM files WHERE state = 'uploading'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        uploading, 1,
        "the upload in flight is recorded but not servable"
    );
    let cut_id: String = cluster
        .db()
        .query_one("SELECT id FROM files WHERE state = 'uploading'", &[])
        .await
        .unwrap()
        .get(0);
    let r = http::send(
        a,
        http::get(&format!("/v1/files/{cut_id}"), Some(&token), &[]),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "half a file is never served"
    );
    drop(raw);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stored_files(&cluster).await != 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored_files(&cluster).await,
        1,
        "only the HTML file remains: refused and cut uploads left no row"
    );
    let on_disk = files_on_disk(cluster.files_dir.path());
    assert_eq!(
        on_disk.len(),
        1,
        "only the HTML file's bytes remain: {on_disk:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_files_are_swept_once_and_answer_gone() {
    let cluster = TestCluster::start_with(2, |c| c.files_unsent_grace_secs = 3600).await;
    cluster.users(&["alice", "bob"]).await;
    let team = cluster.room(&["alice", "bob"]).await;
    let other = cluster.room(&["alice", "bob"]).await;
    let a = cluster.nodes[0].addr;
    let token = cluster.token("alice", DeviceClass::Web);
    let alice = cluster.connect(0, "alice").await;
    let body = b"%PDF-1.7\nquarterly report".to_vec();
    let meta = json(
        &http::send(
            a,
            http::upload(&token, team, "report.pdf", "application/pdf", body.clone()),
        )
        .await,
    );
    assert_eq!(meta["mime"], "application/pdf");
    let sent = send_file(&alice, team, "pdf", MessageKind::File, info_of(&meta))
        .await
        .unwrap();
    let unsent = json(
        &http::send(
            a,
            http::upload(&token, team, "draft.txt", "text/plain", b"draft".to_vec()),
        )
        .await,
    );
    let id = meta["file_id"].as_str().unwrap();

    // The retention period ends (moved into the past rather than waited for); both nodes sweep at once.
    cluster
        .db()
        .execute(
            "UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let (r0, r1) = tokio::join!(
        sendjay_node::files::sweeper::sweep_once(&cluster.nodes[0].ctx),
        sendjay_node::files::sweeper::sweep_once(&cluster.nodes[1].ctx)
    );
    let (r0, r1) = (r0.unwrap(), r1.unwrap());
    assert_eq!(
        r0.expired + r1.expired,
        1,
        "swept exactly once across nodes"
    );
    assert_eq!(r0.bytes + r1.bytes, body.len() as u64);
    let r = http::send(a, http::get(&format!("/v1/files/{id}"), Some(&token), &[])).await;
    assert_eq!(
        (r.status(), json(&r)["error"].as_str()),
        (StatusCode::GONE, Some("file_expired"))
    );
    // The message shows the file as expired; a file link to it is refused.
    let history = alice
        .call(Call::History(HistoryArgs {
            room_id: team,
            before_seq: None,
            limit: None,
        }))
        .await
        .unwrap();
    let Reply::History { messages, .. } = history else {
        panic!()
    };
    let shown = messages.iter().find(|m| m.seq == sent.seq).unwrap();
    assert!(shown.file.as_ref().unwrap().expired, "{shown:?}");
    let link = alice
        .call(Call::SendRich(SendRichArgs {
            room_id: other,
            client_msg_id: "link".into(),
            kind: MessageKind::FileLink,
            file_link: Some(MessageRef {
                room_id: team,
                seq: sent.seq,
            }),
            ..Default::default()
        }))
        .await;
    assert_eq!(error_code(&link.unwrap_err()), ErrorCode::FileExpired);
    assert!(
        !files_on_disk(cluster.files_dir.path())
            .iter()
            .any(|p| p.contains(id)),
        "the bytes are gone"
    );

    // An upload never sent is collected after the grace period.
    let unsent_id = unsent["file_id"].as_str().unwrap();
    cluster
        .db()
        .execute(
            "UPDATE files SET created_at = now() - interval '2 hours' WHERE id = $1",
            &[&unsent_id],
        )
        .await
        .unwrap();
    let report = sendjay_node::files::sweeper::sweep_once(&cluster.nodes[0].ctx)
        .await
        .unwrap();
    assert_eq!(report.unsent, 1);
    assert!(files_on_disk(cluster.files_dir.path()).is_empty());
}

/// The room's image or file list: `search` with a media kind (protocol §6.11), newest first.
async fn media_list(client: &Connection, room: i64, kind: MediaFilter) -> Vec<Message> {
    let reply = client
        .call(Call::Search(SearchArgs {
            room_id: room,
            kind: Some(kind),
            ..Default::default()
        }))
        .await
        .unwrap();
    let Reply::Search { messages, .. } = reply else {
        panic!("unexpected reply {reply:?}")
    };
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_list_shows_size_expiry_and_state_and_expired_files_are_not_sent_again() {
    let s = support::builder::cluster()
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let (team, other) = (s.rooms[0], s.rooms[1]);
    let a = s.nodes[0].addr;
    let token = s.token("alice", DeviceClass::Web);
    let alice = s.connect(0, "alice").await;
    let picture = png(40, 30);
    let image = json(
        &http::send(
            a,
            http::upload(&token, team, "chart.png", "image/png", picture.clone()),
        )
        .await,
    );
    let image_msg = send_file(&alice, team, "img", MessageKind::Image, info_of(&image))
        .await
        .unwrap();
    let body = b"%PDF-1.7\nminutes of the meeting".to_vec();
    let doc = json(
        &http::send(
            a,
            http::upload(&token, team, "minutes.pdf", "application/pdf", body.clone()),
        )
        .await,
    );
    let doc_msg = send_file(&alice, team, "pdf", MessageKind::File, info_of(&doc))
        .await
        .unwrap();

    // Each list holds its kind only, with size, expiry and state.
    let images = media_list(&alice, team, MediaFilter::Image).await;
    assert_eq!(
        images.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![image_msg.seq]
    );
    let shown = images[0].file.as_ref().unwrap();
    assert_eq!(shown.size, picture.len() as i64);
    assert!(shown.expires_at_ms.is_some() && !shown.expired, "{shown:?}");
    let files = media_list(&alice, team, MediaFilter::File).await;
    assert_eq!(
        files.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![doc_msg.seq]
    );
    let shown = files[0].file.as_ref().unwrap();
    assert_eq!(
        (shown.size, shown.name.as_str()),
        (body.len() as i64, "minutes.pdf")
    );
    let expires_at_ms = shown
        .expires_at_ms
        .expect("the list shows when the file expires");
    assert!(expires_at_ms > image_msg.created_at_ms, "{shown:?}");
    assert!(!shown.expired);

    // The document's retention ends and the sweeper deletes its bytes: the list shows it as expired.
    let id = doc["file_id"].as_str().unwrap();
    s.db()
        .execute(
            "UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let report = sendjay_node::files::sweeper::sweep_once(&s.nodes[0].ctx)
        .await
        .unwrap();
    assert_eq!(report.expired, 1);
    let files = media_list(&alice, team, MediaFilter::File).await;
    let shown = files[0].file.as_ref().unwrap();
    assert!(shown.expired, "{shown:?}");
    assert_eq!(shown.size, body.len() as i64, "the size stays shown");
    let images = media_list(&alice, team, MediaFilter::Image).await;
    assert!(!images[0].file.as_ref().unwrap().expired);

    // Sending it again in any way answers file_expired: a resend of the upload, a file link, a forward.
    assert_eq!(
        send_file(&alice, team, "again", MessageKind::File, info_of(&doc))
            .await
            .unwrap_err(),
        ErrorCode::FileExpired
    );
    let link = alice
        .call(Call::SendRich(SendRichArgs {
            room_id: other,
            client_msg_id: "link".into(),
            kind: MessageKind::FileLink,
            file_link: Some(MessageRef {
                room_id: team,
                seq: doc_msg.seq,
            }),
            ..Default::default()
        }))
        .await;
    assert_eq!(error_code(&link.unwrap_err()), ErrorCode::FileExpired);
    let forward = |seq: i64, id: &str| {
        alice.call(Call::Forward(ForwardArgs {
            room_id: team,
            seq,
            to_room_id: other,
            client_msg_id: id.into(),
        }))
    };
    assert_eq!(
        error_code(&forward(doc_msg.seq, "fwd-doc").await.unwrap_err()),
        ErrorCode::FileExpired
    );
    // The image, still kept, forwards: the refusal is about expiry, not about forwarding files.
    let copied = forward(image_msg.seq, "fwd-img").await.unwrap();
    assert!(matches!(copied, Reply::Forward { .. }), "{copied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_streams_multipart_and_reports_an_outage() {
    let mut s3 = sendjay_testkit::S3Server::start("sendjay-test").await;
    // object_store reads credentials from the standard environment; moto accepts any.
    std::env::set_var("AWS_ACCESS_KEY_ID", sendjay_testkit::s3::ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", sendjay_testkit::s3::SECRET_KEY);
    let endpoint = s3.endpoint();
    let url = format!("s3://{}/cluster-a", s3.bucket());
    let cluster = TestCluster::start_with(2, |c| {
        c.files_url = url.clone();
        c.files_s3_endpoint = Some(endpoint.clone());
    })
    .await;
    cluster.users(&["alice", "bob"]).await;
    let team = cluster.room(&["alice", "bob"]).await;
    let token = cluster.token("alice", DeviceClass::Web);
    let bob_token = cluster.token("bob", DeviceClass::Web);
    let alice = cluster.connect(0, "alice").await;

    // 11 MiB: three parts of a multipart upload.
    let body: Vec<u8> = (0..11 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let up = http::send(
        cluster.nodes[0].addr,
        http::upload(
            &token,
            team,
            "video.bin",
            "application/octet-stream",
            body.clone(),
        ),
    )
    .await;
    assert_eq!(
        up.status(),
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(up.body())
    );
    let meta = json(&up);
    send_file(&alice, team, "v", MessageKind::File, info_of(&meta))
        .await
        .unwrap();
    let path = format!("/v1/files/{}", meta["file_id"].as_str().unwrap());
    let whole = http::send(
        cluster.nodes[1].addr,
        http::get(&path, Some(&bob_token), &[]),
    )
    .await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert!(
        whole.body().as_ref() == body.as_slice(),
        "the bytes come back unchanged through the other node"
    );
    let part = http::send(
        cluster.nodes[1].addr,
        http::get(
            &path,
            Some(&bob_token),
            &[("range", "bytes=6000000-6000099")],
        ),
    )
    .await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body().as_ref(), &body[6_000_000..6_000_100]);

    // Storage goes away: uploads fail fast with storage_unavailable, chat goes on.
    s3.stop();
    let started = std::time::Instant::now();
    let r = http::send(
        cluster.nodes[0].addr,
        http::upload(&token, team, "b.txt", "text/plain", b"hello".to_vec()),
    )
    .await;
    assert_eq!(
        (r.status(), json(&r)["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("storage_unavailable"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused in {:?}",
        started.elapsed()
    );
    support::send(
        &alice,
        team,
        "still-chatting",
        "storage is down but chat works",
    )
    .await;
    let servable: i64 = cluster
        .db()
        .query_one(
            "SELECT count(*) FROM files WHERE state IN ('uploaded', 'sent')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        servable, 1,
        "the failed upload is not servable (its 'uploading' row is left for the sweeper)"
    );
}

/// Sends an upload whose body arrives in separate small frames, as a browser's upload does.
async fn upload_in_frames(
    addr: std::net::SocketAddr,
    token: &str,
    room: i64,
    bytes: Vec<u8>,
    frame_len: usize,
) -> hyper::Response<Bytes> {
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let len = bytes.len();
    tokio::spawn(async move {
        for chunk in bytes.chunks(frame_len) {
            // A pause between frames keeps them apart on the wire, so the node reads them one by one.
            tokio::time::sleep(Duration::from_millis(2)).await;
            if tx.send(Bytes::copy_from_slice(chunk)).await.is_err() {
                return;
            }
        }
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
    })
    .boxed();
    let req = Request::post(format!("/v1/files?room_id={room}&name=frames.png"))
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "image/png")
        .header("content-length", len.to_string())
        .body(StreamBody::new(frames))
        .unwrap();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(req).await.expect("HTTP request");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    hyper::Response::from_parts(parts, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_arriving_in_small_frames_is_read_whole() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "bob"]).await;
    let team = cluster.room(&["alice", "bob"]).await;
    let token = cluster.token("alice", DeviceClass::Web);
    // Noise does not compress: the PNG is far longer than the 8 KiB sniff window, so the first frames are
    // read before the type is known (the case a browser's upload hit: `bad_image` for a good PNG).
    let img = image::RgbImage::from_fn(96, 96, |x, y| {
        let h = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(97);
        image::Rgb([h as u8, (h >> 8) as u8, (h >> 16) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    let bytes = out.into_inner();
    assert!(
        bytes.len() > 3 * 8192,
        "the test image must span several sniff windows"
    );
    let up = upload_in_frames(cluster.nodes[0].addr, &token, team, bytes.clone(), 1000).await;
    assert_eq!(
        up.status(),
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(up.body())
    );
    let meta = json(&up);
    assert_eq!(meta["mime"], "image/png");
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64()),
        (Some(96), Some(96))
    );
    assert_eq!(meta["size"].as_u64(), Some(bytes.len() as u64));
}

/// A file transfer takes as long as the file needs: neither a slow upload nor a slow download is cut at the
/// handshake deadline (which bounds only the request head and the WebSocket upgrade). Found by the files-mixed
/// load scenario, where every transfer longer than 10 s was cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_outlast_the_handshake_deadline() {
    use futures_util::StreamExt;

    let cluster = TestCluster::start_with(1, |c| c.handshake_timeout_secs = 1).await;
    cluster.users(&["alice", "bob"]).await;
    let team = cluster.room(&["alice", "bob"]).await;
    let token = cluster.token("alice", DeviceClass::Web);
    let url = format!("http://{}", cluster.nodes[0].addr);
    const CHUNK: usize = 2 * 1024 * 1024;
    const CHUNKS: usize = 16;
    let block = Bytes::from((0..CHUNK).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
    // 32 MiB in 16 pieces 150 ms apart: about 2.4 s, past the 1 s deadline.
    let slow = futures_util::stream::iter(0..CHUNKS).then(move |_| {
        let block = block.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok::<_, std::io::Error>(block)
        }
    });
    let started = tokio::time::Instant::now();
    let up = sendjay_client::files::upload(
        &url,
        &token,
        team,
        "slow.bin",
        "application/octet-stream",
        Some((CHUNK * CHUNKS) as u64),
        slow,
    )
    .await
    .expect("a slow upload is stored");
    assert!(started.elapsed() > Duration::from_secs(2));
    assert_eq!(up.size as usize, CHUNK * CHUNKS);

    // The download stalls 2 s after its first piece (the socket buffers cannot hold 32 MiB).
    let mut down = sendjay_client::files::download(&url, &token, &up.file_id, None)
        .await
        .expect("download starts");
    let mut got = down.chunk().await.unwrap().expect("a first piece").len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Some(c) = down.chunk().await.expect("the download is not cut off") {
        got += c.len();
    }
    assert_eq!(got, CHUNK * CHUNKS);
    assert_eq!(
        down.etag,
        up.sha256.as_ref().map(|s| format!("\"{s}\"")),
        "ETag is the upload's SHA-256"
    );

    // A connection that only sends half a request head is still closed at the deadline.
    let mut idle = tokio::net::TcpStream::connect(cluster.nodes[0].addr)
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    idle.write_all(b"GET /v1/files/x HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a half request head is closed at the deadline: {closed:?}"
    );
}

/// `SENDJAY_FILES_MAX_MB_PER_SEC` paces a node's file bytes, uploads and downloads alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_bytes_move_at_the_configured_pace() {
    let cluster = TestCluster::start_with(1, |c| c.files_max_mb_per_sec = 4.0).await;
    cluster.users(&["alice", "bob"]).await;
    let team = cluster.room(&["alice", "bob"]).await;
    let token = cluster.token("alice", DeviceClass::Web);
    let url = format!("http://{}", cluster.nodes[0].addr);
    let bytes = Bytes::from(vec![42u8; 4_000_000]);
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
    let started = tokio::time::Instant::now();
    let up = sendjay_client::files::upload(
        &url,
        &token,
        team,
        "paced.bin",
        "application/octet-stream",
        Some(4_000_000),
        body,
    )
    .await
    .expect("upload");
    let took = started.elapsed();
    // 4 MB at 4 MB/s: about 1 s (less the 50 ms burst).
    assert!(took >= Duration::from_millis(900), "upload took {took:?}");
    let started = tokio::time::Instant::now();
    let got = sendjay_client::files::download(&url, &token, &up.file_id, None)
        .await
        .expect("download")
        .discard()
        .await
        .expect("whole download");
    let took = started.elapsed();
    assert_eq!(got, 4_000_000);
    assert!(took >= Duration::from_millis(900), "download took {took:?}");
}
