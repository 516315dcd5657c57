//! The load-test data a scenario runs on: the JSON description printed by
//! `sendjay-router admin seed-load` (a public CLI, run as a subprocess) or read from a file written earlier.

use std::path::Path;

use serde::Deserialize;

/// A range of user numbers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UserRange {
    /// The first user number.
    pub first: u32,
    /// How many.
    pub count: u32,
}

/// A seeded group room.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    /// Room id.
    pub room_id: i64,
    /// Members.
    pub members: UserRange,
}

/// A seeded two-member room.
#[derive(Debug, Clone, Deserialize)]
pub struct Pair {
    /// Room id.
    pub room_id: i64,
    /// The two user numbers.
    pub members: [u32; 2],
}

/// What `seed-load` printed.
#[derive(Debug, Clone, Deserialize)]
pub struct SeedDescription {
    /// User id prefix.
    pub prefix: String,
    /// Digits of the zero-padded user number.
    pub width: usize,
    /// Passkey of every seeded user (minted tokens carry it).
    pub passkey: String,
    /// Password of every seeded user.
    #[serde(default)]
    pub password: String,
    /// The users.
    pub users: UserRange,
    /// Group rooms.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Two-member rooms.
    #[serde(default)]
    pub pairs: Vec<Pair>,
}

/// What a scenario needs seeded (the `[seed]` table of a scenario file).
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SeedNeeds {
    /// User id prefix.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Users.
    #[serde(default)]
    pub users: u32,
    /// Members per group room.
    #[serde(default)]
    pub group_size: u32,
    /// Group rooms.
    #[serde(default)]
    pub groups: u32,
    /// Two-member rooms.
    #[serde(default)]
    pub pairs: u32,
}

fn default_prefix() -> String {
    "lt".into()
}

impl SeedDescription {
    /// User `n`'s id.
    pub fn user_id(&self, n: u32) -> String {
        format!("{}-{:0width$}", self.prefix, n, width = self.width)
    }

    /// Checks that the description holds at least what a scenario needs.
    pub fn covers(&self, needs: &SeedNeeds) -> Result<(), String> {
        let groups = self
            .groups
            .iter()
            .filter(|g| g.members.count == needs.group_size)
            .count();
        if self.users.count < needs.users
            || (needs.groups > 0 && groups < needs.groups as usize)
            || self.pairs.len() < needs.pairs as usize
        {
            return Err(format!(
                "the seed has {} users, {} groups of {} and {} pairs; the scenario needs {} users, {} groups of {} and {} pairs",
                self.users.count, groups, needs.group_size, self.pairs.len(), needs.users, needs.groups,
                needs.group_size, needs.pairs
            ));
        }
        Ok(())
    }

    /// The first `n` groups of size `k`: (room id, member numbers).
    pub fn groups_of(&self, k: u32, n: u32) -> Vec<(i64, Vec<u32>)> {
        self.groups
            .iter()
            .filter(|g| g.members.count == k)
            .take(n as usize)
            .map(|g| {
                (
                    g.room_id,
                    (g.members.first..g.members.first + g.members.count).collect(),
                )
            })
            .collect()
    }

    /// The first `n` pairs: (room id, member numbers).
    pub fn pairs_of(&self, n: u32) -> Vec<(i64, Vec<u32>)> {
        self.pairs
            .iter()
            .take(n as usize)
            .map(|p| (p.room_id, p.members.to_vec()))
            .collect()
    }
}

/// Reads a description written earlier (`sendjay-router admin seed-load ... > seed.json`).
pub fn read_file(path: &Path) -> Result<SeedDescription, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read seed file {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "seed file {} is not a seed-load description: {e}",
            path.display()
        )
    })
}

/// Runs `<command> admin seed-load --database-url URL --prefix P --users N ...` and reads its output.
pub async fn run_seed_command(
    command: &str,
    database_url: &str,
    needs: &SeedNeeds,
) -> Result<SeedDescription, String> {
    // A blocking std child on a blocking thread: independent of how the caller's shell set up SIGCHLD.
    let mut cmd = std::process::Command::new(command);
    cmd.args(["admin", "seed-load", "--database-url", database_url])
        .args(["--prefix", &needs.prefix])
        .args(["--users", &needs.users.to_string()])
        .args(["--group-size", &needs.group_size.to_string()])
        .args(["--groups", &needs.groups.to_string()])
        .args(["--pairs", &needs.pairs.to_string()])
        .stdin(std::process::Stdio::null());
    let owned = command.to_owned();
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| format!("seed command task failed: {e}"))?
        .map_err(|e| {
            format!(
                "cannot run the seed command `{owned}`: {e}; build it (cargo build --release -p sendjay-router) \
                 or pass --seed-command PATH or --seed-file FILE"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`{command} admin seed-load` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).map_err(|e| format!("unreadable seed-load output ({e}): {stdout}"))
}
