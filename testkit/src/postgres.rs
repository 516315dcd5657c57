//! The process-wide private PostgreSQL server and the per-test databases cloned from a migrated template.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

use crate::{euid, find_on_path, free_port, is_executable, log_tail, spawn_watchdog};

/// The database that holds the migrated schema every fresh database is cloned from.
const TEMPLATE_DB: &str = "sendjay_template";
/// The superuser role `initdb` creates (`-U`), whatever OS user runs it.
const SUPERUSER: &str = "postgres";
/// The OS user that runs `initdb` and the server when the tests run as root (PostgreSQL refuses root).
const OS_USER: &str = "postgres";
/// How long to wait for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How many ports to try when the server fails to start (another process may grab a port we picked).
const START_ATTEMPTS: usize = 3;

/// The watchdog's cleanup: `$2` data dir, `$3` pg_ctl, `$4` base dir to remove, `$5` runuser path or empty.
const CLEANUP: &str = r#"
if [ -f "$2/postmaster.pid" ]; then
    if [ -n "$5" ]; then
        "$5" -u postgres -- "$3" stop -D "$2" -m immediate -w -t 20 -s
    else
        "$3" stop -D "$2" -m immediate -w -t 20 -s
    fi
    if [ -f "$2/postmaster.pid" ]; then
        kill -9 "$(head -n 1 "$2/postmaster.pid")"
    fi
fi
rm -rf "$4"
"#;

static SERVER: OnceCell<Result<PgServer, String>> = OnceCell::const_new();
static DB_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A private PostgreSQL server on 127.0.0.1 with trust authentication, owned by this test process.
#[derive(Debug)]
pub struct PgServer {
    port: u16,
    dir: PathBuf,
}

/// Process-wide private PostgreSQL server, started on first use, stopped when the test process exits.
///
/// Panics, with the same message in every test, if the server cannot be started.
pub async fn postgres() -> &'static PgServer {
    match SERVER.get_or_init(start).await {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

impl PgServer {
    /// The TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `db` as the superuser `postgres` (no password: trust authentication).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The temporary directory holding the data directory (`data/`), the socket and `postgres.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates a brand-new database with the sendjay schema applied and returns its URL.
    ///
    /// Cheap: the database is a copy of a template migrated once per process.
    pub async fn fresh_database(&self) -> String {
        let name = format!(
            "sendjay_test_{}_{}",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) = self.connect("postgres").await.unwrap_or_else(|e| {
            panic!(
                "cannot connect to the private PostgreSQL at {}: {e}; see its log {}",
                self.url("postgres"),
                self.log().display()
            )
        });
        client
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot create test database {name} from {TEMPLATE_DB}: {e}; see the log {}",
                    self.log().display()
                )
            });
        drop(client);
        let _ = connection.await;
        self.url(&name)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Connects to `db` and drives the connection on the current runtime.
    async fn connect(&self, db: &str) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(&self.url(db), NoTls).await?;
        let handle = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok((client, handle))
    }

    async fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let error = match self.connect("postgres").await {
                Ok((client, connection)) => match client.simple_query("SELECT 1").await {
                    Ok(_) => {
                        drop(client);
                        let _ = connection.await;
                        return Ok(());
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "the private PostgreSQL at {} did not accept connections within {READY_TIMEOUT:?}: {error}; \
                     see its log {}:\n{}",
                    self.url("postgres"),
                    self.log().display(),
                    log_tail(&self.log(), 2000)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates the template database and applies the sendjay migrations to it.
    async fn create_template(&self) -> Result<(), String> {
        let connect_error = |e: tokio_postgres::Error| {
            format!(
                "cannot connect to the private PostgreSQL at port {}: {e}; see its log {}",
                self.port,
                self.log().display()
            )
        };
        let sql_error = |e: tokio_postgres::Error| {
            format!(
                "cannot prepare the template database {TEMPLATE_DB}: {e}; see the log {}",
                self.log().display()
            )
        };
        let (admin, admin_connection) = self.connect("postgres").await.map_err(connect_error)?;
        admin
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE_DB}"))
            .await
            .map_err(sql_error)?;
        let (mut client, connection) = self.connect(TEMPLATE_DB).await.map_err(connect_error)?;
        sendjay_common::migrate::migrate(&mut client)
            .await
            .map_err(|e| format!("migrating the template database {TEMPLATE_DB} failed: {e}"))?;
        drop(client);
        let _ = connection.await;
        // No test may connect to the template by accident: CREATE DATABASE … TEMPLATE needs it idle.
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {TEMPLATE_DB} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            ))
            .await
            .map_err(sql_error)?;
        drop(admin);
        let _ = admin_connection.await;
        Ok(())
    }
}

