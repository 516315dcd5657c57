//! `sendjay-router admin import`: loads the organisation tree and the users from an HR export (one JSON file,
//! or a units CSV and a users CSV) and makes the database match it.
//!
//! * **Idempotent**: rows equal to the file are not written; a second run reports everything unchanged.
//! * **Reports** every change (created, updated with the field names, deactivated, retired, reactivated) as JSON
//!   on stdout.
//! * **Partial columns**: a field missing from the file (no CSV column, no JSON key) is left as it is, so an HR
//!   export without nicknames does not wipe the status lines users set themselves. An empty value clears it.
//! * **Retiring** users (and deactivating units) missing from the file happens only with `--retire-missing`,
//!   and never from a file that lists no users (or no units), so an empty export cannot retire everybody.
//! * **All or nothing**: one transaction; any invalid row aborts with its line number and changes nothing.
//!   `--dry-run` reports what would change and rolls back.
//! * With `--redis-url`, the sessions of users retired by the import are closed on every node (close 4004).
//!
//! New users get a fresh passkey and, with `--default-password`, that password (hashed once); without it they
//! cannot log in with a password until one is set.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use clap::Args;
use deadpool_postgres::Pool;
use sendjay_common::protocol::ProfilePatch;
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use sendjay_router::error::RouterError;

/// Arguments of `admin import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    pub database_url: String,
    /// A JSON file `{"units": [...], "users": [...]}` (see docs/protocol.md, "Directory import").
    #[arg(long, conflicts_with_all = ["units", "users"], required_unless_present_any = ["units", "users"])]
    pub file: Option<PathBuf>,
    /// A CSV of units with a header row: `id,parent_id,name[,sort_order]`.
    #[arg(long)]
    pub units: Option<PathBuf>,
    /// A CSV of users with a header row: `id,name[,unit_id,nickname,job,phone,absence_code,absence_text,
    /// absence_from,absence_to,role,sort_order,retired_at]`.
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Retire users (and deactivate units) that exist in the database but not in the file.
    #[arg(long)]
    pub retire_missing: bool,
    /// Report what would change without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Password of the users this import creates (hashed once for all of them).
    #[arg(long, env = "SENDJAY_IMPORT_DEFAULT_PASSWORD", hide_env_values = true)]
    pub default_password: Option<String>,
    /// Redis URL, to close the sessions of users retired by this import.
    #[arg(long, env = "SENDJAY_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of the cluster's Redis keys and channels.
    #[arg(long, env = "SENDJAY_REDIS_PREFIX", default_value = "sj")]
    pub redis_prefix: String,
}

/// One unit of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UnitRow {
    /// The HR system's code.
    pub id: String,
    /// The parent's code; none or empty for a top-level unit.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The name.
    pub name: String,
    /// Position among siblings.
    #[serde(default)]
    pub sort_order: Option<i32>,
}

/// One user of the file; `None` fields are left as they are in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserRow {
    /// The user id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The unit's code; empty for none.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Nickname or status line.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Job description.
    #[serde(default)]
    pub job: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Absence code.
    #[serde(default)]
    pub absence_code: Option<String>,
    /// Absence text.
    #[serde(default)]
    pub absence_text: Option<String>,
    /// First day of absence, `YYYY-MM-DD`, or empty.
    #[serde(default)]
    pub absence_from: Option<String>,
    /// Last day of absence, `YYYY-MM-DD`, or empty.
    #[serde(default)]
    pub absence_to: Option<String>,
    /// `user` or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// Position in unit listings (informational).
    #[serde(default)]
    pub sort_order: Option<i32>,
    /// Retirement date (`YYYY-MM-DD` or RFC 3339); empty means active.
    #[serde(default)]
    pub retired_at: Option<String>,
}

