//! The state backends end to end: `bootstrap` of the S3 backend (bucket and key read back
//! with the SDK), SSE-KMS on every state object, the lock (refusal naming the holder,
//! `--lock-timeout`, lease renewal, take-over of an expired lease, `force-unlock`, a run that
//! lost its lock never deleting the new holder's), `plan --lock`, the inventory
//! (`state list`) and the audit trail (`history`), on both backends.
//!
//! Emulator patch used: `patch_s3_conditional_writes_atomic` (conditional PUT/DELETE in one
//! step), `patch_s3_bucket_policy_secure_transport` (the state bucket's TLS-only policy).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use common::{
    assert_no_changes, kms_key, novactl, novactl_command, novactl_env, unique, Emulator, Project,
    Run,
};
use serde_json::{json, Value};

const CALLER: &str = "arn:aws:sts::123456789012:user/moto";

fn s3_spec(env: &str, bucket: &str, alias: &str) -> String {
    format!(
        "environment: {env}\nregion: us-east-1\nstate:\n  s3:\n    bucket: {bucket}\n    prefix: teams/novactl/\n    kms_key: alias/{bucket}-key\nkms:\n  phi:\n    alias: alias/{alias}\n    deletion_window_days: 7\n"
    )
}

fn local_spec(env: &str, alias: &str) -> String {
    format!(
        "environment: {env}\nregion: us-east-1\nkms:\n  phi:\n    alias: alias/{alias}\n    deletion_window_days: 7\n"
    )
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", r.stdout))
}

/// Every object key under `prefix`.
async fn keys(emu: &Emulator, bucket: &str, prefix: &str) -> Vec<String> {
    let out = emu
        .s3("us-east-1")
        .await
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn alias_exists(emu: &Emulator, alias: &str) -> bool {
    kms_key(emu, &format!("alias/{alias}")).await.is_some()
}

fn apply_waiting(emu: &Emulator, path: &str, timeout: &str) -> Run {
    let args = [
        "apply",
        "-e",
        path,
        "--auto-approve",
        "--lock-timeout",
        timeout,
    ];
    novactl(Some(emu), &args)
}

/// A lock record as another run would have written it.
fn lock_record(id: &str, expires_in_secs: i64) -> Value {
    let now = chrono::Utc::now();
    json!({
        "id": id,
        "operation": "apply",
        "who": "arn:aws:iam::123456789012:user/someone-else",
        "host": "ci-runner-7",
        "pid": 4242,
        "created": (now - chrono::Duration::seconds(90)).to_rfc3339(),
        "expires": (now + chrono::Duration::seconds(expires_in_secs)).to_rfc3339(),
        "novactl_version": "0.1.0",
    })
}

async fn put_lock(emu: &Emulator, bucket: &str, key: &str, record: &Value) {
    emu.s3("us-east-1")
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(record.to_string().into_bytes()))
        .send()
        .await
        .unwrap();
}