async fn start() -> Result<PgServer, String> {
    let (port, dir) = match tokio::task::spawn_blocking(start_blocking).await {
        Ok(started) => started?,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            return Err(format!(
                "the PostgreSQL startup task was cancelled: {e}; run the test again"
            ))
        }
    };
    let server = PgServer { port, dir };
    server.wait_ready().await?;
    server.create_template().await?;
    Ok(server)
}

/// Runs `initdb` and `pg_ctl start` in a fresh temporary directory; returns the port and the directory.
// The watchdog is never waited for, on success or failure: it must outlive this process to clean up after it.
#[allow(clippy::zombie_processes)]
fn start_blocking() -> Result<(u16, PathBuf), String> {
    let bin = find_bin_dir()?;
    let run_as = if euid() == 0 {
        Some(RunAs::postgres()?)
    } else {
        None
    };
    let base = tempfile::Builder::new()
        .prefix("sendjay-pg-")
        .tempdir()
        .map_err(|e| {
            format!(
                "cannot create a temporary directory in {}: {e}; free some space or point TMPDIR at a writable directory",
                std::env::temp_dir().display()
            )
        })?
        .keep();
    let data = base.join("data");
    let sock = base.join("sock");
    let log = base.join("postgres.log");
    let pg_ctl = bin.join("pg_ctl");

    // First of all, so that the server and the directory go away with this process whatever happens below.
    let runuser = run_as
        .as_ref()
        .map_or(OsStr::new(""), |r| r.runuser.as_os_str());
    spawn_watchdog(
        CLEANUP,
        &[
            data.as_os_str(),
            pg_ctl.as_os_str(),
            base.as_os_str(),
            runuser,
        ],
    );

    prepare_dirs(&base, &data, &sock, run_as.as_ref())?;
    if let Some(run_as) = &run_as {
        let reachable = Command::new(&run_as.runuser)
            .args(["-u", OS_USER, "--", "test", "-w"])
            .arg(&data)
            .current_dir(&base)
            .status()
            .map_err(|e| {
                format!(
                    "cannot run {}: {e}; install util-linux or run the tests as a non-root user",
                    run_as.runuser.display()
                )
            })?;
        if !reachable.success() {
            return Err(format!(
                "the `{OS_USER}` OS user cannot write {} (some parent directory is closed to it): \
                 set TMPDIR to a directory every user can enter, e.g. TMPDIR=/tmp",
                data.display()
            ));
        }
    }

    let initdb = bin.join("initdb");
    let out = pg_command(&initdb, run_as.as_ref(), &base)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e}; check the PostgreSQL installation",
                initdb.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}{}; check the PostgreSQL installation and the free space in {}",
            initdb.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            base.display()
        ));
    }
    write_config(&data, &sock)?;

    let mut failures = String::new();
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        let out = pg_command(&pg_ctl, run_as.as_ref(), &base)
            .args(["start", "-w", "-t", "30", "-s", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(format!("-p {port}"))
            .output()
            .map_err(|e| {
                format!(
                    "cannot run {}: {e}; check the PostgreSQL installation",
                    pg_ctl.display()
                )
            })?;
        if out.status.success() {
            return Ok((port, base));
        }
        let _ = writeln!(
            failures,
            "attempt {attempt} on port {port}: {} {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Err(format!(
        "the private PostgreSQL did not start after {START_ATTEMPTS} attempts:\n{failures}\
         see the server log {}:\n{}\ncheck that ports are free and shared memory is available",
        log.display(),
        log_tail(&log, 2000)
    ))
}