impl UserRow {
    /// The directory fields of the row, as `update_profile` would change them (surrounding blanks trimmed from
    /// dates, so a CSV cell " " clears like an empty one).
    pub fn profile(&self) -> ProfilePatch {
        let trimmed = |v: &Option<String>| v.as_deref().map(|d| d.trim().to_owned());
        ProfilePatch {
            nickname: self.nickname.clone(),
            job: self.job.clone(),
            phone: self.phone.clone(),
            absence_code: self.absence_code.clone(),
            absence_text: self.absence_text.clone(),
            absence_from: trimmed(&self.absence_from),
            absence_to: trimmed(&self.absence_to),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OrgFile {
    /// Units (parents may come after children).
    #[serde(default)]
    pub units: Vec<UnitRow>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserRow>,
}

/// Counts of one entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Inserted.
    pub created: usize,
    /// Changed.
    pub updated: usize,
    /// Equal to the file.
    pub unchanged: usize,
    /// Units marked not in use (missing from the file, `--retire-missing`).
    pub deactivated: usize,
    /// Users retired (by a date in the file, or missing with `--retire-missing`).
    pub retired: usize,
    /// Retired users the file lists as active again.
    pub reactivated: usize,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `unit` or `user`.
    pub entity: &'static str,
    /// Its id.
    pub id: String,
    /// `created`, `updated`, `deactivated`, `retired` or `reactivated`.
    pub action: &'static str,
    /// For `updated`: the fields that changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Nothing was committed.
    pub dry_run: bool,
    /// Units.
    pub units: Counts,
    /// Users.
    pub users: Counts,
    /// Every change, units first.
    pub changes: Vec<Change>,
    /// Users whose sessions were told to close (needs `--redis-url`).
    pub sessions_closed: usize,
}

/// The advisory lock that serialises imports ("sendjay" and 2).
const IMPORT_LOCK_KEY: i64 = 0x7365_6e64_6a61_7902;

/// A row that cannot be imported.
fn invalid(what: String) -> RouterError {
    RouterError::Config(format!("import refused, nothing changed: {what}"))
}

// ---------------------------------------------------------------------------------------------------------
// Reading files

/// Parses CSV (RFC 4180: quoted fields, `""` escapes, CRLF or LF, a UTF-8 BOM) into rows of fields.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => return Err(format!("line {line}: a quote inside an unquoted field")),
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                } else {
                    row.clear();
                }
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: unterminated quoted field"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// A CSV record: its 1-based line number and its values by (lower-cased) column name.
type CsvRecord = (usize, HashMap<String, String>);

/// CSV rows as maps from header to value, with the 1-based line number of each record.
fn csv_records(text: &str, what: &str) -> Result<Vec<CsvRecord>, RouterError> {
    let rows = parse_csv(text).map_err(|e| invalid(format!("{what}: {e}")))?;
    let Some((header, records)) = rows.split_first() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut out = Vec::new();
    for (i, record) in records.iter().enumerate() {
        if record.len() != header.len() {
            return Err(invalid(format!(
                "{what} record {}: {} fields, the header has {}",
                i + 1,
                record.len(),
                header.len()
            )));
        }
        let map = header.iter().cloned().zip(record.iter().cloned()).collect();
        out.push((i + 2, map));
    }
    Ok(out)
}

fn required(map: &HashMap<String, String>, key: &str, at: &str) -> Result<String, RouterError> {
    map.get(key)
        .cloned()
        .ok_or_else(|| invalid(format!("{at}: the `{key}` column is required")))
}

fn int(map: &HashMap<String, String>, key: &str, at: &str) -> Result<Option<i32>, RouterError> {
    match map.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{at}: `{key}` must be an integer, not {v:?}"))),
    }
}

/// Reads the units CSV.
pub fn units_from_csv(text: &str) -> Result<Vec<UnitRow>, RouterError> {
    csv_records(text, "units")?
        .into_iter()
        .map(|(line, map)| {
            let at = format!("units line {line}");
            Ok(UnitRow {
                id: required(&map, "id", &at)?,
                parent_id: map.get("parent_id").cloned(),
                name: required(&map, "name", &at)?,
                sort_order: int(&map, "sort_order", &at)?,
            })
        })
        .collect()
}

/// Reads the users CSV.
pub fn users_from_csv(text: &str) -> Result<Vec<UserRow>, RouterError> {
    csv_records(text, "users")?
        .into_iter()
        .map(|(line, map)| {
            let at = format!("users line {line}");
            let get = |k: &str| map.get(k).cloned();
            Ok(UserRow {
                id: required(&map, "id", &at)?,
                name: required(&map, "name", &at)?,
                unit_id: get("unit_id"),
                nickname: get("nickname"),
                job: get("job"),
                phone: get("phone"),
                absence_code: get("absence_code"),
                absence_text: get("absence_text"),
                absence_from: get("absence_from"),
                absence_to: get("absence_to"),
                role: get("role"),
                sort_order: int(&map, "sort_order", &at)?,
                retired_at: get("retired_at"),
            })
        })
        .collect()
}

/// Reads what the arguments name.
pub fn read_input(args: &ImportArgs) -> Result<OrgFile, RouterError> {
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p)
            .map_err(|e| RouterError::Config(format!("cannot read {}: {e}", p.display())))
    };
    if let Some(path) = &args.file {
        return serde_json::from_str(&read(path)?)
            .map_err(|e| invalid(format!("{}: {e}", path.display())));
    }
    Ok(OrgFile {
        units: match &args.units {
            Some(p) => units_from_csv(&read(p)?)?,
            None => Vec::new(),
        },
        users: match &args.users {
            Some(p) => users_from_csv(&read(p)?)?,
            None => Vec::new(),
        },
    })
}

