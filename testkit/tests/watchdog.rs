//! The servers go away with the test process, even though the PostgreSQL lives in a never-dropped static and
//! even when the process is killed: this test runs a copy of itself as a child process, lets it start both
//! servers, ends it, and checks that the ports close and the directories disappear.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sendjay_testkit::{postgres, RedisServer};

const REPORT_ENV: &str = "SENDJAY_TESTKIT_WATCHDOG_REPORT";
const MODE_ENV: &str = "SENDJAY_TESTKIT_WATCHDOG_MODE";

/// Only does something inside the child process: starts the servers, reports them, then exits or hangs.
#[tokio::test]
async fn child_process() {
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        return;
    };
    let pg = postgres().await;
    let redis = RedisServer::start().await;
    let text = format!(
        "{}\n{}\n{}\n{}\n",
        pg.port(),
        pg.dir().display(),
        redis.port(),
        redis.dir().display()
    );
    let tmp = PathBuf::from(&report).with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &report).unwrap();
    if std::env::var(MODE_ENV).as_deref() == Ok("hang") {
        // Wait to be killed with SIGKILL: no destructor, no atexit.
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // A normal exit, but with Redis leaked as if its owner never got dropped.
    std::mem::forget(redis);
}

struct Report {
    pg_port: u16,
    pg_dir: PathBuf,
    redis_port: u16,
    redis_dir: PathBuf,
}

fn run_child(mode: &str) -> Report {
    let scratch = tempfile::tempdir().unwrap();
    let report_path = scratch.path().join("report");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process", "--test-threads=1"])
        .env(REPORT_ENV, &report_path)
        .env(MODE_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !report_path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child test process exited with {status} before reporting");
        }
        assert!(
            Instant::now() < deadline,
            "the child test process did not report within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&report_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let report = Report {
        pg_port: lines[0].parse().unwrap(),
        pg_dir: PathBuf::from(lines[1]),
        redis_port: lines[2].parse().unwrap(),
        redis_dir: PathBuf::from(lines[3]),
    };
    assert!(listening(report.pg_port) && listening(report.redis_port));
    assert!(report.pg_dir.exists() && report.redis_dir.exists());
    if mode == "hang" {
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    if mode != "hang" {
        assert!(status.success(), "the child test process failed: {status}");
    }
    report
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn assert_cleaned_up(report: &Report) {
    let gone = |port: u16, dir: &Path| !listening(port) && !dir.exists();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(gone(report.pg_port, &report.pg_dir) && gone(report.redis_port, &report.redis_dir)) {
        assert!(
            Instant::now() < deadline,
            "30 s after the test process ended: postgres on {} listening={} dir {} exists={}; \
             redis on {} listening={} dir {} exists={}",
            report.pg_port,
            listening(report.pg_port),
            report.pg_dir.display(),
            report.pg_dir.exists(),
            report.redis_port,
            listening(report.redis_port),
            report.redis_dir.display(),
            report.redis_dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn servers_stop_when_the_process_exits() {
    if std::env::var_os(REPORT_ENV).is_some() {
        return;
    }
    assert_cleaned_up(&run_child("exit"));
}

#[test]
fn servers_stop_when_the_process_is_killed() {
    if std::env::var_os(REPORT_ENV).is_some() {
        return;
    }
    assert_cleaned_up(&run_child("hang"));
}
