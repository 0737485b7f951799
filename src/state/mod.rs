//! The state backend: where novactl keeps what live AWS state cannot tell it. Live AWS state
//! stays the truth for every attribute; the backend holds only
//!
//! * the environment's **lock** (one writer at a time, with a lease),
//! * the **create journal** (an intent written before a create whose result cannot be tagged
//!   in the same call, closed once the resource is tagged),
//! * an **inventory** of what novactl created (kind, region, identity, ARN, address, run id),
//! * the **audit trail** (one record per apply, destroy or dr run),
//! * small named **documents** (the last applied desired state, the last drill report).
//!
//! Two backends implement [`Backend`]: [`local::LocalBackend`] (the default, a directory
//! beside the spec: `.novactl/<environment>/`) and [`s3::S3Backend`] (`state.s3` in the spec).
//! The create-journal and inventory steps the executor takes around every change are
//! `engine::journal`'s (they need the model; the backend only stores).

pub mod local;
pub mod s3;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::Connect;
use crate::spec::{LoadedSpec, SpecError};

/// A backend failure: one line for the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// Another run holds the lock.
    #[error("{}", held_message(.0, "SPEC"))]
    Locked(Box<LockInfo>),
    /// The backend does not exist yet (S3: no bucket); names the command that makes it.
    #[error("{0}")]
    Missing(String),
    /// The caller's lock was taken over (its lease expired): it may not renew or release it.
    #[error("{0}")]
    Lost(String),
    #[error("{0}")]
    Io(String),
}

/// Who holds the lock, since when, and what to do about it (`spec_file` for the command).
pub fn held_message(l: &LockInfo, spec_file: &str) -> String {
    format!(
        "the environment is locked by {} (`{}` on host {}, pid {}) since {}{}; lock id {}, \
         lease until {}. Wait for it (--lock-timeout DURATION), or if that run is dead: novactl \
         force-unlock -e {spec_file} {}",
        l.who,
        l.operation,
        l.host,
        l.pid,
        l.created,
        ago(&l.created),
        l.id,
        l.expires,
        l.id
    )
}

/// " (3m12s ago)" for an RFC 3339 time in the past; empty when unreadable.
pub fn ago(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(t) => {
            let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .num_seconds()
                .max(0) as u64;
            format!(
                " ({} ago)",
                humantime::format_duration(Duration::from_secs(secs))
            )
        }
        Err(_) => String::new(),
    }
}

/// Who holds the lock, and since when (printed when another run is refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    /// The command (`apply`, `destroy`, `dr drill`, `bootstrap`).
    pub operation: String,
    /// Caller ARN from STS.
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339: after this the lock may be taken over.
    pub expires: String,
    pub novactl_version: String,
}

/// A held lock (what renew and unlock need).
#[derive(Debug, Clone)]
pub struct LockHandle {
    pub info: LockInfo,
    /// Backend-specific token (S3: the ETag of the lock object we wrote).
    pub token: String,
    /// The lock was taken over from a holder whose lease had expired.
    pub took_over: Option<LockInfo>,
}

/// An intent recorded before a create; open until the resource is tagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub address: String,
    pub kind: String,
    pub region: String,
    /// Bucket name, role name, alias...
    pub identity: String,
    pub run_id: String,
    pub time: String,
}

/// Something novactl created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryEntry {
    pub address: String,
    pub kind: String,
    pub region: String,
    pub identity: String,
    #[serde(default)]
    pub arn: String,
    pub run_id: String,
    pub created: String,
}

/// One change as the audit trail records it. Values of sensitive keys never enter a record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditChange {
    pub address: String,
    pub action: String,
    /// `ok`, `failed`, `skipped`, `interrupted`, `not-started`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// AWS request ids of the writes made for this change, in call order.
    #[serde(default)]
    pub request_ids: Vec<String>,
    /// The write operations those ids belong to (`kms:CreateKey`), same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
    /// What the change did in words (an endpoint deployment's steps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One run of apply, destroy or a dr command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    pub run_id: String,
    /// `apply`, `destroy`, `dr drill`, `dr failover`.
    pub command: String,
    pub command_line: Vec<String>,
    /// Who ran it: the base identity when a role was assumed.
    pub caller_arn: String,
    /// With `aws.assume_role`: the role the run's calls were made as, and its session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_role: Option<AssumedRole>,
    pub account_id: String,
    pub region: String,
    pub environment: String,
    pub host: String,
    pub novactl_version: String,
    pub spec_digest: String,
    #[serde(default)]
    pub plan_digest: String,
    pub started: String,
    pub ended: String,
    pub exit_status: i32,
    #[serde(default)]
    pub interrupted: bool,
    pub changes: Vec<AuditChange>,
    /// Free notes (e.g. "--allow-noncompliant: NOVA-S3-001 on s3.logs").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Command-specific evidence (a drill's measurements).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

/// The role an audited run assumed (`aws.assume_role`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AssumedRole {
    pub role_arn: String,
    pub session_name: String,
    /// The assumed-role session's own ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    pub arn: String,
}