// ---------------------------------------------------------------------------------------------------------
// Checking the file

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn check_text(value: &str, what: String, max: usize) -> Result<(), RouterError> {
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what}: at most {max} characters, no control characters"
        )));
    }
    Ok(())
}

/// Validates rows and the tree (parents known, no cycles) against the units already stored.
fn check_file(
    file: &OrgFile,
    stored_parents: &HashMap<String, Option<String>>,
) -> Result<(), RouterError> {
    let mut ids = HashSet::new();
    for (i, u) in file.units.iter().enumerate() {
        let at = format!("unit #{} ({})", i + 1, u.id);
        if u.id.is_empty() || u.id.len() > 64 || !u.id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(format!(
                "{at}: id must be 1 to 64 printable ASCII characters"
            )));
        }
        if !ids.insert(u.id.as_str()) {
            return Err(invalid(format!("{at}: listed twice")));
        }
        if u.name.trim().is_empty() {
            return Err(invalid(format!("{at}: name is empty")));
        }
        check_text(&u.name, format!("{at}: name"), 100)?;
    }
    // The tree after the import: stored units, overridden by the file.
    let mut parents: HashMap<&str, Option<&str>> = stored_parents
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    for u in &file.units {
        parents.insert(&u.id, blank(&u.parent_id));
    }
    for u in &file.units {
        let mut seen = HashSet::new();
        let mut at = u.id.as_str();
        while let Some(parent) = parents.get(at).copied().flatten() {
            if !parents.contains_key(parent) {
                return Err(invalid(format!(
                    "unit {}: parent {parent} does not exist",
                    u.id
                )));
            }
            if !seen.insert(parent) || parent == u.id {
                return Err(invalid(format!("unit {}: its parents form a cycle", u.id)));
            }
            at = parent;
        }
    }
    let mut user_ids = HashSet::new();
    for (i, u) in file.users.iter().enumerate() {
        let at = format!("user #{} ({})", i + 1, u.id);
        sendjay_common::ids::validate_user_id(&u.id).map_err(|e| invalid(format!("{at}: {e}")))?;
        if !user_ids.insert(u.id.as_str()) {
            return Err(invalid(format!("{at}: listed twice")));
        }
        if u.name.trim().is_empty() {
            return Err(invalid(format!("{at}: name is empty")));
        }
        check_text(&u.name, format!("{at}: name"), 100)?;
        sendjay_common::profile::check_profile(&u.profile())
            .map_err(|why| invalid(format!("{at}: {why}")))?;
        if let Some(unit) = blank(&u.unit_id) {
            if !parents.contains_key(unit) {
                return Err(invalid(format!("{at}: unit {unit} does not exist")));
            }
        }
        if let Some(role) = blank(&u.role) {
            if role != "user" && role != "admin" {
                return Err(invalid(format!("{at}: role must be user or admin")));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Applying it

#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredUnit {
    parent_id: Option<String>,
    name: String,
    sort_order: i32,
    in_use: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredUser {
    name: String,
    unit_id: Option<String>,
    nickname: String,
    job: String,
    phone: String,
    absence_code: String,
    absence_text: String,
    absence_from: Option<String>,
    absence_to: Option<String>,
    role: String,
    sort_order: i32,
    retired_at_ms: Option<i64>,
}

/// Applies `file` to the database in one transaction and returns the report.
pub async fn import(
    pool: &Pool,
    file: &OrgFile,
    retire_missing: bool,
    dry_run: bool,
    default_password_hash: Option<&str>,
) -> Result<(ImportReport, Vec<String>), RouterError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Serialise imports: two at once would race on the same rows.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK_KEY])
        .await?;
    let units: HashMap<String, StoredUnit> = tx
        .query(
            "SELECT id, parent_id, name, sort_order, in_use FROM org_units",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                StoredUnit {
                    parent_id: r.get(1),
                    name: r.get(2),
                    sort_order: r.get(3),
                    in_use: r.get(4),
                },
            )
        })
        .collect();
    let parents = units
        .iter()
        .map(|(k, v)| (k.clone(), v.parent_id.clone()))
        .collect();
    check_file(file, &parents)?;
    let mut report = ImportReport {
        dry_run,
        ..Default::default()
    };

    apply_units(&*tx, file, &units, retire_missing, &mut report).await?;
    let retired_now = apply_users(
        &*tx,
        file,
        retire_missing,
        default_password_hash,
        &mut report,
    )
    .await?;

    if dry_run {
        tx.rollback().await?;
    } else {
        let operator = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".into());
        sendjay_common::audit::AuditEntry::new(None, sendjay_common::audit::ADMIN_IMPORT)
            .source(format!("cli:{operator}"))
            .detail(serde_json::json!({
                "units": report.units,
                "users": report.users,
                "retired_missing": retire_missing,
            }))
            .write(&*tx)
            .await?;
        tx.commit().await?;
    }
    Ok((report, if dry_run { Vec::new() } else { retired_now }))
}

