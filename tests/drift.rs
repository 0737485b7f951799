//! `novactl drift` for schedules: on the S3 state backend, from a fresh checkout (no local
//! `.novactl/`), an out-of-band change is "drift" (exit 2), a spec change not applied yet is
//! reported but clean (exit 0), apply repairs the drift (exit 0); `--notify` publishes one
//! redacted message read back from the emulator; `--format json|markdown`. With the local
//! backend a fresh checkout has no record: differences count as drift, with a warning.

mod common;

use common::{kms_key, novactl, unique, Emulator, Project};
use serde_json::Value;

/// A key, a topic encrypted with it whose name holds a secret (`sensitive_vars`), on the S3
/// state backend unless `state` is false.
fn spec(env: &str, bucket: &str, alias: &str, secret: &str, state: bool) -> String {
    let backend = if state {
        format!("state:\n  s3:\n    bucket: {bucket}\n")
    } else {
        String::new()
    };
    format!(
        "environment: {env}\nregion: us-east-1\n{backend}vars:\n  token: {secret}\n\
         sensitive_vars: [token]\nkms:\n  phi:\n    alias: alias/{alias}\n    deletion_window_days: 7\n\
         sns:\n  alerts:\n    name: alerts-{{{{ vars.token }}}}\n    kms_key: phi\n"
    )
}

async fn disable_rotation(emu: &Emulator, alias: &str) {
    let key = kms_key(emu, &format!("alias/{alias}"))
        .await
        .expect("the key");
    emu.kms("us-east-1")
        .await
        .disable_key_rotation()
        .key_id(key.key_id())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn drift_from_a_fresh_checkout_on_the_s3_backend_tells_drift_from_spec_change_and_notifies() {
    let emu = Emulator::start();
    let (env, bucket, alias) = (unique("dft"), unique("dft-state"), unique("dft-phi"));
    let secret = format!("tok{}", unique("s").replace('-', ""));
    let yaml = spec(&env, &bucket, &alias, &secret, true);
    let first = Project::new(&yaml);
    let path = first.spec.to_str().unwrap();
    novactl(Some(&emu), &["bootstrap", "-e", path]).expect_code(0);
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);

    // A fresh checkout: the spec and templates in a new directory, no `.novactl/`.
    let fresh = Project::new(&yaml);
    assert!(!fresh.path("environments/.novactl").exists());
    let f = fresh.spec.to_str().unwrap();
    let clean = novactl(Some(&emu), &["drift", "-e", f]).expect_code(0);
    assert!(clean.stdout.contains("CLEAN"), "{}", clean.stdout);
    assert!(!clean.stderr.contains("no record"), "{}", clean.stderr);
    assert_eq!(clean.writes(), 0, "drift writes nothing: {}", clean.stderr);

    // A spec change not applied yet is reported, not drift: exit 0.
    fresh.write_spec(&yaml.replace(
        "    kms_key: phi\n",
        "    kms_key: phi\n    tags:\n      team: ml\n",
    ));
    let pending = novactl(Some(&emu), &["drift", "-e", f]).expect_code(0);
    assert!(
        pending
            .stdout
            .contains("sns.alerts: spec change (not applied yet): tags")
            && !pending.stdout.contains("drift in"),
        "{}",
        pending.stdout
    );
    fresh.write_spec(&yaml);

    // Out of band: rotation off. Drift (not "differs") and a violation: exit 2.
    disable_rotation(&emu, &alias).await;
    let drifted = novactl(Some(&emu), &["drift", "-e", f]).expect_code(2);
    let out = &drifted.stdout;
    assert!(
        out.contains("kms.phi: drift in rotation (changed outside novactl since the last apply)"),
        "{out}"
    );
    assert!(!out.contains("differs"), "{out}");
    assert!(
        out.contains("Non-compliant now (check --live): 1") && out.contains("key rotation is off"),
        "{out}"
    );
    assert!(out.contains("DRIFT AND VIOLATIONS"), "{out}");
    assert_eq!(drifted.writes(), 0, "{}", drifted.stderr);

    // JSON: the same summary as data.
    let j = novactl(Some(&emu), &["drift", "-e", f, "--format", "json"]).expect_code(2);
    let doc: Value =
        serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("{e}: {}", j.stdout));
    assert_eq!(doc["status"], "drift-and-violations");
    assert_eq!(doc["last_applied_record"], true);
    assert_eq!(doc["drift"][0]["address"], "kms.phi");
    assert_eq!(doc["drift"][0]["class"], "drift");
    assert_eq!(doc["drift"][0]["attributes"][0], "rotation");
    assert_eq!(doc["violations"][0]["address"], "kms.phi");
    assert_eq!(doc["spec_changes"].as_array().map(Vec::len), Some(0));
    let md = novactl(Some(&emu), &["drift", "-e", f, "--format", "markdown"]).expect_code(2);
    assert!(
        md.stdout.contains("### Drift (1)") && md.stdout.contains("| `kms.phi` | update |"),
        "{}",
        md.stdout
    );

    // --notify: one message on the spec topic, naming the drifted address, no secret.
    assert_eq!(
        emu.sns_messages(),
        serde_json::json!({}),
        "nothing published yet"
    );
    let n = novactl(Some(&emu), &["drift", "-e", f, "--notify", "sns.alerts"]).expect_code(2);
    assert!(
        n.stderr.contains("Published the summary to sns.alerts"),
        "{}",
        n.stderr
    );
    assert!(
        !n.stderr.contains(&secret) && !n.stdout.contains(&secret),
        "{}",
        n.stderr
    );
    let all = emu.sns_messages();
    let topics = all.as_object().unwrap();
    assert_eq!(topics.len(), 1, "{all}");
    let (arn, msgs) = topics.iter().next().unwrap();
    assert!(
        arn.ends_with(&format!(":alerts-{secret}")),
        "the spec's topic: {arn}"
    );
    assert_eq!(msgs.as_array().unwrap().len(), 1, "{all}");
    let m = msgs[0]["message"].as_str().unwrap();
    assert!(m.contains("kms.phi: drift in rotation"), "{m}");
    assert!(!m.contains(&secret) && !m.contains("testing"), "{m}");
    assert!(msgs[0]["subject"].as_str().unwrap().contains(&env), "{all}");

    // A bad --notify is refused before any AWS call; nothing more is published.
    for bad in ["sns.nope", "kms.phi", "dr.sns.alerts", "alerts"] {
        let r = novactl(Some(&emu), &["drift", "-e", f, "--notify", bad]).expect_code(1);
        assert!(
            r.stderr.contains(&format!("--notify {bad}: not a topic")),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("AWS calls"), "no AWS call: {}", r.stderr);
    }
    assert_eq!(emu.sns_messages()[arn].as_array().unwrap().len(), 1);

    // apply repairs it; drift is clean again.
    novactl(Some(&emu), &["apply", "-e", f, "--auto-approve"]).expect_code(0);
    novactl(Some(&emu), &["drift", "-e", f]).expect_code(0);
}

