//! The router serving the built web app (`SENDJAY_WEB_DIR`) against real PostgreSQL and Redis: content types,
//! caching, security headers, the single-page-app fallback, and no way out of the directory.

use std::path::PathBuf;

use sendjay_router::{RouterConfig, RunningRouter};
use sendjay_testkit::RedisServer;

const SECRET: &str = "router-test-secret-router-test-secret";

/// A web app directory inside a private temporary directory, next to a file that must never be served.
struct AppDir {
    base: PathBuf,
    dist: PathBuf,
}

impl AppDir {
    fn create() -> AppDir {
        let base = std::env::temp_dir().join(format!(
            "sendjay-web-app-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let dist = base.join("dist");
        std::fs::create_dir_all(dist.join("assets")).unwrap();
        std::fs::write(dist.join("index.html"), "<!doctype html><title>app</title>").unwrap();
        std::fs::write(dist.join("assets/index-AbC123.js"), "console.log(1)").unwrap();
        std::fs::write(dist.join("assets/index-AbC123.css"), "body{}").unwrap();
        std::fs::write(dist.join("favicon.svg"), "<svg/>").unwrap();
        std::fs::write(dist.join(".env"), "HIDDEN").unwrap();
        std::fs::write(base.join("secret.txt"), "SECRET").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), dist.join("link.txt")).unwrap();
        AppDir { base, dist }
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one raw HTTP/1.1 request (the path exactly as given, not normalised by a client library).
async fn request(router: &RunningRouter, method: &str, path: &str) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn router(web_dir: Option<PathBuf>) -> (RunningRouter, RedisServer) {
    let database_url = sendjay_testkit::postgres().await.fresh_database().await;
    let redis = RedisServer::start().await;
    let mut config = RouterConfig::with_required(&database_url, &redis.url(), SECRET);
    config.web_dir = web_dir;
    (sendjay_router::start(config).await.unwrap(), redis)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_app_with_types_caching_and_security_headers() {
    let app = AppDir::create();
    let (router, _redis) = router(Some(app.dist.clone())).await;

    let index = request(&router, "GET", "/").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.body, "<!doctype html><title>app</title>");
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    let csp = index.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("connect-src 'self' ws: wss:"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let js = request(&router, "GET", "/assets/index-AbC123.js").await;
    assert_eq!((js.status, js.body.as_str()), (200, "console.log(1)"));
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        js.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(js.header("x-content-type-options"), Some("nosniff"));
    let css = request(&router, "GET", "/assets/index-AbC123.css").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let svg = request(&router, "GET", "/favicon.svg").await;
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert_eq!(svg.header("cache-control"), Some("no-cache"));

    // A screen of the single-page app (no file extension) gets index.html; a missing file does not.
    for screen in ["/rooms/12", "/settings", "/index.html"] {
        let page = request(&router, "GET", screen).await;
        assert_eq!(page.status, 200, "{screen}");
        assert_eq!(page.body, "<!doctype html><title>app</title>", "{screen}");
        assert_eq!(page.header("cache-control"), Some("no-cache"), "{screen}");
    }
    let missing = request(&router, "GET", "/assets/gone-123.js").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let head = request(&router, "HEAD", "/").await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    // The API keeps its JSON answers.
    let api = request(&router, "GET", "/v1/nothing").await;
    assert_eq!(api.status, 404);
    assert!(api.body.contains("\"not_found\""), "{}", api.body);
    let ready = request(&router, "GET", "/healthz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ok\n"));
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_leaves_the_directory() {
    let app = AppDir::create();
    let (router, _redis) = router(Some(app.dist.clone())).await;
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/.env",
        "/link.txt",
        "/%00",
    ] {
        let answer = request(&router, "GET", path).await;
        assert!(
            !answer.body.contains("SECRET") && !answer.body.contains("HIDDEN"),
            "{path} leaked: {} {}",
            answer.status,
            answer.body
        );
        assert!(
            matches!(answer.status, 400 | 404),
            "{path}: {} {}",
            answer.status,
            answer.body
        );
    }
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_web_dir_the_root_says_how_to_set_one() {
    let (router, _redis) = router(None).await;
    let root = request(&router, "GET", "/").await;
    assert_eq!(root.status, 404);
    assert!(root.body.contains("SENDJAY_WEB_DIR"), "{}", root.body);

    let app = AppDir::create();
    let empty = app.base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut config =
        RouterConfig::with_required("postgres://x@127.0.0.1/x", "redis://127.0.0.1:1", SECRET);
    config.web_dir = Some(empty);
    let refused = config.validate().unwrap_err().to_string();
    assert!(refused.contains("SENDJAY_WEB_DIR"), "{refused}");
    router.stop().await;
}