async fn get_lock(emu: &Emulator, bucket: &str, key: &str) -> Option<Value> {
    let out = emu
        .s3("us-east-1")
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn s3_backend_is_bootstrapped_and_holds_encrypted_inventory_audit_and_no_lock_after_a_run() {
    let emu = Emulator::start();
    let bucket = unique("state");
    let alias = unique("phi");
    let p = Project::new(&s3_spec("s3a", &bucket, &alias));
    let path = p.spec.to_str().unwrap();

    // No backend yet: plan and apply say so in one line, naming the command; nothing is made.
    for args in [
        vec!["plan", "-e", path],
        vec!["apply", "-e", path, "--auto-approve"],
    ] {
        let r = novactl(Some(&emu), &args).expect_code(1);
        let err: Vec<&str> = r.stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(err.len(), 1, "{}", r.stderr);
        assert!(
            err[0].contains(&format!("novactl bootstrap -e {path}")) && err[0].contains(&bucket),
            "{}",
            r.stderr
        );
    }
    assert!(!alias_exists(&emu, &alias).await);

    let boot = novactl(Some(&emu), &["bootstrap", "-e", path]).expect_code(0);
    assert!(boot.stdout.contains("+ s3.state") && boot.stdout.contains("+ kms.state"));
    let s3 = emu.s3("us-east-1").await;
    let kms = emu.kms("us-east-1").await;
    let state_key = kms_key(&emu, &format!("alias/{bucket}-key"))
        .await
        .expect("the state key's alias");
    let state_key_arn = state_key.arn().unwrap().to_string();
    assert!(
        kms.get_key_rotation_status()
            .key_id(state_key.key_id())
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );
    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    let pab = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let policy: Value = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let deny = &policy["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    // The plain form scanners read (issue 10), not a one-item list.
    assert_eq!(
        deny["Condition"]["Bool"]["aws:SecureTransport"],
        json!("false")
    );
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(by_default.kms_master_key_id(), Some(state_key_arn.as_str()));

    // Idempotent.
    let again = novactl(Some(&emu), &["bootstrap", "-e", path]).expect_code(0);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);
    assert_eq!(again.writes(), 0, "{}", again.stderr);

    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_no_changes(&emu, path);

    // Every state object is SSE-KMS under the state key; the lock is gone after the run.
    let root = "teams/novactl/s3a/";
    let objects = keys(&emu, &bucket, root).await;
    assert!(
        !objects.iter().any(|k| k.ends_with("lock.json")),
        "{objects:?}"
    );
    let audit: Vec<&String> = objects.iter().filter(|k| k.contains("/audit/")).collect();
    assert_eq!(audit.len(), 3, "bootstrap twice, apply once: {objects:?}");
    assert!(
        objects.iter().any(|k| k.contains("/inventory/kms.phi/")),
        "{objects:?}"
    );
    assert!(
        objects
            .iter()
            .any(|k| k.ends_with("/docs/last-applied.json")),
        "{objects:?}"
    );
    for k in &objects {
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("aws:kms"),
            "{k}"
        );
        assert_eq!(head.ssekms_key_id(), Some(state_key_arn.as_str()), "{k}");
    }

    // The inventory names the live key.
    let live_key = kms_key(&emu, &format!("alias/{alias}")).await.unwrap();
    let list =
        json_of(&novactl(Some(&emu), &["state", "list", "-e", path, "--json"]).expect_code(0));
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["address"], "kms.phi");
    assert_eq!(entries[0]["kind"], "kms");
    assert_eq!(entries[0]["identity"], format!("alias/{alias}"));
    assert_eq!(entries[0]["arn"], live_key.arn().unwrap());

    // History: newest first, the caller, every change with the request ids of its writes.
    let h = json_of(&novactl(Some(&emu), &["history", "-e", path, "--json"]).expect_code(0));
    let runs = h.as_array().unwrap();
    let commands: Vec<&str> = runs
        .iter()
        .map(|r| r["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["apply", "bootstrap", "bootstrap"]);
    let apply = &runs[0];
    assert_eq!(apply["caller_arn"], CALLER);
    assert_eq!(apply["exit_status"], 0);
    assert_eq!(apply["environment"], "s3a");
    let changes = apply["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{apply}");
    assert_eq!(changes[0]["address"], "kms.phi");
    assert_eq!(changes[0]["action"], "create");
    assert_eq!(changes[0]["result"], "ok");
    let writes: Vec<&str> = changes[0]["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        writes,
        ["kms:CreateKey", "kms:EnableKeyRotation", "kms:CreateAlias"]
    );
    let ids = changes[0]["request_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|i| i.as_str().is_some_and(|s| !s.is_empty())),
        "{ids:?}"
    );
    let limited = json_of(
        &novactl(
            Some(&emu),
            &["history", "-e", path, "--json", "--limit", "1"],
        )
        .expect_code(0),
    );
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let text = novactl(Some(&emu), &["history", "-e", path]).expect_code(0);
    assert!(
        text.stdout.contains(CALLER) && text.stdout.contains("kms.phi"),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_lock_refuses_waits_renews_is_taken_over_force_unlocked_and_never_deleted_by_a_loser() {
    let emu = Emulator::start();
    let bucket = unique("lock");
    let alias = unique("phi");
    let p = Project::new(&s3_spec("s3b", &bucket, &alias));
    let path = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["bootstrap", "-e", path]).expect_code(0);
    let lock_key = "teams/novactl/s3b/lock.json".to_string();

    // Held by another run: refused at once, naming the holder and since when; nothing made.
    put_lock(&emu, &bucket, &lock_key, &lock_record("held-1", 600)).await;
    let r = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(1);
    for want in [
        "locked by arn:aws:iam::123456789012:user/someone-else",
        "ci-runner-7",
        "since ",
        "ago)",
        &format!("novactl force-unlock -e {path} held-1"),
    ] {
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
    }
    assert!(
        !alias_exists(&emu, &alias).await,
        "a refused run writes nothing"
    );
    // plan reads without the lock; `plan --lock` is refused like apply.
    novactl(Some(&emu), &["plan", "-e", path]).expect_code(0);
    let r = novactl(Some(&emu), &["plan", "-e", path, "--lock"]).expect_code(1);
    assert!(r.stderr.contains("held-1"), "{}", r.stderr);

    // force-unlock: the wrong id removes nothing; without a terminal it will not ask; -f does.
    let r = novactl(Some(&emu), &["force-unlock", "-e", path, "other-id", "-f"]).expect_code(1);
    assert!(r.stderr.contains("nothing was removed"), "{}", r.stderr);
    let r = novactl(Some(&emu), &["force-unlock", "-e", path, "held-1"]).expect_code(1);
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
    assert!(get_lock(&emu, &bucket, &lock_key).await.is_some());
    let r = novactl(
        Some(&emu),
        &["force-unlock", "-e", path, "held-1", "--auto-approve"],
    )
    .expect_code(0);
    assert!(
        r.stderr.contains("someone-else"),
        "names whose lock it removes: {}",
        r.stderr
    );
    assert!(get_lock(&emu, &bucket, &lock_key).await.is_none());

    // --lock-timeout waits (here until the holder releases after ~1.5 s), then runs.
    put_lock(&emu, &bucket, &lock_key, &lock_record("held-2", 600)).await;
    let releaser = {
        let s3 = emu.s3("us-east-1").await;
        let (bucket, key) = (bucket.clone(), lock_key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            s3.delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        })
    };
    let t = Instant::now();
    let r = apply_waiting(&emu, path, "20s").expect_code(0);
    releaser.await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(1400), "it waited");
    assert!(
        r.stderr.contains("waiting up to 20s for the lock held by"),
        "{}",
        r.stderr
    );
    assert!(alias_exists(&emu, &alias).await);
    // A timeout that runs out is a refusal that says how long it waited.
    put_lock(&emu, &bucket, &lock_key, &lock_record("held-3", 600)).await;
    let r = apply_waiting(&emu, path, "1s").expect_code(1);
    assert!(
        r.stderr.contains("held-3") && r.stderr.contains("(waited 1s)"),
        "{}",
        r.stderr
    );

    // An expired lease is taken over, and said so; the dead run gets an interrupted record.
    put_lock(&emu, &bucket, &lock_key, &lock_record("dead-4", -30)).await;
    let r = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert!(
        r.stderr.contains("took over the lock dead-4"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("lease expired"), "{}", r.stderr);
    assert!(
        get_lock(&emu, &bucket, &lock_key).await.is_none(),
        "released at the end"
    );
    let h = json_of(&novactl(Some(&emu), &["history", "-e", path, "--json"]).expect_code(0));
    let dead = h
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == "dead-4")
        .expect("a record of the dead run");
    assert_eq!(dead["interrupted"], true);
    assert_eq!(
        dead["caller_arn"],
        "arn:aws:iam::123456789012:user/someone-else"
    );

    // Renewal: with a 1.5 s lease, a run paused for 4 s keeps renewing its lock, so a second
    // run that starts after the first lease would have run out is still refused.
    let lease = [
        ("NOVACTL_LOCK_LEASE", "1500ms"),
        ("NOVACTL_PAUSE_AT", "lock.acquired:4"),
    ];
    let holder = novactl_command(Some(&emu), &["apply", "-e", path, "--auto-approve"], &lease)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let first = get_lock(&emu, &bucket, &lock_key).await.expect("held");
    let r = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr.contains(first["id"].as_str().unwrap()),
        "{}",
        r.stderr
    );
    let done = Run::from(holder.wait_with_output().unwrap()).expect_code(0);
    assert!(!done.stderr.contains("warning"), "{}", done.stderr);
    assert!(get_lock(&emu, &bucket, &lock_key).await.is_none());

    // A run whose lock was taken over (its lease ran out while it stalled) starts no change
    // and leaves the new holder's lock in place.
    let stall = [
        ("NOVACTL_LOCK_LEASE", "1s"),
        ("NOVACTL_PAUSE_AT", "lock.acquired:2.5"),
    ];
    p.write_spec(&s3_spec("s3b", &bucket, &alias).replace(
        "deletion_window_days: 7",
        "deletion_window_days: 7\n    description: changed",
    ));
    let loser = novactl_command(Some(&emu), &["apply", "-e", path, "--auto-approve"], &stall)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let theirs = lock_record("new-holder-5", 600);
    put_lock(&emu, &bucket, &lock_key, &theirs).await;
    let r = Run::from(loser.wait_with_output().unwrap()).expect_code(1);
    assert!(
        r.stderr.contains("no longer ours") && r.stderr.contains("new-holder-5"),
        "{}",
        r.stderr
    );
    assert_eq!(
        get_lock(&emu, &bucket, &lock_key).await,
        Some(theirs),
        "never deleted"
    );
    let key = kms_key(&emu, &format!("alias/{alias}")).await.unwrap();
    assert_ne!(key.description(), Some("changed"), "no change was started");
}

