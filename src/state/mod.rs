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
//! beside the spec: `.novactl/<environment>/`) and the S3 backend (`state.s3` in the spec).

// Parts of this interface are used only once the create journal lands (issue 7).
#![allow(dead_code)]

pub mod local;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::LoadedSpec;

/// A backend failure: one line for the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// Another run holds the lock.
    #[error("{}", held_message(.0))]
    Locked(Box<LockInfo>),
    /// The backend does not exist yet (S3: no bucket); names the command that makes it.
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Io(String),
}

fn held_message(l: &LockInfo) -> String {
    format!(
        "the environment is locked by {} (host {}, pid {}, `{}`) since {}; lock id {}, lease \
         until {}. Wait for it (--lock-timeout DURATION), or if that run is dead: novactl \
         force-unlock -e SPEC {}",
        l.who, l.host, l.pid, l.operation, l.created, l.id, l.expires, l.id
    )
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
    /// AWS request ids of the writes made for this change.
    #[serde(default)]
    pub request_ids: Vec<String>,
}

/// One run of apply, destroy or a dr command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    pub run_id: String,
    /// `apply`, `destroy`, `dr drill`, `dr failover`.
    pub command: String,
    pub command_line: Vec<String>,
    pub caller_arn: String,
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

/// The small interface every backend implements.
///
/// # Guarantees
/// * `lock` is atomic: of two concurrent callers exactly one gets the handle; the other gets
///   [`StateError::Locked`] with the holder's record (or, after the holder's lease expired,
///   takes it over and says so in [`LockHandle::took_over`]).
/// * `renew` and `unlock` act only while the lock is still the caller's (a run that lost its
///   lock never deletes someone else's).
/// * Audit records are appended, never overwritten.
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

    async fn audit_append(&self, record: &AuditRecord) -> Result<(), StateError>;
    /// Newest first, at most `limit`.
    async fn audit_list(&self, limit: usize) -> Result<Vec<AuditRecord>, StateError>;

    /// A named JSON document (`last-applied`, `last-drill`); `None` when never written.
    async fn get_doc(&self, name: &str) -> Result<Option<Value>, StateError>;
    async fn put_doc(&self, name: &str, doc: &Value) -> Result<(), StateError>;
}

/// The backend the spec names (`state:`), or the local default.
pub fn open(spec: &LoadedSpec) -> Arc<dyn Backend> {
    Arc::new(local::LocalBackend::for_spec(spec))
}

/// Now, as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `now + secs`, as RFC 3339.
pub fn in_rfc3339(secs: u64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Has the RFC 3339 time `t` passed? (An unreadable time counts as passed.)
pub fn has_passed(t: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t < chrono::Utc::now())
        .unwrap_or(true)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
