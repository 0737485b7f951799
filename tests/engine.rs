//! The engine end to end on the KMS kind: plan, apply, idempotence, drift, crash safety,
//! saved plans, ownership, resources that leave the spec, destroy. Live state is read back
//! through the SDK from a real (moto) emulator.

mod common;

use common::{
    assert_no_changes, changes, novactl, novactl_env, plan_json, unique, Emulator, Project,
};

fn spec(env: &str, keys: &[(&str, &str)]) -> String {
    let mut s =
        format!("environment: {env}\nregion: us-east-1\ntags:\n  Project: NOVAMIND\nkms:\n");
    for (name, alias) in keys {
        s.push_str(&format!(
            "  {name}:\n    alias: alias/{alias}\n    description: key {name}\n    deletion_window_days: 7\n"
        ));
    }
    s
}

/// DescribeKey of a key id, ARN or `alias/...` name.
async fn key_meta(emu: &Emulator, key: &str) -> aws_sdk_kms::types::KeyMetadata {
    common::kms_key(emu, key)
        .await
        .unwrap_or_else(|| panic!("describe {key}: no such key"))
}

async fn key_id(emu: &Emulator, alias: &str) -> String {
    key_meta(emu, &format!("alias/{alias}")).await.key_id
}

/// Live keys tagged with `address` (not pending deletion).
async fn keys_tagged(emu: &Emulator, address: &str) -> usize {
    common::live_keys(emu, "us-east-1")
        .await
        .iter()
        .filter(|(_, tags)| tags.get("novactl:address").map(String::as_str) == Some(address))
        .count()
}

#[tokio::test]
async fn apply_converges_and_second_apply_writes_nothing() {
    let emu = Emulator::start();
    let (a, b) = (unique("phi"), unique("other"));
    let p = Project::new(&spec("t1", &[("phi", &a), ("other", &b)]));
    let path = p.spec.to_str().unwrap();

    let plan = novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    assert!(plan.stdout.contains("+ kms.phi"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("Plan: 2 to create, 0 to update"),
        "{}",
        plan.stdout
    );

    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    let kms = emu.kms("us-east-1").await;
    let id = key_id(&emu, &a).await;
    let meta = key_meta(&emu, &id).await;
    assert_eq!(meta.description(), Some("key phi"));
    let rot = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(rot.key_rotation_enabled, "rotation defaults to on");
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.tag_key() == k)
            .map(|t| t.tag_value().to_string())
    };
    assert_eq!(tag("novactl:address").as_deref(), Some("kms.phi"));
    assert_eq!(tag("novactl:environment").as_deref(), Some("t1"));
    assert_eq!(tag("Project").as_deref(), Some("NOVAMIND"));

    let again = assert_no_changes(&emu, path);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);
    let second = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_eq!(
        second.writes(),
        0,
        "a converged apply must not write: {}",
        second.stderr
    );
    assert_eq!(keys_tagged(&emu, "kms.phi").await, 1);
}

#[tokio::test]
async fn drift_is_planned_on_exactly_the_drifted_address_and_repaired() {
    let emu = Emulator::start();
    let (a, b) = (unique("phi"), unique("other"));
    let p = Project::new(&spec("t2", &[("phi", &a), ("other", &b)]));
    let path = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);

    let kms = emu.kms("us-east-1").await;
    let id = key_id(&emu, &a).await;
    kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    kms.delete_alias()
        .alias_name(format!("alias/{a}"))
        .send()
        .await
        .unwrap();

    novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    let got = changes(&plan_json(&emu, &p));
    assert_eq!(
        got,
        vec![(
            "kms.phi".to_string(),
            "update".to_string(),
            vec!["alias".to_string(), "rotation".to_string()]
        )],
        "only kms.phi drifted"
    );

    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_eq!(
        key_id(&emu, &a).await,
        id,
        "the alias points at the same key again"
    );
    let rot = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(rot.key_rotation_enabled);
    assert_eq!(keys_tagged(&emu, "kms.phi").await, 1, "no second key");
    assert_no_changes(&emu, path);
}

