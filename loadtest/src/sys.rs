//! What the generator reads from Linux's `/proc`: the nodes' processes (found by their listening port), their
//! resident memory and CPU time, the generator's own CPU time, and the open-file limit it raises.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every Linux architecture we run on).
const TICKS_PER_SEC: f64 = 100.0;

/// Whether an address is loopback (127.0.0.0/8 or ::1).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// The host of a `ws://`, `wss://`, `http://` or `https://` URL and its port.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let default = match scheme {
        "ws" | "http" => 80,
        "wss" | "https" => 443,
        _ => return None,
    };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

/// Refuses a target outside 127.0.0.0/8 and ::1 unless `allow` is set.
pub fn check_target(url: &str, allow: bool) -> Result<(), String> {
    let (host, _) = host_port(url).ok_or_else(|| format!("cannot read the host of `{url}`"))?;
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(is_loopback);
    if loopback || allow {
        Ok(())
    } else {
        Err(format!(
            "refusing to load `{url}`: it is not a loopback address (127.0.0.0/8, ::1); \
             pass --allow-non-loopback only for a cluster you own and are allowed to load"
        ))
    }
}

fn listening_inodes(port: u16) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue;
            }
            let local_port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                if let Ok(inode) = cols[9].parse() {
                    inodes.insert(inode);
                }
            }
        }
    }
    inodes
}

fn owns_socket(pid: u32, inodes: &HashSet<u64>) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    dir.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let t = target.to_string_lossy();
            t.strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|i| inodes.contains(&i))
        })
    })
}

/// The process listening on `port` (among `candidates` when given, else among all processes).
pub fn pid_listening_on(port: u16, candidates: &[u32]) -> Option<u32> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    if !candidates.is_empty() {
        return candidates
            .iter()
            .copied()
            .find(|pid| owns_socket(*pid, &inodes));
    }
    let dir = std::fs::read_dir("/proc").ok()?;
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| owns_socket(*pid, &inodes))
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A process's resident set size in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// A process's peak resident set size since it started, KiB (`VmHWM` of `/proc/PID/status`).
pub fn hwm_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// A process's user + system CPU time in seconds (`/proc/PID/stat`, or `self`).
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".into(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// CPU use over time, in cores (1.0 = one core busy).
pub struct CpuMeter {
    pid: Option<u32>,
    last: (Instant, f64),
}

impl CpuMeter {
    /// Starts measuring a process (`None` = the generator itself).
    pub fn new(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            last: (Instant::now(), cpu_secs(pid).unwrap_or(0.0)),
        }
    }

    /// Cores used since the previous call.
    pub fn sample(&mut self) -> f64 {
        let now = (Instant::now(), cpu_secs(self.pid).unwrap_or(self.last.1));
        let wall = now.0.duration_since(self.last.0).as_secs_f64();
        let cores = if wall > 0.0 {
            (now.1 - self.last.1) / wall
        } else {
            0.0
        };
        self.last = now;
        cores.max(0.0)
    }
}

/// Raises the open-file limit so `needed` descriptors fit; returns the soft limit now in force, or why
/// it is too low.
pub fn raise_nofile(needed: u64) -> Result<u64, String> {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE
        .get()
        .map_err(|e| format!("cannot read RLIMIT_NOFILE: {e}"))?;
    if soft >= needed {
        return Ok(soft);
    }
    // Root (CAP_SYS_RESOURCE) may raise the hard limit too; others only the soft one up to the hard.
    if needed > hard && Resource::NOFILE.set(needed, needed).is_ok() {
        return Ok(needed);
    }
    let now = rlimit::increase_nofile_limit(needed).unwrap_or(soft);
    if now >= needed {
        Ok(now)
    } else {
        Err(format!(
            "this run needs about {needed} open files but the limit is {now} (hard {hard}); \
             run `ulimit -n {needed}` (as root, or raise the hard limit in /etc/security/limits.conf) and retry"
        ))
    }
}

/// The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`).
pub fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().filter_map(|p| p.parse::<u64>().ok());
            Some(it.next()?..=it.next()?)
        })
        .map_or(28_232, |r| r.end() - r.start() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_refuses_non_loopback() {
        assert_eq!(
            host_port("ws://127.0.0.1:7411/v1/ws"),
            Some(("127.0.0.1".into(), 7411))
        );
        assert_eq!(host_port("http://[::1]:80"), Some(("::1".into(), 80)));
        assert_eq!(
            host_port("http://localhost"),
            Some(("localhost".into(), 80))
        );
        assert!(check_target("ws://127.3.2.1:7400/v1/ws", false).is_ok());
        assert!(check_target("http://localhost:7300", false).is_ok());
        assert!(check_target("ws://10.0.0.7:7400/v1/ws", false).is_err());
        assert!(check_target("ws://example.com:7400/v1/ws", false).is_err());
        assert!(check_target("ws://10.0.0.7:7400/v1/ws", true).is_ok());
        assert!(cpu_secs(None).is_some());
        assert!(rss_kib(std::process::id()).is_some());
        assert!(hwm_kib(std::process::id()).is_some());
    }
}