impl AuditRecord {
    /// A record of `command` by `caller` on this host, started now, with no changes yet
    /// (exit status 1 until the run says otherwise).
    pub fn new(
        run_id: String,
        command: &str,
        caller: &crate::aws::Caller,
        account_id: &str,
        spec: &crate::spec::Spec,
        spec_digest: &str,
    ) -> AuditRecord {
        AuditRecord {
            run_id,
            command: command.to_string(),
            command_line: std::env::args().collect(),
            caller_arn: caller.who().to_string(),
            assumed_role: caller.assumed.as_ref().map(|a| AssumedRole {
                role_arn: a.role_arn.clone(),
                session_name: a.session_name.clone(),
                arn: caller.arn.clone(),
            }),
            account_id: account_id.to_string(),
            region: spec.region.clone(),
            environment: spec.environment.clone(),
            host: hostname(),
            novactl_version: env!("CARGO_PKG_VERSION").into(),
            spec_digest: spec_digest.to_string(),
            plan_digest: String::new(),
            started: now_rfc3339(),
            ended: String::new(),
            exit_status: 1,
            interrupted: false,
            changes: Vec::new(),
            notes: Vec::new(),
            details: Value::Null,
        }
    }
}

/// The small interface every backend implements.
///
/// # Guarantees
/// * `lock` is atomic: of two concurrent callers exactly one gets the handle; the other gets
///   [`StateError::Locked`] with the holder's record (or, after the holder's lease expired,
///   takes it over and says so in [`LockHandle::took_over`]).
/// * `renew` and `unlock` act only while the lock is still the caller's (a run that lost its
///   lock never deletes someone else's).
/// * Audit records are appended, never overwritten: a second record with the same run id is
///   not written (so a run that died after writing its record is not recorded twice).
#[async_trait]
pub trait Backend: Send + Sync {
    /// Where the state lives, for messages (`.novactl/prod/` or `s3://bucket/prefix`).
    fn describe(&self) -> String;
    /// Fails with [`StateError::Missing`] (naming `novactl bootstrap`) when the backend does
    /// not exist yet. Read-only.
    async fn check_ready(&self) -> Result<(), StateError>;

    async fn lock(&self, info: LockInfo) -> Result<LockHandle, StateError>;
    /// Extends the lease of a held lock (to `expires`).
    async fn renew(&self, lock: &mut LockHandle, expires: String) -> Result<(), StateError>;
    async fn unlock(&self, lock: &LockHandle) -> Result<(), StateError>;
    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError>;
    /// Removes the lock with this id, whoever holds it.
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;

    async fn put_intent(&self, intent: &Intent) -> Result<(), StateError>;
    /// Closes the intent for `address` (the resource is tagged now).
    async fn close_intent(&self, address: &str) -> Result<(), StateError>;
    async fn open_intents(&self) -> Result<Vec<Intent>, StateError>;

    async fn inventory_put(&self, entry: &InventoryEntry) -> Result<(), StateError>;
    async fn inventory_remove(&self, address: &str, identity: &str) -> Result<(), StateError>;
    async fn inventory(&self) -> Result<Vec<InventoryEntry>, StateError>;
    /// The entries of one address.
    /// Makes `entry` the one inventory entry of its address (a rename's old identity goes).
    /// Backends that can do it in one read-modify-write override it.
    async fn inventory_set(&self, entry: &InventoryEntry) -> Result<(), StateError> {
        for old in self.inventory_of(&entry.address).await? {
            if old.identity != entry.identity {
                self.inventory_remove(&old.address, &old.identity).await?;
            }
        }
        self.inventory_put(entry).await
    }

    async fn inventory_of(&self, address: &str) -> Result<Vec<InventoryEntry>, StateError> {
        Ok(self
            .inventory()
            .await?
            .into_iter()
            .filter(|e| e.address == address)
            .collect())
    }

    async fn audit_append(&self, record: &AuditRecord) -> Result<(), StateError>;
    /// Newest first, at most `limit`.
    async fn audit_list(&self, limit: usize) -> Result<Vec<AuditRecord>, StateError>;

    /// A named JSON document (`last-applied`, `last-drill`); `None` when never written.
    async fn get_doc(&self, name: &str) -> Result<Option<Value>, StateError>;
    async fn put_doc(&self, name: &str, doc: &Value) -> Result<(), StateError>;
}

/// Where the S3 backend lives: `state.s3` with its defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Ends with `/` unless empty; default `novactl/`.
    pub prefix: String,
    /// Default: the spec's primary region.
    pub region: String,
    /// Default `alias/novactl-state-<bucket>` (dots as `-`).
    pub kms_key: String,
    pub environment: String,
}

/// `bucket` with what names (aliases, environments) may not hold replaced by `-`.
pub fn name_of_bucket(bucket: &str) -> String {
    bucket.replace('.', "-")
}

impl S3Location {
    /// `state.s3` of the spec, if it has one.
    pub fn of(spec: &LoadedSpec) -> Option<S3Location> {
        let s3 = spec.spec.state.as_ref()?.s3.as_ref()?;
        let mut prefix = s3.prefix.clone().unwrap_or_else(|| "novactl/".into());
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(S3Location {
            bucket: s3.bucket.clone(),
            prefix,
            region: s3
                .region
                .clone()
                .unwrap_or_else(|| spec.spec.region.clone()),
            kms_key: s3
                .kms_key
                .clone()
                .unwrap_or_else(|| format!("alias/novactl-state-{}", name_of_bucket(&s3.bucket))),
            environment: spec.spec.environment.clone(),
        })
    }

