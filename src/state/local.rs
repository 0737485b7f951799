//! The default backend: a directory beside the spec, `.novactl/<environment>/`, needing no
//! set-up.
//!
//! * `lock`: held with an OS file lock (released by the OS when the process dies) for the
//!   whole run; `lock.json` beside it names the holder. `lock.guard` (held for milliseconds)
//!   makes taking the lock and writing the record one step for other processes.
//! * `intents.json`, `inventory.json`: small JSON files, replaced atomically (write + rename).
//! * `audit.jsonl`: one JSON line per run, appended.
//! * `docs/<name>.json`: named documents.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use fs4::fs_std::FileExt;
use serde_json::Value;

use super::{AuditRecord, Backend, Intent, InventoryEntry, LockHandle, LockInfo, StateError};
use crate::spec::LoadedSpec;

pub struct LocalBackend {
    dir: PathBuf,
    /// The open, OS-locked lock file while this process holds the lock.
    held: Mutex<Option<File>>,
    /// Serialises read-modify-write of the JSON files among this process's tasks (changes run
    /// concurrently; other processes are kept out by the lock).
    files: Mutex<()>,
    /// `intents.json` and `inventory.json` as last read or written by this process, with the
    /// file's stamp then: an apply journals every create (three read-modify-writes each), and
    /// parsing the whole inventory each time made a large apply quadratic. A file another
    /// process changed since has another stamp and is read again.
    intents: Mutex<Option<(Stamp, Vec<Intent>)>>,
    inventory: Mutex<Option<(Stamp, Vec<InventoryEntry>)>>,
}

/// What tells a file's version apart: its inode (a write replaces the file), size and time of
/// change; `None` when it does not exist.
type Stamp = Option<(u64, u64, std::time::SystemTime)>;

fn io(what: &str, path: &Path, e: std::io::Error) -> StateError {
    StateError::Io(format!("state: cannot {what} {}: {e}", path.display()))
}

impl LocalBackend {
    pub fn for_spec(spec: &LoadedSpec) -> LocalBackend {
        LocalBackend::at(spec.dir.join(".novactl").join(&spec.spec.environment))
    }

    pub fn at(dir: PathBuf) -> LocalBackend {
        LocalBackend {
            dir,
            held: Mutex::new(None),
            files: Mutex::new(()),
            intents: Mutex::new(None),
            inventory: Mutex::new(None),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| io("create", &self.dir, e))
    }

    fn read_json<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, StateError> {
        let p = self.path(name);
        match fs::read_to_string(&p) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| StateError::Io(format!("state: {} is not valid: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(io("read", &p, e)),
        }
    }

    fn stamp(&self, name: &str) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(self.path(name)).ok()?;
        Some((m.ino(), m.len(), m.modified().ok()?))
    }

    /// Runs `f` on the file `name` (through `cache`, read again when its stamp changed); when
    /// `f` says so, writes the result and remembers its stamp; under `files`.
    fn with_cached<T, R>(
        &self,
        cache: &Mutex<Option<(Stamp, T)>>,
        name: &str,
        f: impl FnOnce(&mut T) -> (bool, R),
    ) -> Result<R, StateError>
    where
        T: serde::de::DeserializeOwned + serde::Serialize + Default,
    {
        let _g = self.files.lock().expect("files mutex");
        let mut c = cache.lock().expect("cache mutex");
        let now = self.stamp(name);
        let fresh = matches!(&*c, Some((s, _)) if *s == now && now.is_some());
        if !fresh {
            *c = Some((now, self.read_json(name)?));
        }
        let (stamp, value) = c.as_mut().expect("just filled");
        let (write, r) = f(value);
        if write {
            if let Err(e) = self.write_json(name, value) {
                *c = None;
                return Err(e);
            }
            *stamp = self.stamp(name);
        }
        Ok(r)
    }