#[tokio::test]
async fn local_backend_lock_history_inventory_and_a_killed_holder() {
    let emu = Emulator::start();
    let alias = unique("phi");
    let p = Project::new(&local_spec("loc", &alias));
    let path = p.spec.to_str().unwrap();
    let dir = p.path("environments/.novactl/loc");

    // A running apply holds the OS lock: another is refused naming it; plan still reads.
    let pause = [("NOVACTL_PAUSE_AT", "lock.acquired:3")];
    let mut holder = novactl_command(Some(&emu), &["apply", "-e", path, "--auto-approve"], &pause)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("lock.json").exists() {
        assert!(Instant::now() < deadline, "the holder never locked");
        std::thread::sleep(Duration::from_millis(50));
    }
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lock.json")).unwrap()).unwrap();
    let r = novactl(Some(&emu), &["destroy", "-e", path, "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr.contains(record["id"].as_str().unwrap()) && r.stderr.contains(CALLER),
        "{}",
        r.stderr
    );
    let r = novactl(
        Some(&emu),
        &[
            "force-unlock",
            "-e",
            path,
            record["id"].as_str().unwrap(),
            "-f",
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("still holds the lock"),
        "a live holder's lock stays: {}",
        r.stderr
    );
    novactl(Some(&emu), &["plan", "-e", path]).expect_code(0);

    // The holder dies (SIGKILL): its record stays, the next run takes it over and says so.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let dead = record["id"].as_str().unwrap().to_string();
    let r = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert!(
        r.stderr.contains(&format!("took over the lock {dead}")),
        "{}",
        r.stderr
    );
    assert!(!dir.join("lock.json").exists());
    assert_no_changes(&emu, path);

    // History (text and JSON): the dead run marked interrupted, then the apply that took over.
    let h = json_of(&novactl(None, &["history", "-e", path, "--json"]).expect_code(0));
    let runs = h.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{h}");
    assert_eq!(runs[0]["command"], "apply");
    assert_eq!(runs[0]["caller_arn"], CALLER);
    assert_eq!(runs[0]["changes"][0]["address"], "kms.phi");
    assert_eq!(runs[1]["run_id"], dead.as_str());
    assert_eq!(runs[1]["interrupted"], true);
    let text = novactl(None, &["history", "-e", path]).expect_code(0);
    assert!(text.stdout.contains("INTERRUPTED"), "{}", text.stdout);

    // The inventory, with no AWS call at all for the local backend.
    let list = novactl(None, &["state", "list", "-e", path]).expect_code(0);
    assert!(list.stdout.starts_with("ADDRESS"), "{}", list.stdout);
    assert!(
        list.stdout.contains("kms.phi") && list.stdout.contains(&format!("alias/{alias}")),
        "{}",
        list.stdout
    );

    // destroy removes it from the inventory; bootstrap has nothing to do locally.
    novactl(Some(&emu), &["destroy", "-e", path, "--auto-approve"]).expect_code(0);
    let list = json_of(&novactl(None, &["state", "list", "-e", path, "--json"]).expect_code(0));
    assert_eq!(list, json!([]));
    let b = novactl_env(Some(&emu), &["bootstrap", "-e", path], &[]).expect_code(0);
    assert!(b.stdout.contains("Nothing to bootstrap"), "{}", b.stdout);
}