    /// `<prefix><environment>/`: every object of this environment is below it.
    pub fn root(&self) -> String {
        format!("{}{}/", self.prefix, self.environment)
    }
}

/// The backend the spec names (`state:`), or the local default. `spec_file` is the path the
/// user gave (for the `novactl bootstrap -e ...` hint).
pub async fn open(spec: &LoadedSpec, connect: &Connect, spec_file: &str) -> Arc<dyn Backend> {
    match S3Location::of(spec) {
        Some(loc) => {
            // `state.s3.assume_role`: the backend's own role (the state in another account);
            // else the environment's credentials.
            let own = spec
                .spec
                .state
                .as_ref()
                .and_then(|s| s.s3.as_ref())
                .and_then(|s3| s3.assume_role.clone());
            let mut connect = connect.clone();
            if let Some(role) = own {
                connect.assume_role = Some(with_session_name(role));
            }
            let bootstrap = format!("novactl bootstrap -e {spec_file}");
            Arc::new(s3::S3Backend::connect(&connect, &loc, bootstrap).await)
        }
        None => Arc::new(local::LocalBackend::for_spec(spec)),
    }
}

/// Checks `state:` with no AWS call: a valid bucket name that is not one of the spec's own
/// buckets, a key given as an alias, key id or ARN, a relative prefix.
pub fn check_config(spec: &LoadedSpec) -> Result<(), SpecError> {
    let Some(s3) = spec.spec.state.as_ref().and_then(|s| s.s3.as_ref()) else {
        return Ok(());
    };
    let b = &s3.bucket;
    let valid = (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(spec.error(
            "state.s3.bucket",
            format!(
                "`{b}` is not a valid bucket name (3 to 63 lowercase letters, digits, dots and \
                 hyphens, starting and ending with a letter or digit)"
            ),
        ));
    }
    if let Some(p) = &s3.prefix {
        if p.starts_with('/') || p.contains("//") {
            return Err(spec.error(
                "state.s3.prefix",
                format!("`{p}` must be relative (no leading `/`, no empty segment)"),
            ));
        }
    }
    if let Some(k) = &s3.kms_key {
        let alias = k.starts_with("alias/") && k.len() > 6 && !k.starts_with("alias/aws/");
        let arn = k.starts_with("arn:aws") && k.contains(":kms:");
        let id = k.len() == 36 && k.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !(alias || arn || id) {
            return Err(spec.error(
                "state.s3.kms_key",
                format!("`{k}` is not a KMS key alias (`alias/...`), key id or key ARN"),
            ));
        }
    }
    Ok(())
}

/// How long a lock stays valid without renewal: `NOVACTL_LOCK_LEASE` (e.g. `90s`, `10m`), else
/// [`DEFAULT_LEASE`]. A holder renews at a third of it.
pub fn lease() -> Duration {
    std::env::var("NOVACTL_LOCK_LEASE")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| *d >= Duration::from_secs(1))
        .unwrap_or(DEFAULT_LEASE)
}

pub const DEFAULT_LEASE: Duration = Duration::from_secs(5 * 60);

/// Now, as RFC 3339 (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `now + d`, as RFC 3339.
pub fn in_rfc3339(d: Duration) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(d.as_millis() as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Has the RFC 3339 time `t` passed? (An unreadable time counts as passed.)
pub fn has_passed(t: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t < chrono::Utc::now())
        .unwrap_or(true)
}

/// The lock `force_unlock(id)` may remove: the current one, when its id is `id`.
pub fn lock_to_remove(
    current: Option<LockInfo>,
    id: &str,
    backend: &str,
) -> Result<LockInfo, StateError> {
    let Some(cur) = current else {
        return Err(StateError::Io(format!("state: {backend} is not locked")));
    };
    if cur.id != id {
        return Err(StateError::Io(format!(
            "state: the lock is {}, not {id}; nothing was removed",
            cur.id
        )));
    }
    Ok(cur)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

static RUN_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static RUN_ID_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This process's run id: the default assumed-role session name is `novactl-<run id>`, and the
/// first writing run of the process records it as its own id ([`take_run_id`]).
pub fn run_id() -> &'static str {
    RUN_ID.get_or_init(new_id)
}

/// `role` with its session name: `novactl-<run id>` unless the spec names one.
pub fn with_session_name(
    mut role: crate::spec::model::AssumeRole,
) -> crate::spec::model::AssumeRole {
    if role.session_name.is_none() {
        role.session_name = Some(crate::aws::accounts::default_session_name(run_id()));
    }
    role
}

/// The id of a writing run: the process's run id the first time, a fresh one after.
pub fn take_run_id() -> String {
    if RUN_ID_TAKEN.swap(true, std::sync::atomic::Ordering::SeqCst) {
        new_id()
    } else {
        run_id().to_string()
    }
}

pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