async fn apply_units(
    tx: &(impl GenericClient + Sync),
    file: &OrgFile,
    stored: &HashMap<String, StoredUnit>,
    retire_missing: bool,
    report: &mut ImportReport,
) -> Result<(), RouterError> {
    // Parents before children: insert in depth order of the resulting tree.
    let in_file: HashMap<&str, &UnitRow> = file.units.iter().map(|u| (u.id.as_str(), u)).collect();
    let parent_of = |id: &str| -> Option<String> {
        match in_file.get(id) {
            Some(u) => blank(&u.parent_id).map(str::to_owned),
            None => stored.get(id).and_then(|s| s.parent_id.clone()),
        }
    };
    let depth = |id: &str| {
        let mut d = 0;
        let mut at = id.to_owned();
        while let Some(p) = parent_of(&at) {
            d += 1;
            at = p;
        }
        d
    };
    let mut ordered: Vec<(&UnitRow, i32)> = file.units.iter().map(|u| (u, depth(&u.id))).collect();
    ordered.sort_by_key(|(_, d)| *d);
    for (u, d) in ordered {
        let parent = blank(&u.parent_id);
        let sort_order = u.sort_order.unwrap_or(0);
        match stored.get(&u.id) {
            None => {
                tx.execute(
                    "INSERT INTO org_units (id, parent_id, name, sort_order, depth, in_use) VALUES ($1, $2, $3, $4, $5, true)",
                    &[&u.id, &parent, &u.name, &sort_order, &d],
                )
                .await?;
                report.units.created += 1;
                report.changes.push(Change {
                    entity: "unit",
                    id: u.id.clone(),
                    action: "created",
                    fields: vec![],
                });
            }
            Some(s) => {
                let mut fields = Vec::new();
                if s.parent_id.as_deref() != parent {
                    fields.push("parent_id");
                }
                if s.name != u.name {
                    fields.push("name");
                }
                if u.sort_order.is_some() && s.sort_order != sort_order {
                    fields.push("sort_order");
                }
                if !s.in_use {
                    fields.push("in_use");
                }
                if fields.is_empty() {
                    report.units.unchanged += 1;
                    continue;
                }
                tx.execute(
                    "UPDATE org_units SET parent_id = $2, name = $3, sort_order = coalesce($4, sort_order), in_use = true
                      WHERE id = $1",
                    &[&u.id, &parent, &u.name, &u.sort_order],
                )
                .await?;
                report.units.updated += 1;
                report.changes.push(Change {
                    entity: "unit",
                    id: u.id.clone(),
                    action: "updated",
                    fields,
                });
            }
        }
    }
    if retire_missing && !file.units.is_empty() {
        let mut missing: Vec<&String> = stored
            .iter()
            .filter(|(id, s)| s.in_use && !in_file.contains_key(id.as_str()))
            .map(|(id, _)| id)
            .collect();
        missing.sort();
        for id in missing {
            tx.execute("UPDATE org_units SET in_use = false WHERE id = $1", &[id])
                .await?;
            report.units.deactivated += 1;
            report.changes.push(Change {
                entity: "unit",
                id: id.clone(),
                action: "deactivated",
                fields: vec![],
            });
        }
    }
    // Depths follow parents (also of stored units under a moved one).
    tx.execute(
        "WITH RECURSIVE t AS (SELECT id, 0 AS d FROM org_units WHERE parent_id IS NULL
                              UNION ALL SELECT o.id, t.d + 1 FROM org_units o JOIN t ON o.parent_id = t.id)
         UPDATE org_units o SET depth = t.d FROM t WHERE o.id = t.id AND o.depth <> t.d",
        &[],
    )
    .await?;
    Ok(())
}