#[tokio::test]
async fn without_a_record_of_the_last_apply_a_difference_counts_as_drift() {
    let emu = Emulator::start();
    let (env, alias) = (unique("dfl"), unique("dfl-phi"));
    let yaml = spec(&env, "", &alias, "tokplain", false);
    let first = Project::new(&yaml);
    novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            first.spec.to_str().unwrap(),
            "--auto-approve",
        ],
    )
    .expect_code(0);
    // The local backend's record stays with the first checkout.
    let fresh = Project::new(&yaml);
    let f = fresh.spec.to_str().unwrap();
    let r = novactl(Some(&emu), &["drift", "-e", f]).expect_code(0);
    assert!(
        r.stderr.contains("holds no record of the last apply"),
        "{}",
        r.stderr
    );
    disable_rotation(&emu, &alias).await;
    let r = novactl(Some(&emu), &["drift", "-e", f]).expect_code(2);
    assert!(
        r.stdout
            .contains("no record of the last apply (counted as drift): 1")
            && r.stdout
                .contains("kms.phi: differs from the spec in rotation"),
        "{}",
        r.stdout
    );
    // The first checkout has the record: the same difference is drift there.
    let r = novactl(Some(&emu), &["drift", "-e", first.spec.to_str().unwrap()]).expect_code(2);
    assert!(
        r.stdout.contains("kms.phi: drift in rotation"),
        "{}",
        r.stdout
    );
}
