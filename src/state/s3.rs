//! The S3 backend (`state.s3` in the spec), for teams and CI: every object under
//! `s3://<bucket>/<prefix><environment>/`, each written with SSE-KMS under the configured key.
//!
//! | Object | What | How it is written |
//! |---|---|---|
//! | `lock.json` | the lock record ([`LockInfo`]) | acquired with `If-None-Match: *`; renewed and taken over with `If-Match: <ETag>`; released by a delete with `If-Match: <ETag>` |
//! | `intents/<address>.json` | open create intents | put; deleted when closed |
//! | `inventory/<address>/<digest of identity>.json` | what novactl created | put; deleted with the resource |
//! | `audit/<start time>-<run id>.json` | one record per run | `If-None-Match: *`: never overwritten |
//! | `docs/<name>.json` | named documents | put |
//!
//! # Guarantees
//! * Of two runs that try to lock at once, S3 lets exactly one conditional write succeed; the
//!   other reads the winner's record and is refused with it.
//! * Renewal, take-over and release are conditional on the ETag the caller holds, so a run
//!   whose lock was taken over can neither renew it nor delete the new holder's lock.
//! * The bucket and key are made by `novactl bootstrap` (versioned, public access blocked,
//!   TLS-only policy, SSE-KMS by default); [`Backend::check_ready`] says so when they are
//!   missing.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::{
    has_passed, AuditRecord, Backend, Intent, InventoryEntry, LockHandle, LockInfo, S3Location,
    StateError,
};
use crate::aws::{AwsError, Connect};

/// Reads of many small objects (inventory, history) run this many at once.
const READ_CONCURRENCY: usize = 8;
/// Tries at acquiring the lock when the lock object changes under us (released, or taken over
/// by someone else between our read and our write).
const LOCK_TRIES: usize = 5;

pub struct S3Backend {
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    loc: S3Location,
    /// `<prefix><environment>/`.
    root: String,
    /// The key ARN behind `loc.kms_key`, resolved once.
    key_arn: OnceCell<String>,
    /// The command that makes this backend, for messages.
    bootstrap: String,
}

/// Why a conditional write or delete did not happen.
enum Refused {
    /// `If-None-Match` / `If-Match` did not hold (or a concurrent conditional write won).
    Precondition,
    /// `If-Match` on an object that does not exist.
    Missing,
    Failed(StateError),
}

enum Cond<'a> {
    Always,
    /// Only if no object exists (`If-None-Match: *`).
    Absent,
    /// Only if the object still has this ETag (`If-Match`).
    Is(&'a str),
}

fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Backend {
    pub async fn connect(connect: &Connect, loc: &S3Location, bootstrap: String) -> S3Backend {
        let conf = crate::aws::sdk_config(connect, &loc.region).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(crate::aws::emulated(connect))
                .build(),
        );
        S3Backend {
            s3,
            kms: aws_sdk_kms::Client::new(&conf),
            root: loc.root(),
            loc: loc.clone(),
            key_arn: OnceCell::new(),
            bootstrap,
        }
    }

    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.root)
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.loc.bucket)
    }

    fn fail<E, R>(&self, op: &str, key: &str, e: SdkError<E, R>) -> StateError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        StateError::Io(format!(
            "state backend {}: {}",
            self.url(key),
            AwsError::from_err(op, e)
        ))
    }

    fn missing(&self, what: &str) -> StateError {
        StateError::Missing(format!(
            "the S3 state backend s3://{}/{} is not set up: {what}; create it with `{}`",
            self.loc.bucket, self.root, self.bootstrap
        ))
    }

    /// The ARN of the state key (`state.s3.kms_key`), read once.
    async fn key_arn(&self) -> Result<&str, StateError> {
        self.key_arn
            .get_or_try_init(|| async {
                match self
                    .kms
                    .describe_key()
                    .key_id(&self.loc.kms_key)
                    .send()
                    .await
                {
                    Ok(out) => out
                        .key_metadata
                        .and_then(|m| m.arn)
                        .ok_or_else(|| self.missing(&format!("no key {}", self.loc.kms_key))),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|se| se.is_not_found_exception()) =>
                    {
                        Err(self.missing(&format!("no KMS key {}", self.loc.kms_key)))
                    }
                    Err(e) => Err(StateError::Io(format!(
                        "state backend key {}: {}",
                        self.loc.kms_key,
                        AwsError::from_err("kms:DescribeKey", e)
                    ))),
                }
            })
            .await
            .map(String::as_str)
    }

    /// Writes `value` as JSON to `key` (SSE-KMS with the state key) under `cond`; returns the
    /// new ETag.
    async fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        cond: Cond<'_>,
    ) -> Result<String, Refused> {
        let body = serde_json::to_vec_pretty(value).map_err(|e| {
            Refused::Failed(StateError::Io(format!(
                "state: cannot encode {}: {e}",
                self.url(key)
            )))
        })?;
        let arn = self.key_arn().await.map_err(Refused::Failed)?;
        let mut req = self
            .s3
            .put_object()
            .bucket(&self.loc.bucket)
            .key(key)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(arn)
            .bucket_key_enabled(true)
            .body(ByteStream::from(body));
        req = match cond {
            Cond::Always => req,
            Cond::Absent => req.if_none_match("*"),
            Cond::Is(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            // 412: the condition does not hold; 409: a concurrent conditional write won.
            Err(e) if matches!(status(&e), Some(412 | 409)) => Err(Refused::Precondition),
            Err(e) if status(&e) == Some(404) && matches!(cond, Cond::Is(_)) => {
                Err(Refused::Missing)
            }
            Err(e) => Err(Refused::Failed(self.fail("s3:PutObject", key, e))),
        }
    }

    /// Writes `value` to `key` unconditionally.
    async fn put_plain<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StateError> {
        match self.put(key, value, Cond::Always).await {
            Ok(_) => Ok(()),
            Err(Refused::Failed(e)) => Err(e),
            Err(_) => Err(StateError::Io(format!(
                "state: unconditional write of {} was refused",
                self.url(key)
            ))),
        }
    }

    /// The object at `key` as JSON with its ETag; `None` when it does not exist.
    async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, String)>, StateError> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.loc.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None)
            }
            Err(e) => return Err(self.fail("s3:GetObject", key, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StateError::Io(format!("state: cannot read {}: {e}", self.url(key))))?
            .into_bytes();
        let v = serde_json::from_slice(&bytes).map_err(|e| {
            StateError::Io(format!(
                "state: {} is not a novactl state object: {e}",
                self.url(key)
            ))
        })?;
        Ok(Some((v, etag)))
    }

    /// Deletes `key`, only while it has the ETag `if_match` when one is given. A missing object
    /// counts as deleted.
    async fn delete(&self, key: &str, if_match: Option<&str>) -> Result<(), Refused> {
        let mut req = self.s3.delete_object().bucket(&self.loc.bucket).key(key);
        if let Some(etag) = if_match {
            req = req.if_match(etag);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(status(&e), Some(412 | 409)) => Err(Refused::Precondition),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(Refused::Failed(self.fail("s3:DeleteObject", key, e))),
        }
    }

    async fn delete_plain(&self, key: &str) -> Result<(), StateError> {
        match self.delete(key, None).await {
            Ok(()) | Err(Refused::Precondition | Refused::Missing) => Ok(()),
            Err(Refused::Failed(e)) => Err(e),
        }
    }

    /// Every key under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.loc.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.fail("s3:ListObjectsV2", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        Ok(keys)
    }

    /// Every object under `prefix`, in the order of `keys` (at most [`READ_CONCURRENCY`] reads
    /// at once); objects deleted since the listing are skipped.
    async fn get_all<T: DeserializeOwned>(&self, keys: Vec<String>) -> Result<Vec<T>, StateError> {
        let got: Vec<Option<(T, String)>> = stream::iter(keys)
            .map(|k| async move { self.get::<T>(&k).await })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(got.into_iter().flatten().map(|(v, _)| v).collect())
    }

    fn lock_key(&self) -> String {
        self.key("lock.json")
    }

    fn intent_key(&self, address: &str) -> String {
        self.key(&format!("intents/{address}.json"))
    }

    fn inventory_key(&self, address: &str, identity: &str) -> String {
        let digest = hex::encode(Sha256::digest(identity.as_bytes()));
        self.key(&format!("inventory/{address}/{}.json", &digest[..16]))
    }

    /// `audit/<start, sortable>-<run id>.json`: newest last in a listing.
    fn audit_key(&self, r: &AuditRecord) -> String {
        let when = chrono::DateTime::parse_from_rfc3339(&r.started)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .format("%Y%m%dT%H%M%S%.3fZ")
                    .to_string()
            })
            .unwrap_or_else(|_| "00000000T000000.000Z".into());
        self.key(&format!("audit/{when}-{}.json", r.run_id))
    }

    async fn holder(&self) -> Result<Option<(LockInfo, String)>, StateError> {
        self.get::<LockInfo>(&self.lock_key()).await
    }
}