#[tokio::test]
async fn crash_after_create_key_leaves_exactly_one_key() {
    let emu = Emulator::start();
    let a = unique("phi");
    let p = Project::new(&spec("t3", &[("phi", &a)]));
    let path = p.spec.to_str().unwrap();
    let failed = novactl_env(
        Some(&emu),
        &["apply", "-e", path, "--auto-approve"],
        &[("NOVACTL_FAIL_AT", "kms.after_create_key")],
    )
    .expect_code(1);
    assert!(failed.stderr.contains("kms.phi"), "{}", failed.stderr);
    assert!(failed.stderr.contains("InjectedFault"), "{}", failed.stderr);
    assert_eq!(
        keys_tagged(&emu, "kms.phi").await,
        1,
        "the key exists, without its alias"
    );

    // The next plan finds the tagged key: an update (alias), not a second create.
    let got = changes(&plan_json(&emu, &p));
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("kms.phi", "update")
    );
    assert!(got[0].2.contains(&"alias".to_string()), "{got:?}");

    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_eq!(
        keys_tagged(&emu, "kms.phi").await,
        1,
        "still exactly one key"
    );
    key_id(&emu, &a).await;
    assert_no_changes(&emu, path);
}

#[tokio::test]
async fn saved_plan_is_refused_when_live_state_moved() {
    let emu = Emulator::start();
    let (a, b) = (unique("phi"), unique("other"));
    let p = Project::new(&spec("t4", &[("phi", &a)]));
    let path = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);

    // A plan that adds a key, saved; then rotation is turned off behind its back.
    p.write_spec(&spec("t4", &[("phi", &a), ("other", &b)]));
    let saved = p.path("tf.plan.json");
    let saved = saved.to_str().unwrap();
    novactl(Some(&emu), &["plan", "-e", path, "--out", saved]).expect_code(0);
    let id = key_id(&emu, &a).await;
    emu.kms("us-east-1")
        .await
        .disable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap();

    let r = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve", saved]).expect_code(1);
    assert!(r.stderr.contains("stale"), "{}", r.stderr);
    assert!(
        r.stderr.contains("kms.phi") && r.stderr.contains("rotation"),
        "{}",
        r.stderr
    );
    assert_eq!(
        keys_tagged(&emu, "kms.other").await,
        0,
        "nothing of the stale plan ran"
    );

    // A fresh saved plan applies.
    novactl(Some(&emu), &["plan", "-e", path, "--out", saved]).expect_code(0);
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve", saved]).expect_code(0);
    assert_eq!(keys_tagged(&emu, "kms.other").await, 1);
    assert_no_changes(&emu, path);
}

#[tokio::test]
async fn a_foreign_key_with_the_spec_alias_is_a_conflict_and_left_alone() {
    let emu = Emulator::start();
    let a = unique("phi");
    let kms = emu.kms("us-east-1").await;
    let key = kms
        .create_key()
        .description("not novactl's")
        .send()
        .await
        .unwrap();
    let id = key.key_metadata.unwrap().key_id;
    kms.create_alias()
        .alias_name(format!("alias/{a}"))
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let p = Project::new(&spec("t5", &[("phi", &a)]));
    let path = p.spec.to_str().unwrap();

    let plan = novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    assert!(plan.stdout.contains("! kms.phi"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("not managed by novactl"),
        "{}",
        plan.stdout
    );
    let r = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(1);
    assert!(r.stderr.contains("kms.phi"), "{}", r.stderr);
    let meta = key_meta(&emu, &id).await;
    assert_eq!(meta.description(), Some("not novactl's"), "untouched");
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert!(tags.tags().is_empty(), "no tags added");

    // --adopt takes it over.
    novactl(
        Some(&emu),
        &["apply", "-e", path, "--auto-approve", "--adopt", "kms.phi"],
    )
    .expect_code(0);
    let meta = key_meta(&emu, &id).await;
    assert_eq!(meta.description(), Some("key phi"));
    assert_no_changes(&emu, path);
}

#[tokio::test]
async fn a_key_that_left_the_spec_is_deleted_and_destroy_removes_the_rest() {
    let emu = Emulator::start();
    let (a, b) = (unique("phi"), unique("other"));
    let p = Project::new(&spec("t6", &[("phi", &a), ("other", &b)]));
    let path = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    let other_id = key_id(&emu, &b).await;

    p.write_spec(&spec("t6", &[("phi", &a)]));
    let got = changes(&plan_json(&emu, &p));
    assert_eq!(got, vec![("kms.other".into(), "delete".into(), vec![])]);
    let plan = novactl(Some(&emu), &["plan", "-e", path]).expect_code(0);
    assert!(
        plan.stderr.contains("DELETES"),
        "deletes are announced loudly: {}",
        plan.stderr
    );
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    let meta = key_meta(&emu, &other_id).await;
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );

    let phi_id = key_id(&emu, &a).await;
    novactl(Some(&emu), &["destroy", "-e", path, "--auto-approve"]).expect_code(0);
    let meta = key_meta(&emu, &phi_id).await;
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    let r = novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    assert!(r.stdout.contains("+ kms.phi"), "{}", r.stdout);
}

