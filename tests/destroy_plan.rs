//! `plan --destroy [--force] --out PLAN` and `apply PLAN`, end to end against moto: the destroy
//! as a reviewable plan (every live resource a delete, in reverse dependency order, destroy's
//! refusals marked, nothing changed), carried out by `apply PLAN`, refused when live state
//! moved since. Live state is read back.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{novactl, plan_json, unique, Emulator, Project};
use serde_json::Value;

fn spec(env: &str, bucket: &str) -> String {
    format!(
        r#"environment: {env}
region: us-east-1
kms:
  phi:
    alias: alias/{env}-phi
    deletion_window_days: 7
s3:
  data:
    name: {bucket}
    kms_key: phi
sns:
  alerts:
    name: {env}-alerts
    kms_key: phi
"#
    )
}

fn run(emu: &Emulator, p: &Project, args: &[&str]) -> common::Run {
    let mut a = vec![args[0], "-e", p.spec.to_str().unwrap()];
    a.extend(&args[1..]);
    novactl(Some(emu), &a)
}

fn read(file: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// The state of the key `id` (an alias or a key id).
async fn key_state(emu: &Emulator, id: &str) -> String {
    emu.kms("us-east-1")
        .await
        .describe_key()
        .key_id(id)
        .send()
        .await
        .ok()
        .and_then(|k| k.key_metadata().and_then(|m| m.key_state()).cloned())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

async fn bucket_exists(emu: &Emulator, name: &str) -> bool {
    emu.s3("us-east-1")
        .await
        .head_bucket()
        .bucket(name)
        .send()
        .await
        .is_ok()
}

async fn topic_arn(emu: &Emulator, env: &str) -> Option<String> {
    let suffix = format!(":{env}-alerts");
    emu.sns("us-east-1")
        .await
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|a| a.ends_with(&suffix))
        .map(str::to_string)
}

#[tokio::test]
async fn plan_destroy_is_reviewed_then_applied() {
    let emu = Emulator::start();
    let env = unique("dp").replace('-', "");
    let bucket = unique("nv-dp");
    let p = Project::new(&spec(&env, &bucket));
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(0);
    // By id: destroy deletes the alias with the key.
    let key = emu
        .kms("us-east-1")
        .await
        .describe_key()
        .key_id(format!("alias/{env}-phi"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    emu.s3("us-east-1")
        .await
        .put_object()
        .bucket(&bucket)
        .key("phi/record.json")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap();

    // Without --force the non-empty bucket is refused, as destroy refuses it.
    let refused = p.path("refused.json");
    let r = run(
        &emu,
        &p,
        &["plan", "--destroy", "--out", refused.to_str().unwrap()],
    )
    .expect_code(0);
    assert!(
        r.stdout.contains("Destroy plan for environment"),
        "{}",
        r.stdout
    );
    let saved = read(&refused);
    assert_eq!(saved["destroy"], true);
    let s3 = saved["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "s3.data")
        .expect("s3.data in the destroy plan");
    assert!(
        s3["refused"].as_str().unwrap_or("").contains("--force"),
        "{s3:#}"
    );
    let r = run(&emu, &p, &["plan", "--destroy", "--detailed-exitcode"]).expect_code(1);
    assert!(r.stderr.contains("s3.data"), "{}", r.stderr);
    let r = novactl(Some(&emu), &["apply", refused.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(bucket_exists(&emu, &bucket).await);

    // With --force: every live resource a delete, dependents first; nothing deleted yet.
    let plan = p.path("destroy.json");
    let r = run(
        &emu,
        &p,
        &[
            "plan",
            "--destroy",
            "--force",
            "--detailed-exitcode",
            "--out",
            plan.to_str().unwrap(),
        ],
    )
    .expect_code(2);
    assert!(
        r.stdout.contains("- ") && r.stdout.contains("s3.data"),
        "{}",
        r.stdout
    );
    let saved = read(&plan);
    assert_eq!(saved["destroy"], true);
    assert_eq!(saved["force"], true);
    let order: Vec<&str> = saved["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["action"], "delete", "{c:#}");
            assert!(c.get("refused").is_none(), "{c:#}");
            c["address"].as_str().unwrap()
        })
        .collect();
    let pos = |a: &str| {
        order
            .iter()
            .position(|x| *x == a)
            .unwrap_or_else(|| panic!("{a} in {order:?}"))
    };
    assert_eq!(order.len(), 3, "{order:?}");
    assert!(
        pos("s3.data") < pos("kms.phi") && pos("sns.alerts") < pos("kms.phi"),
        "{order:?}"
    );
    assert_eq!(key_state(&emu, &key).await, "Enabled");
    assert!(bucket_exists(&emu, &bucket).await);
    let topic = topic_arn(&emu, &env)
        .await
        .expect("the topic is still there");

    // A saved destroy plan is refused when live state moved since; nothing is deleted.
    emu.sns("us-east-1")
        .await
        .delete_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let r = novactl(Some(&emu), &["apply", plan.to_str().unwrap()]).expect_code(1);
    assert!(
        r.stderr.contains("stale") && r.stderr.contains("sns.alerts"),
        "{}",
        r.stderr
    );
    assert_eq!(key_state(&emu, &key).await, "Enabled");
    assert!(bucket_exists(&emu, &bucket).await);

    // A fresh destroy plan, applied: everything goes; the next plan creates it all again.
    run(
        &emu,
        &p,
        &[
            "plan",
            "--destroy",
            "--force",
            "--out",
            plan.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let r = novactl(Some(&emu), &["apply", plan.to_str().unwrap()]).expect_code(0);
    assert!(
        r.stderr.contains("Destroy") || r.stdout.contains("Destroy"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(!bucket_exists(&emu, &bucket).await);
    assert_eq!(key_state(&emu, &key).await, "PendingDeletion");
    assert!(topic_arn(&emu, &env).await.is_none());
    let after = plan_json(&emu, &p);
    let actions: Vec<(&str, &str)> = after["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap(),
                c["action"].as_str().unwrap(),
            )
        })
        .collect();
    for addr in ["kms.phi", "s3.data", "sns.alerts"] {
        assert!(actions.contains(&(addr, "create")), "{addr}: {actions:?}");
    }
    // The audit trail records the apply of a destroy plan as a destroy.
    let h = run(&emu, &p, &["history", "--json"]).expect_code(0);
    let records: Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(records[0]["command"], "destroy", "{records:#}");
}