#[async_trait]
impl Backend for S3Backend {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.loc.bucket, self.root)
    }

    async fn check_ready(&self) -> Result<(), StateError> {
        match self.s3.head_bucket().bucket(&self.loc.bucket).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
                return Err(self.missing(&format!("no bucket {}", self.loc.bucket)))
            }
            Err(e) => return Err(self.fail("s3:HeadBucket", "", e)),
        }
        self.key_arn().await.map(drop)
    }

    async fn lock(&self, info: LockInfo) -> Result<LockHandle, StateError> {
        let key = self.lock_key();
        let mut last: Option<LockInfo> = None;
        for attempt in 0..LOCK_TRIES {
            if attempt > 0 {
                // Someone changed the lock between our read and our write: look again.
                tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
            }
            match self.put(&key, &info, Cond::Absent).await {
                Ok(token) => {
                    return Ok(LockHandle {
                        info,
                        token,
                        took_over: None,
                    })
                }
                Err(Refused::Failed(e)) => return Err(e),
                Err(Refused::Precondition | Refused::Missing) => {}
            }
            let Some((holder, etag)) = self.holder().await? else {
                continue; // released meanwhile
            };
            if !has_passed(&holder.expires) {
                return Err(StateError::Locked(Box::new(holder)));
            }
            // The holder's lease expired: take it over, unless someone else just did.
            match self.put(&key, &info, Cond::Is(&etag)).await {
                Ok(token) => {
                    return Ok(LockHandle {
                        info,
                        token,
                        took_over: Some(holder),
                    })
                }
                Err(Refused::Failed(e)) => return Err(e),
                Err(Refused::Precondition | Refused::Missing) => last = Some(holder),
            }
        }
        match self.holder().await? {
            Some((h, _)) => Err(StateError::Locked(Box::new(h))),
            None => Err(StateError::Io(format!(
                "state: the lock {} kept changing while acquiring it{}; try again",
                self.url(&key),
                last.map(|l| format!(" (last holder {})", l.id))
                    .unwrap_or_default()
            ))),
        }
    }

    async fn renew(&self, lock: &mut LockHandle, expires: String) -> Result<(), StateError> {
        let mut info = lock.info.clone();
        info.expires = expires;
        match self
            .put(&self.lock_key(), &info, Cond::Is(&lock.token))
            .await
        {
            Ok(token) => {
                lock.token = token;
                lock.info = info;
                Ok(())
            }
            Err(Refused::Failed(e)) => Err(e),
            Err(Refused::Precondition | Refused::Missing) => Err(self.lost(&lock.info).await),
        }
    }

    async fn unlock(&self, lock: &LockHandle) -> Result<(), StateError> {
        match self.delete(&self.lock_key(), Some(&lock.token)).await {
            Ok(()) | Err(Refused::Missing) => Ok(()),
            Err(Refused::Failed(e)) => Err(e),
            Err(Refused::Precondition) => Err(self.lost(&lock.info).await),
        }
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self.holder().await?.map(|(h, _)| h))
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let (cur, etag) = match self.holder().await? {
            Some((c, e)) => (Some(c), e),
            None => (None, String::new()),
        };
        super::lock_to_remove(cur, id, &self.describe())?;
        match self.delete(&self.lock_key(), Some(&etag)).await {
            Ok(()) | Err(Refused::Missing) => Ok(()),
            Err(Refused::Failed(e)) => Err(e),
            Err(Refused::Precondition) => Err(StateError::Io(
                "state: the lock changed while removing it (renewed or taken over); nothing \
                 was removed"
                    .into(),
            )),
        }
    }

    async fn put_intent(&self, intent: &Intent) -> Result<(), StateError> {
        self.put_plain(&self.intent_key(&intent.address), intent)
            .await
    }

    async fn close_intent(&self, address: &str) -> Result<(), StateError> {
        self.delete_plain(&self.intent_key(address)).await
    }

    async fn open_intents(&self) -> Result<Vec<Intent>, StateError> {
        let keys = self.list(&self.key("intents/")).await?;
        self.get_all(keys).await
    }

    async fn inventory_put(&self, entry: &InventoryEntry) -> Result<(), StateError> {
        self.put_plain(&self.inventory_key(&entry.address, &entry.identity), entry)
            .await
    }

    async fn inventory_remove(&self, address: &str, identity: &str) -> Result<(), StateError> {
        self.delete_plain(&self.inventory_key(address, identity))
            .await
    }

    async fn inventory(&self) -> Result<Vec<InventoryEntry>, StateError> {
        let keys = self.list(&self.key("inventory/")).await?;
        self.get_all(keys).await
    }

    async fn inventory_of(&self, address: &str) -> Result<Vec<InventoryEntry>, StateError> {
        let keys = self
            .list(&self.key(&format!("inventory/{address}/")))
            .await?;
        self.get_all(keys).await
    }

    async fn audit_append(&self, record: &AuditRecord) -> Result<(), StateError> {
        let key = self.audit_key(record);
        match self.put(&key, record, Cond::Absent).await {
            // An object for this run exists already: records are never overwritten.
            Ok(_) | Err(Refused::Precondition) => Ok(()),
            Err(Refused::Failed(e)) => Err(e),
            Err(Refused::Missing) => Ok(()),
        }
    }

    async fn audit_list(&self, limit: usize) -> Result<Vec<AuditRecord>, StateError> {
        let mut keys = self.list(&self.key("audit/")).await?;
        keys.sort();
        keys.reverse();
        keys.truncate(limit);
        self.get_all(keys).await
    }

    async fn get_doc(&self, name: &str) -> Result<Option<Value>, StateError> {
        Ok(self
            .get::<Value>(&self.key(&format!("docs/{name}.json")))
            .await?
            .map(|(v, _)| v))
    }

    async fn put_doc(&self, name: &str, doc: &Value) -> Result<(), StateError> {
        self.put_plain(&self.key(&format!("docs/{name}.json")), doc)
            .await
    }
}

impl S3Backend {
    /// The lock is no longer `mine`: name who holds it now.
    async fn lost(&self, mine: &LockInfo) -> StateError {
        let now = match self.holder().await {
            Ok(Some((h, _))) => format!(
                "it is now held by {} (`{}` on {}, lock id {})",
                h.who, h.operation, h.host, h.id
            ),
            Ok(None) => "nobody holds it now".into(),
            Err(e) => format!("its current holder cannot be read: {e}"),
        };
        StateError::Lost(format!(
            "the lock {} of this run is no longer ours: {now}; it was left in place",
            mine.id
        ))
    }
}