/// Returns the users retired by this import whose retirement is already in effect (their sessions must close).
async fn apply_users(
    tx: &(impl GenericClient + Sync),
    file: &OrgFile,
    retire_missing: bool,
    default_password_hash: Option<&str>,
    report: &mut ImportReport,
) -> Result<Vec<String>, RouterError> {
    let stored: HashMap<String, StoredUser> = tx
        .query(
            "SELECT id, display_name, unit_id, nickname, job, phone, absence_code, absence_text,
                    to_char(absence_from, 'YYYY-MM-DD'), to_char(absence_to, 'YYYY-MM-DD'), role, sort_order,
                    (extract(epoch FROM retired_at) * 1000)::bigint
               FROM users",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                StoredUser {
                    name: r.get(1),
                    unit_id: r.get(2),
                    nickname: r.get(3),
                    job: r.get(4),
                    phone: r.get(5),
                    absence_code: r.get(6),
                    absence_text: r.get(7),
                    absence_from: r.get(8),
                    absence_to: r.get(9),
                    role: r.get(10),
                    sort_order: r.get(11),
                    retired_at_ms: r.get(12),
                },
            )
        })
        .collect();
    // Retirement dates of the file, as PostgreSQL reads them (a malformed one aborts the import).
    let dates: Vec<String> = file
        .users
        .iter()
        .filter_map(|u| blank(&u.retired_at).map(str::to_owned))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let date_ms: HashMap<String, i64> = if dates.is_empty() {
        HashMap::new()
    } else {
        tx.query(
            "SELECT v, (extract(epoch FROM v::timestamptz) * 1000)::bigint FROM unnest($1::text[]) v",
            &[&dates],
        )
        .await
        .map_err(|e| invalid(format!("a retired_at value is not a date: {e}")))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    let now_ms: i64 = tx
        .query_one("SELECT (extract(epoch FROM now()) * 1000)::bigint", &[])
        .await?
        .get(0);
    let mut retired_now = Vec::new();
    let unusable = "!import: no password set".to_owned();
    let hash = default_password_hash.map(str::to_owned).unwrap_or(unusable);
    for u in &file.users {
        let unit = u
            .unit_id
            .as_ref()
            .map(|v| blank(&Some(v.clone())).map(str::to_owned));
        let date = |v: &Option<String>| {
            v.as_ref()
                .map(|d| blank(&Some(d.clone())).map(str::to_owned))
        };
        let (from, to) = (date(&u.absence_from), date(&u.absence_to));
        let retired: Option<Option<i64>> = u
            .retired_at
            .as_ref()
            .map(|v| blank(&Some(v.clone())).map(|d| date_ms[d]));
        let role = blank(&u.role).map(str::to_owned);
        match stored.get(&u.id) {
            None => {
                tx.execute(
                    "INSERT INTO users (id, display_name, unit_id, password_hash, passkey, role, nickname, job, phone,
                                        absence_code, absence_text, absence_from, absence_to, sort_order, retired_at)
                     VALUES ($1, $2, $3, $4, $5, coalesce($6, 'user'), coalesce($7, ''), coalesce($8, ''), coalesce($9, ''),
                             coalesce($10, ''), coalesce($11, ''), $12::text::date, $13::text::date, coalesce($14, 0),
                             to_timestamp($15::bigint / 1000.0))",
                    &[
                        &u.id,
                        &u.name,
                        &unit.clone().flatten(),
                        &hash,
                        &sendjay_common::ids::new_passkey(),
                        &role,
                        &u.nickname,
                        &u.job,
                        &u.phone,
                        &u.absence_code,
                        &u.absence_text,
                        &from.clone().flatten(),
                        &to.clone().flatten(),
                        &u.sort_order,
                        &retired.flatten(),
                    ],
                )
                .await?;
                report.users.created += 1;
                report.changes.push(Change {
                    entity: "user",
                    id: u.id.clone(),
                    action: "created",
                    fields: vec![],
                });
            }
            Some(s) => {
                let mut fields = Vec::new();
                let mut differs = |field: &'static str, changed: bool| {
                    if changed {
                        fields.push(field);
                    }
                };
                differs("name", s.name != u.name);
                differs("unit_id", unit.as_ref().is_some_and(|v| *v != s.unit_id));
                differs(
                    "nickname",
                    u.nickname.as_ref().is_some_and(|v| *v != s.nickname),
                );
                differs("job", u.job.as_ref().is_some_and(|v| *v != s.job));
                differs("phone", u.phone.as_ref().is_some_and(|v| *v != s.phone));
                differs(
                    "absence_code",
                    u.absence_code
                        .as_ref()
                        .is_some_and(|v| *v != s.absence_code),
                );
                differs(
                    "absence_text",
                    u.absence_text
                        .as_ref()
                        .is_some_and(|v| *v != s.absence_text),
                );
                differs(
                    "absence_from",
                    from.as_ref().is_some_and(|v| *v != s.absence_from),
                );
                differs(
                    "absence_to",
                    to.as_ref().is_some_and(|v| *v != s.absence_to),
                );
                differs("role", role.as_ref().is_some_and(|v| *v != s.role));
                differs(
                    "sort_order",
                    u.sort_order.is_some_and(|v| v != s.sort_order),
                );
                let changed = !fields.is_empty();
                let was_retired = s.retired_at_ms.is_some_and(|t| t <= now_ms);
                let retirement = match retired {
                    Some(new) if new != s.retired_at_ms => Some(new),
                    _ => None,
                };
                if changed {
                    tx.execute(
                        "UPDATE users SET display_name = $2,
                                unit_id = CASE WHEN $3 THEN $4 ELSE unit_id END,
                                nickname = coalesce($5, nickname), job = coalesce($6, job), phone = coalesce($7, phone),
                                absence_code = coalesce($8, absence_code), absence_text = coalesce($9, absence_text),
                                absence_from = CASE WHEN $10 THEN $11::text::date ELSE absence_from END,
                                absence_to = CASE WHEN $12 THEN $13::text::date ELSE absence_to END,
                                role = coalesce($14, role), sort_order = coalesce($15, sort_order), updated_at = now()
                          WHERE id = $1",
                        &[
                            &u.id,
                            &u.name,
                            &unit.is_some(),
                            &unit.clone().flatten(),
                            &u.nickname,
                            &u.job,
                            &u.phone,
                            &u.absence_code,
                            &u.absence_text,
                            &from.is_some(),
                            &from.clone().flatten(),
                            &to.is_some(),
                            &to.clone().flatten(),
                            &role,
                            &u.sort_order,
                        ],
                    )
                    .await?;
                    report.users.updated += 1;
                    report.changes.push(Change {
                        entity: "user",
                        id: u.id.clone(),
                        action: "updated",
                        fields,
                    });
                }
                match retirement {
                    Some(Some(at)) => {
                        tx.execute(
                            "UPDATE users SET retired_at = to_timestamp($2::bigint / 1000.0), updated_at = now(),
                                    mobile_installed = mobile_installed AND to_timestamp($2::bigint / 1000.0) > now()
                              WHERE id = $1",
                            &[&u.id, &at],
                        )
                        .await?;
                        let now_retired = at <= now_ms;
                        if now_retired && !was_retired {
                            retired_now.push(u.id.clone());
                        }
                        report.users.retired += 1;
                        report.changes.push(Change {
                            entity: "user",
                            id: u.id.clone(),
                            action: "retired",
                            fields: vec![],
                        });
                    }
                    Some(None) => {
                        tx.execute(
                            "UPDATE users SET retired_at = NULL, updated_at = now() WHERE id = $1",
                            &[&u.id],
                        )
                        .await?;
                        report.users.reactivated += 1;
                        report.changes.push(Change {
                            entity: "user",
                            id: u.id.clone(),
                            action: "reactivated",
                            fields: vec![],
                        });
                    }
                    None => {}
                }
                if !changed && retirement.is_none() {
                    report.users.unchanged += 1;
                }
            }
        }
    }
    if retire_missing && !file.users.is_empty() {
        let listed: Vec<&str> = file.users.iter().map(|u| u.id.as_str()).collect();
        let rows = tx
            .query(
                "UPDATE users SET retired_at = now(), mobile_installed = false, updated_at = now()
                  WHERE (retired_at IS NULL OR retired_at > now()) AND NOT (id = ANY($1::text[]))
                  RETURNING id",
                &[&listed],
            )
            .await?;
        let mut ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        ids.sort();
        for id in ids {
            report.users.retired += 1;
            report.changes.push(Change {
                entity: "user",
                id: id.clone(),
                action: "retired",
                fields: vec![],
            });
            retired_now.push(id);
        }
    }
    Ok(retired_now)
}