    /// Writes `value` to `name` atomically (temporary file, fsync, rename).
    fn write_json<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), StateError> {
        self.ensure_dir()?;
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        let tmp = p.with_extension(format!("tmp.{}", std::process::id()));
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| StateError::Io(format!("state: cannot encode {name}: {e}")))?;
        let mut f = File::create(&tmp).map_err(|e| io("write", &tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io("write", &tmp, e))?;
        fs::rename(&tmp, &p).map_err(|e| io("write", &p, e))
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn describe(&self) -> String {
        format!("{}/", self.dir.display())
    }

    async fn check_ready(&self) -> Result<(), StateError> {
        Ok(())
    }

    async fn lock(&self, info: LockInfo) -> Result<LockHandle, StateError> {
        self.ensure_dir()?;
        let p = self.path("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&p)
            .map_err(|e| io("open", &p, e))?;
        // `lock.guard` makes "take the OS lock and write the record" one step for every other
        // process: one that finds the lock taken reads the record of the run that holds it,
        // never an older one (the guard is held for milliseconds; the OS drops it if we die).
        let g = self.path("lock.guard");
        let guard = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&g)
            .map_err(|e| io("open", &g, e))?;
        FileExt::lock_exclusive(&guard).map_err(|e| io("lock", &g, e))?;
        let previous: Option<LockInfo> = self.read_json::<Option<LockInfo>>("lock.json")?;
        match FileExt::try_lock_exclusive(&f) {
            Ok(true) => {}
            Ok(false) => {
                let holder = previous.unwrap_or_else(|| LockInfo {
                    id: "unknown".into(),
                    operation: "unknown".into(),
                    who: "unknown".into(),
                    host: "unknown".into(),
                    pid: 0,
                    created: "unknown".into(),
                    expires: "unknown".into(),
                    novactl_version: "unknown".into(),
                });
                return Err(StateError::Locked(Box::new(holder)));
            }
            Err(e) => return Err(io("lock", &p, e)),
        }
        // We hold the OS lock; a record left behind belongs to a run that died.
        self.write_json("lock.json", &Some(&info))?;
        drop(guard);
        *self.held.lock().expect("lock mutex") = Some(f);
        Ok(LockHandle {
            info,
            token: String::new(),
            took_over: previous,
        })
    }

    async fn renew(&self, lock: &mut LockHandle, expires: String) -> Result<(), StateError> {
        lock.info.expires = expires;
        self.write_json("lock.json", &Some(&lock.info))
    }

    async fn unlock(&self, lock: &LockHandle) -> Result<(), StateError> {
        let current: Option<LockInfo> = self.read_json("lock.json")?;
        if current.as_ref().map(|c| &c.id) == Some(&lock.info.id) {
            let p = self.path("lock.json");
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", &p, e)),
            }
        }
        // Dropping the file releases the OS lock.
        self.held.lock().expect("lock mutex").take();
        Ok(())
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        self.read_json("lock.json")
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let cur = super::lock_to_remove(self.read_json("lock.json")?, id, &self.describe())?;
        // A live holder still has the OS lock: removing the record would not stop it.
        let p = self.path("lock");
        if let Ok(f) = File::open(&p) {
            match FileExt::try_lock_exclusive(&f) {
                Ok(true) => {
                    let _ = FileExt::unlock(&f);
                }
                Ok(false) => {
                    return Err(StateError::Io(format!(
                        "state: process {} on {} still holds the lock (it is running); stop it \
                         first",
                        cur.pid, cur.host
                    )))
                }
                Err(e) => return Err(io("lock", &p, e)),
            }
        }
        let rec = self.path("lock.json");
        fs::remove_file(&rec).map_err(|e| io("remove", &rec, e))
    }

    async fn put_intent(&self, intent: &Intent) -> Result<(), StateError> {
        self.with_cached(&self.intents, "intents.json", |all| {
            all.retain(|i| i.address != intent.address);
            all.push(intent.clone());
            (true, ())
        })
    }

    async fn close_intent(&self, address: &str) -> Result<(), StateError> {
        self.with_cached(&self.intents, "intents.json", |all| {
            let before = all.len();
            all.retain(|i| i.address != address);
            (all.len() != before, ())
        })
    }

    async fn open_intents(&self) -> Result<Vec<Intent>, StateError> {
        self.with_cached(&self.intents, "intents.json", |all| (false, all.clone()))
    }

    async fn inventory_put(&self, entry: &InventoryEntry) -> Result<(), StateError> {
        self.with_cached(&self.inventory, "inventory.json", |all| {
            all.retain(|e| !(e.address == entry.address && e.identity == entry.identity));
            all.push(entry.clone());
            (true, ())
        })
    }

    async fn inventory_set(&self, entry: &InventoryEntry) -> Result<(), StateError> {
        self.with_cached(&self.inventory, "inventory.json", |all| {
            all.retain(|e| e.address != entry.address);
            all.push(entry.clone());
            (true, ())
        })
    }

    async fn inventory_remove(&self, address: &str, identity: &str) -> Result<(), StateError> {
        self.with_cached(&self.inventory, "inventory.json", |all| {
            let before = all.len();
            all.retain(|e| !(e.address == address && e.identity == identity));
            (all.len() != before, ())
        })
    }

    async fn inventory(&self) -> Result<Vec<InventoryEntry>, StateError> {
        self.with_cached(&self.inventory, "inventory.json", |all| {
            (false, all.clone())
        })
    }

    async fn inventory_of(&self, address: &str) -> Result<Vec<InventoryEntry>, StateError> {
        self.with_cached(&self.inventory, "inventory.json", |all| {
            let of: Vec<InventoryEntry> = all
                .iter()
                .filter(|e| e.address == address)
                .cloned()
                .collect();
            (false, of)
        })
    }

    async fn audit_append(&self, record: &AuditRecord) -> Result<(), StateError> {
        let _g = self.files.lock().expect("files mutex");
        self.ensure_dir()?;
        let p = self.path("audit.jsonl");
        let needle = format!("\"run_id\":{}", Value::String(record.run_id.clone()));
        if fs::read_to_string(&p).is_ok_and(|t| t.lines().any(|l| l.contains(&needle))) {
            return Ok(()); // recorded already: records are never overwritten
        }
        let line = serde_json::to_string(record)
            .map_err(|e| StateError::Io(format!("state: cannot encode the audit record: {e}")))?;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(|e| io("open", &p, e))?;
        f.write_all(format!("{line}\n").as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io("append to", &p, e))
    }

    async fn audit_list(&self, limit: usize) -> Result<Vec<AuditRecord>, StateError> {
        let p = self.path("audit.jsonl");
        let text = match fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("read", &p, e)),
        };
        let mut out: Vec<AuditRecord> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        out.reverse();
        out.truncate(limit);
        Ok(out)
    }

    async fn get_doc(&self, name: &str) -> Result<Option<Value>, StateError> {
        self.read_json(&format!("docs/{name}.json"))
    }

    async fn put_doc(&self, name: &str, doc: &Value) -> Result<(), StateError> {
        self.write_json(&format!("docs/{name}.json"), doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{new_id, now_rfc3339};

    fn info(op: &str) -> LockInfo {
        LockInfo {
            id: new_id(),
            operation: op.into(),
            who: "arn:aws:iam::123456789012:user/test".into(),
            host: "h".into(),
            pid: std::process::id(),
            created: now_rfc3339(),
            expires: now_rfc3339(),
            novactl_version: "0".into(),
        }
    }

    #[tokio::test]
    async fn second_lock_is_refused_with_the_holder_and_released_after_unlock() {
        let d = tempfile::tempdir().unwrap();
        let a = LocalBackend::at(d.path().join("s"));
        let b = LocalBackend::at(d.path().join("s"));
        let first = info("apply");
        let h = a.lock(first.clone()).await.unwrap();
        assert!(h.took_over.is_none());
        match b.lock(info("destroy")).await {
            Err(StateError::Locked(holder)) => assert_eq!(holder.id, first.id),
            other => panic!("wanted Locked, got {other:?}"),
        }
        a.unlock(&h).await.unwrap();
        assert_eq!(a.current_lock().await.unwrap(), None);
        let h2 = b.lock(info("destroy")).await.unwrap();
        assert!(h2.took_over.is_none(), "a released lock is not a take-over");
    }

    #[tokio::test]
    async fn a_record_left_by_a_dead_run_is_taken_over_and_reported() {
        let d = tempfile::tempdir().unwrap();
        let a = LocalBackend::at(d.path().join("s"));
        let dead = info("apply");
        let h = a.lock(dead.clone()).await.unwrap();
        // The process "dies": the OS lock goes, the record stays.
        a.held.lock().unwrap().take();
        drop(h);
        let b = LocalBackend::at(d.path().join("s"));
        let h = b.lock(info("apply")).await.unwrap();
        assert_eq!(h.took_over.map(|t| t.id), Some(dead.id));
    }

    #[tokio::test]
    async fn a_file_another_process_wrote_is_read_again_and_set_keeps_one_entry_per_address() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("s");
        let entry = |identity: &str, run: &str| InventoryEntry {
            address: "s3.a".into(),
            kind: "s3".into(),
            region: "us-east-1".into(),
            identity: identity.into(),
            arn: format!("arn:aws:s3:::{identity}"),
            run_id: run.into(),
            created: now_rfc3339(),
        };
        let mine = LocalBackend::at(dir.clone());
        mine.inventory_put(&entry("bucket-a", "r1")).await.unwrap();
        assert_eq!(mine.inventory().await.unwrap()[0].run_id, "r1");
        // Another process (its own backend, its own cache) writes the same file.
        let other = LocalBackend::at(dir.clone());
        other.inventory_put(&entry("bucket-a", "r2")).await.unwrap();
        let seen = mine.inventory().await.unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].run_id, "r2", "the cached copy was not read again");
        // A rename: the new identity replaces the old one in one write.
        mine.inventory_set(&entry("bucket-b", "r3")).await.unwrap();
        let all = other.inventory().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].identity, "bucket-b");
        assert_eq!(mine.inventory_of("s3.a").await.unwrap(), all);
    }

    #[tokio::test]
    async fn intents_inventory_audit_and_docs_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = LocalBackend::at(d.path().join("s"));
        let intent = Intent {
            address: "s3.a".into(),
            kind: "s3".into(),
            region: "us-east-1".into(),
            identity: "bucket-a".into(),
            run_id: "r1".into(),
            time: now_rfc3339(),
        };
        s.put_intent(&intent).await.unwrap();
        assert_eq!(s.open_intents().await.unwrap(), vec![intent]);
        s.close_intent("s3.a").await.unwrap();
        assert!(s.open_intents().await.unwrap().is_empty());
        let e = InventoryEntry {
            address: "s3.a".into(),
            kind: "s3".into(),
            region: "us-east-1".into(),
            identity: "bucket-a".into(),
            arn: "arn:aws:s3:::bucket-a".into(),
            run_id: "r1".into(),
            created: now_rfc3339(),
        };
        s.inventory_put(&e).await.unwrap();
        s.inventory_put(&e).await.unwrap();
        assert_eq!(s.inventory().await.unwrap().len(), 1);
        s.inventory_remove("s3.a", "bucket-a").await.unwrap();
        assert!(s.inventory().await.unwrap().is_empty());
        for n in 0..3 {
            let rec = AuditRecord {
                run_id: format!("r{n}"),
                command: "apply".into(),
                command_line: vec![],
                caller_arn: "arn".into(),
                assumed_role: None,
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                environment: "t".into(),
                host: "h".into(),
                novactl_version: "0".into(),
                spec_digest: "d".into(),
                plan_digest: String::new(),
                started: now_rfc3339(),
                ended: now_rfc3339(),
                exit_status: 0,
                interrupted: false,
                changes: vec![],
                notes: vec![],
                details: Value::Null,
            };
            s.audit_append(&rec).await.unwrap();
        }
        let recent = s.audit_list(2).await.unwrap();
        assert_eq!(
            recent.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["r2", "r1"]
        );
        assert_eq!(s.get_doc("last-applied").await.unwrap(), None);
        s.put_doc("last-applied", &serde_json::json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(
            s.get_doc("last-applied").await.unwrap(),
            Some(serde_json::json!({"a": 1}))
        );
    }
}