#[tokio::test]
async fn spec_account_id_is_checked_before_anything_else() {
    let emu = Emulator::start();
    let a = unique("phi");
    let p = Project::new(&format!(
        "account_id: \"111111111111\"\n{}",
        spec("t7", &[("phi", &a)])
    ));
    let r = novactl(
        Some(&emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("111111111111") && r.stderr.contains("123456789012"),
        "{}",
        r.stderr
    );
    assert_eq!(keys_tagged(&emu, "kms.phi").await, 0);
}

#[tokio::test]
async fn apply_without_a_terminal_needs_auto_approve() {
    let emu = Emulator::start();
    let a = unique("phi");
    let p = Project::new(&spec("t8", &[("phi", &a)]));
    let r = novactl(Some(&emu), &["apply", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
    assert_eq!(keys_tagged(&emu, "kms.phi").await, 0);
}

#[tokio::test]
async fn one_failure_skips_only_its_dependents_and_every_failure_is_listed() {
    let emu = Emulator::start();
    let (a, b, c) = (unique("a"), unique("b"), unique("c"));
    let yaml = format!(
        "environment: t9\nregion: us-east-1\nkms:\n  a:\n    alias: alias/{a}\n  b:\n    alias: alias/{b}\n  c:\n    alias: alias/{c}\n    description: \"paired with {{{{ kms.a.arn }}}}\"\n"
    );
    let p = Project::new(&yaml);
    let path = p.spec.to_str().unwrap();
    let r = novactl_env(
        Some(&emu),
        &["apply", "-e", path, "--auto-approve"],
        &[("NOVACTL_FAIL_AT", "kms.after_create_key@kms.a")],
    )
    .expect_code(1);
    let failed: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("  kms."))
        .collect();
    assert_eq!(
        failed.len(),
        2,
        "every failed address is listed: {}",
        r.stderr
    );
    assert!(
        failed
            .iter()
            .any(|l| l.contains("kms.a") && l.contains("InjectedFault")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|l| l.contains("kms.c") && l.contains("DependencyFailed")),
        "{failed:?}"
    );
    assert_eq!(
        keys_tagged(&emu, "kms.b").await,
        1,
        "the independent branch went on"
    );
    assert_eq!(
        keys_tagged(&emu, "kms.c").await,
        0,
        "the dependent was not attempted"
    );

    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_eq!(
        keys_tagged(&emu, "kms.a").await,
        1,
        "resumed on the same key"
    );
    let c_id = key_id(&emu, &c).await;
    let a_arn = key_meta(&emu, &format!("alias/{a}")).await.arn.unwrap();
    let desc = key_meta(&emu, &c_id).await.description.unwrap();
    assert_eq!(
        desc,
        format!("paired with {a_arn}"),
        "rendered after kms.a existed"
    );
    assert_no_changes(&emu, path);
}

#[tokio::test]
async fn target_limits_plan_and_apply_and_a_saved_targeted_plan_keeps_its_limit() {
    let emu = Emulator::start();
    let (a, b, c) = (unique("a"), unique("b"), unique("c"));
    let yaml = format!(
        "environment: t10\nregion: us-east-1\nkms:\n  a:\n    alias: alias/{a}\n  b:\n    alias: alias/{b}\n  c:\n    alias: alias/{c}\n    description: \"needs {{{{ kms.a.arn }}}}\"\n"
    );
    let p = Project::new(&yaml);
    let path = p.spec.to_str().unwrap();
    let plan: serde_json::Value = serde_json::from_str(
        &novactl(
            Some(&emu),
            &["plan", "-e", path, "--json", "--target", "kms.c"],
        )
        .expect_code(0)
        .stdout,
    )
    .unwrap();
    let mut got: Vec<String> = changes(&plan).into_iter().map(|c| c.0).collect();
    got.sort();
    assert_eq!(
        got,
        vec!["kms.a", "kms.c"],
        "the target and what it depends on"
    );

    let saved = p.path("targeted.plan.json");
    let saved = saved.to_str().unwrap();
    novactl(
        Some(&emu),
        &["plan", "-e", path, "--target", "kms.c", "--out", saved],
    )
    .expect_code(0);
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve", saved]).expect_code(0);
    assert_eq!(keys_tagged(&emu, "kms.a").await, 1);
    assert_eq!(keys_tagged(&emu, "kms.c").await, 1);
    assert_eq!(
        keys_tagged(&emu, "kms.b").await,
        0,
        "outside the target: untouched"
    );
    let r = novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    assert!(r.stdout.contains("+ kms.b"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Plan: 1 to create, 0 to update"),
        "{}",
        r.stdout
    );
}