/// Tells every node to close the sessions of `users` (close 4004), through the users' Redis channels.
pub async fn close_sessions(
    redis_url: &str,
    prefix: &str,
    users: &[String],
) -> Result<usize, RouterError> {
    use fred::prelude::PubsubInterface;
    if users.is_empty() {
        return Ok(0);
    }
    let redis = sendjay_router::redis_client(redis_url).await?;
    let keys = sendjay_common::keys::KeySchema::new(prefix);
    let event = sendjay_common::bus::UserEvent::Close {
        device: None,
        keep_generation: None,
        code: sendjay_common::close_code::CloseReason::UserUnavailable.code(),
        reason: "the account is retired".into(),
    };
    let bytes =
        sendjay_common::codec::encode(&event).map_err(|e| RouterError::Internal(e.to_string()))?;
    for user in users {
        let _: i64 = redis
            .publish(
                keys.user_channel(user),
                fred::types::Value::Bytes(bytes.clone().into()),
            )
            .await?;
    }
    let _ = fred::prelude::ClientLike::quit(&redis).await;
    Ok(users.len())
}

/// Runs `admin import`: prints the JSON report on stdout and a summary on stderr.
pub async fn run(args: ImportArgs) -> Result<(), RouterError> {
    let file = read_input(&args)?;
    let pool = sendjay_router::pg_pool(&args.database_url, 2)?;
    {
        let mut client = pool.get().await?;
        sendjay_common::migrate::migrate(&mut client)
            .await
            .map_err(|e| RouterError::Internal(e.to_string()))?;
    }
    let hash = match &args.default_password {
        Some(p) => Some(sendjay_router::accounts::hash_password(p)?),
        None => None,
    };
    let (mut report, retired_now) = import(
        &pool,
        &file,
        args.retire_missing,
        args.dry_run,
        hash.as_deref(),
    )
    .await?;
    if let Some(url) = &args.redis_url {
        report.sessions_closed = close_sessions(url, &args.redis_prefix, &retired_now).await?;
    }
    eprintln!(
        "{}units: {} created, {} updated, {} unchanged, {} deactivated; users: {} created, {} updated, {} unchanged, {} retired, {} reactivated",
        if report.dry_run { "dry run, nothing committed. " } else { "" },
        report.units.created, report.units.updated, report.units.unchanged, report.units.deactivated,
        report.users.created, report.users.updated, report.users.unchanged, report.users.retired, report.users.reactivated,
    );
    println!(
        "{}",
        serde_json::to_string(&report).map_err(|e| RouterError::Internal(e.to_string()))?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh_pool() -> Pool {
        let url = sendjay_testkit::postgres().await.fresh_database().await;
        let pool = sendjay_router::pg_pool(&url, 2).unwrap();
        let mut client = pool.get().await.unwrap();
        sendjay_common::migrate::migrate(&mut client).await.unwrap();
        pool
    }

    fn unit(id: &str, parent: Option<&str>, name: &str) -> UnitRow {
        UnitRow {
            id: id.into(),
            parent_id: parent.map(str::to_owned),
            name: name.into(),
            sort_order: Some(0),
        }
    }

    fn user(id: &str, name: &str, unit: &str) -> UserRow {
        UserRow {
            id: id.into(),
            name: name.into(),
            unit_id: Some(unit.into()),
            job: Some("engineer".into()),
            phone: Some("010-1234-5678".into()),
            ..Default::default()
        }
    }

    fn sample() -> OrgFile {
        OrgFile {
            // Children before parents on purpose.
            units: vec![
                unit("team-a", Some("dev"), "A팀"),
                unit("dev", Some("co"), "개발본부"),
                unit("co", None, "샌드제이"),
            ],
            users: vec![
                user("kim", "김민준", "team-a"),
                user("lee", "이서연", "team-a"),
                user("park", "박지호", "dev"),
            ],
        }
    }

    async fn scalar(pool: &Pool, sql: &str) -> String {
        let client = pool.get().await.unwrap();
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    #[tokio::test]
    async fn imports_idempotently_reports_changes_and_retires_only_when_asked() {
        let pool = fresh_pool().await;
        let (first, _) = import(&pool, &sample(), false, false, None).await.unwrap();
        assert_eq!((first.units.created, first.users.created), (3, 3));
        assert_eq!(
            scalar(
                &pool,
                "SELECT string_agg(id || ':' || depth, ',' ORDER BY id) FROM org_units"
            )
            .await,
            "co:0,dev:1,team-a:2"
        );
        // Nothing to do the second time.
        let (again, _) = import(&pool, &sample(), true, false, None).await.unwrap();
        assert!(again.changes.is_empty(), "{:?}", again.changes);
        assert_eq!((again.units.unchanged, again.users.unchanged), (3, 3));

        // A user set their status line themselves: a file without nicknames leaves it alone.
        pool.get()
            .await
            .unwrap()
            .execute(
                "UPDATE users SET nickname = '휴가 중' WHERE id = 'kim'",
                &[],
            )
            .await
            .unwrap();
        let mut next = sample();
        next.users[1].unit_id = Some("dev".into());
        next.users[1].job = Some("lead".into());
        next.units[0].name = "A팀 (플랫폼)".into();
        next.users.remove(2); // park left the company
        let (report, retired) = import(&pool, &next, false, false, None).await.unwrap();
        assert_eq!(
            report.changes,
            vec![
                Change {
                    entity: "unit",
                    id: "team-a".into(),
                    action: "updated",
                    fields: vec!["name"]
                },
                Change {
                    entity: "user",
                    id: "lee".into(),
                    action: "updated",
                    fields: vec!["unit_id", "job"]
                },
            ]
        );
        assert!(
            retired.is_empty(),
            "missing users are kept without --retire-missing"
        );
        assert_eq!(
            scalar(&pool, "SELECT nickname FROM users WHERE id = 'kim'").await,
            "휴가 중"
        );
        let (report, retired) = import(&pool, &next, true, false, None).await.unwrap();
        assert_eq!(retired, vec!["park".to_string()]);
        assert_eq!(report.users.retired, 1);
        assert_eq!(
            scalar(
                &pool,
                "SELECT (retired_at IS NOT NULL)::text FROM users WHERE id = 'park'"
            )
            .await,
            "true"
        );
        // Coming back in the file reactivates; a date retires (history is never deleted).
        let mut back = sample();
        back.users[0].retired_at = Some("2020-01-31".into());
        back.users[2].retired_at = Some(String::new());
        let (report, retired) = import(&pool, &back, false, false, None).await.unwrap();
        assert_eq!((report.users.retired, report.users.reactivated), (1, 1));
        assert_eq!(retired, vec!["kim".to_string()]);
        assert_eq!(
            scalar(
                &pool,
                "SELECT to_char(retired_at, 'YYYY-MM-DD') FROM users WHERE id = 'kim'"
            )
            .await,
            "2020-01-31"
        );
    }

    #[tokio::test]
    async fn bad_files_change_nothing_and_dry_runs_commit_nothing() {
        let pool = fresh_pool().await;
        let mut cycle = sample();
        cycle.units[2].parent_id = Some("team-a".into());
        let err = import(&pool, &cycle, false, false, None).await.unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
        let mut orphan = sample();
        orphan.units[0].parent_id = Some("nowhere".into());
        assert!(import(&pool, &orphan, false, false, None)
            .await
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        let mut bad_unit = sample();
        bad_unit.users[0].unit_id = Some("ghost".into());
        assert!(import(&pool, &bad_unit, false, false, None).await.is_err());
        let mut bad_date = sample();
        bad_date.users[0].retired_at = Some("yesterday-ish".into());
        assert!(import(&pool, &bad_date, false, false, None).await.is_err());
        let mut twice = sample();
        twice.users.push(user("kim", "Kim again", "co"));
        assert!(import(&pool, &twice, false, false, None)
            .await
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert_eq!(scalar(&pool, "SELECT count(*)::text FROM users").await, "0");
        let (dry, _) = import(&pool, &sample(), false, true, None).await.unwrap();
        assert!(dry.dry_run && dry.users.created == 3);
        assert_eq!(
            scalar(&pool, "SELECT count(*)::text FROM org_units").await,
            "0"
        );
        // An empty user list never retires everybody.
        import(&pool, &sample(), false, false, None).await.unwrap();
        let (report, _) = import(
            &pool,
            &OrgFile {
                units: sample().units,
                users: vec![],
            },
            true,
            false,
            None,
        )
        .await
        .unwrap();
        assert_eq!(report.users.retired, 0);
    }

    #[tokio::test]
    async fn csv_files_import_like_json() {
        let units =
            "id,parent_id,name,sort_order\r\nco,,\"Sendjay, Inc.\",0\r\ndev,co,개발본부,1\r\n";
        let users = "\u{feff}id,name,unit_id,job,retired_at\nkim,김민준,dev,\"says \"\"hi\"\"\",\nlee,이서연,,,2021-03-01\n";
        let file = OrgFile {
            units: units_from_csv(units).unwrap(),
            users: users_from_csv(users).unwrap(),
        };
        assert_eq!(file.units[0].name, "Sendjay, Inc.");
        assert_eq!(file.units[0].parent_id.as_deref(), Some(""));
        assert_eq!(file.users[0].job.as_deref(), Some("says \"hi\""));
        assert_eq!(file.users[0].nickname, None, "no column: left alone");
        assert_eq!(file.users[1].unit_id.as_deref(), Some(""));
        let pool = fresh_pool().await;
        let (report, _) = import(&pool, &file, false, false, None).await.unwrap();
        assert_eq!((report.units.created, report.users.created), (2, 2));
        assert_eq!(scalar(&pool, "SELECT coalesce(unit_id, '-') || '/' || (retired_at IS NOT NULL) FROM users WHERE id = 'lee'").await, "-/true");
        assert!(units_from_csv("id,parent_id,name\nco,\"x\n").is_err());
        assert!(users_from_csv("id,name\nkim\n").is_err());
    }

    #[tokio::test]
    async fn retired_users_sessions_are_told_to_close() {
        use fred::prelude::*;
        let redis = sendjay_testkit::RedisServer::start().await;
        let subscriber = Builder::from_config(Config::from_url(&redis.url()).unwrap())
            .build_subscriber_client()
            .unwrap();
        subscriber.init().await.unwrap();
        subscriber.subscribe("sj:user:park").await.unwrap();
        let mut messages = subscriber.message_rx();
        let sent = close_sessions(&redis.url(), "sj", &["park".to_string()])
            .await
            .unwrap();
        assert_eq!(sent, 1);
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), messages.recv())
            .await
            .unwrap()
            .unwrap();
        let bytes: Vec<u8> = message.value.convert().unwrap();
        let event: sendjay_common::bus::UserEvent = sendjay_common::codec::decode(&bytes).unwrap();
        assert!(matches!(
            event,
            sendjay_common::bus::UserEvent::Close {
                code: 4004,
                device: None,
                ..
            }
        ));
    }
}