/// A command running `program` in `dir`, as the `postgres` OS user when we are root.
fn pg_command(program: &Path, run_as: Option<&RunAs>, dir: &Path) -> Command {
    let mut command = if let Some(run_as) = run_as {
        let mut c = Command::new(&run_as.runuser);
        c.args(["-u", OS_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.current_dir(dir);
    command
}

/// Creates `data/` and `sock/`, opens the base directory to the server's OS user and hands the tree to it.
fn prepare_dirs(
    base: &Path,
    data: &Path,
    sock: &Path,
    owner: Option<&RunAs>,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let fs_error = |path: &Path, e: std::io::Error| {
        format!(
            "cannot prepare {}: {e}; check the permissions and free space of {}",
            path.display(),
            std::env::temp_dir().display()
        )
    };
    for (path, mode) in [(base, 0o755), (data, 0o700), (sock, 0o700)] {
        if path != base {
            std::fs::create_dir(path).map_err(|e| fs_error(path, e))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| fs_error(path, e))?;
        if let Some(owner) = owner {
            std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))
                .map_err(|e| fs_error(path, e))?;
        }
    }
    Ok(())
}

/// Appends the test settings to `postgresql.conf`: loopback only, private socket, speed over durability.
fn write_config(data: &Path, sock: &Path) -> Result<(), String> {
    use std::io::Write;
    let conf = data.join("postgresql.conf");
    let sock = sock.to_string_lossy().replace('\'', "''");
    let settings = format!(
        "\n# sendjay-testkit\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{sock}'\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         max_connections = 300\n"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut f| f.write_all(settings.as_bytes()))
        .map_err(|e| {
            format!(
                "cannot append the test settings to {}: {e}; check the free space",
                conf.display()
            )
        })
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: from `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Result<PathBuf, String> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| is_executable(&dir.join(b)))
    };
    if let Some(initdb) = find_on_path("initdb") {
        // Resolve symlinks such as /usr/local/bin/initdb so pg_ctl and postgres come from the same install.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent().filter(|d| complete(d)) {
            return Ok(dir.to_path_buf());
        }
    }
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = name.to_str().and_then(|n| {
                n.split('.')
                    .map(|p| p.parse().ok())
                    .collect::<Option<Vec<u32>>>()
            }) else {
                continue;
            };
            let bin = entry.path().join("bin");
            let newer = match &best {
                Some((v, _)) => version > *v,
                None => true,
            };
            if newer && complete(&bin) {
                best = Some((version, bin));
            }
        }
    }
    best.map(|(_, bin)| bin).ok_or_else(|| {
        "initdb, pg_ctl and postgres not found on PATH nor in /usr/lib/postgresql/<version>/bin: \
         install PostgreSQL (apt-get install postgresql) or put its bin directory on PATH"
            .to_owned()
    })
}

/// How to run PostgreSQL's programs as the `postgres` OS user, for when the tests run as root.
#[derive(Debug)]
struct RunAs {
    uid: u32,
    gid: u32,
    /// `runuser`, which root uses to run a command as another user without a password.
    runuser: PathBuf,
}

impl RunAs {
    fn postgres() -> Result<RunAs, String> {
        let runuser = find_on_path("runuser")
            .or_else(|| {
                ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|p| is_executable(p))
            })
            .ok_or_else(|| {
                "running as root, but `runuser` (needed to run PostgreSQL as the `postgres` user) is not on PATH \
                 nor in /usr/sbin or /sbin: install util-linux or run the tests as a non-root user"
                    .to_owned()
            })?;
        let (uid, gid) = os_user_ids()?;
        Ok(RunAs { uid, gid, runuser })
    }
}

/// The uid and gid of the `postgres` OS user.
fn os_user_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, OS_USER])
            .output()
            .map_err(|e| format!("cannot run `id`: {e}; install coreutils"))?;
        String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| {
            format!(
                "running as root, but there is no `{OS_USER}` OS user to run PostgreSQL as (it refuses root): \
                 create one (useradd --system {OS_USER}) or run the tests as a non-root user"
            )
        })
    };
    Ok((id("-u")?, id("-g")?))
}
