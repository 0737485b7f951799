//! `s3.*` end to end: the real binary against moto (tests/emulator/moto_launcher.py), live
//! state read back through the SDK.
//!
//! Depends on two launcher patches: `patch_s3_get_bucket_versioning` (moto 5.2.x answers
//! GetBucketVersioning with a root the SDK cannot parse) and
//! `patch_s3_bucket_policy_secure_transport` (moto ignores policy conditions, so the TLS-only
//! deny would refuse every object call the destroy test makes).

mod common;

use std::collections::BTreeSet;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use common::{assert_no_changes, novactl, unique, Emulator, Project, Run};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

/// A spec with one KMS key and the given `s3:` section (indented under `s3:`).
fn spec(env: &str, region: &str, buckets: &str) -> String {
    format!(
        "environment: {env}\nregion: {region}\ntags:\n  Project: NOVAMIND\nkms:\n  phi:\n    \
         alias: alias/{env}-phi\n    deletion_window_days: 7\ns3:\n{buckets}"
    )
}

fn bucket(logical: &str, name: &str) -> String {
    format!("  {logical}:\n    name: {name}\n    kms_key: phi\n")
}

const RESULTS_LIFECYCLE: &str = "    lifecycle:\n      - id: DeleteOldResults\n        \
    prefix: results/\n        expire_days: 30\n      - id: TransitionToGlacier\n        \
    prefix: archive/\n        transitions:\n          - { days: 30, storage_class: GLACIER }\n        \
    expire_days: 365\n";

fn env_path(p: &Project) -> &str {
    p.spec.to_str().unwrap()
}

fn plan_json(emu: &Emulator, p: &Project, want: i32) -> Value {
    let run = novactl(
        Some(emu),
        &["plan", "-e", env_path(p), "--detailed-exitcode", "--json"],
    )
    .expect_code(want);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{}", run.stdout))
}

/// The changes of a JSON plan that are not no-ops.
fn changes(plan: &Value) -> Vec<&Value> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no-op")
        .collect()
}

fn apply(emu: &Emulator, p: &Project, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "-e", env_path(p), "--auto-approve"];
    args.extend_from_slice(extra);
    novactl(Some(emu), &args)
}

async fn key_arn(emu: &Emulator, region: &str, alias: &str) -> String {
    emu.kms(region)
        .await
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .expect("the key exists")
        .key_metadata
        .expect("metadata")
        .arn
        .expect("arn")
}

/// Asserts everything novactl promises about a bucket it manages.
async fn assert_managed_bucket(
    s3: &aws_sdk_s3::Client,
    name: &str,
    address: &str,
    key_arn: &str,
    region: &str,
) {
    let enc = s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .expect("encryption is configured");
    let rule = &enc
        .server_side_encryption_configuration()
        .expect("configuration")
        .rules()[0];
    let by_default = rule
        .apply_server_side_encryption_by_default()
        .expect("default encryption");
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms", "{name}");
    assert_eq!(by_default.kms_master_key_id(), Some(key_arn), "{name}");
    assert_eq!(rule.bucket_key_enabled(), Some(true), "{name}");

    let v = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled), "{name}");

    let pab = s3
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .expect("public access block is set");
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "{name}"
    );

    let policy = s3.get_bucket_policy().bucket(name).send().await.unwrap();
    let doc: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let stmts = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let deny = stmts
        .iter()
        .find(|s| s["Sid"] == "DenyInsecureTransport")
        .unwrap_or_else(|| panic!("{name}: no TLS-only statement in {doc}"));
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Principal"], "*");
    let cond = &deny["Condition"]["Bool"]["aws:SecureTransport"];
    assert!(
        cond == "false" || cond == &serde_json::json!(["false"]),
        "{cond}"
    );
    let resources: BTreeSet<String> = match &deny["Resource"] {
        Value::Array(a) => a.iter().map(|r| r.as_str().unwrap().to_string()).collect(),
        r => [r.as_str().unwrap().to_string()].into(),
    };
    assert_eq!(
        resources,
        [
            format!("arn:aws:s3:::{name}"),
            format!("arn:aws:s3:::{name}/*")
        ]
        .into()
    );

    let tags = s3.get_bucket_tagging().bucket(name).send().await.unwrap();
    let tag = |k: &str| {
        tags.tag_set()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(tag("novactl:address").as_deref(), Some(address));
    assert_eq!(tag("Project").as_deref(), Some("NOVAMIND"));
    assert!(tag("novactl:environment").is_some());

    let loc = s3.get_bucket_location().bucket(name).send().await.unwrap();
    let loc = loc
        .location_constraint()
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let want = if region == "us-east-1" { "" } else { region };
    assert_eq!(loc, want, "{name}: location constraint");
}

#[tokio::test]
async fn apply_creates_buckets_in_two_regions_then_converges() {
    let emu = Emulator::start();
    // us-east-1 (no location constraint), with lifecycle rules on one bucket.
    let env_a = unique("s3a").replace('-', "");
    let models = unique("nv-models");
    let results = unique("nv-results");
    let a = Project::new(&spec(
        &env_a,
        "us-east-1",
        &format!(
            "{}{}{RESULTS_LIFECYCLE}",
            bucket("models", &models),
            bucket("results", &results)
        ),
    ));
    // eu-west-1 (LocationConstraint).
    let env_b = unique("s3b").replace('-', "");
    let eu = unique("nv-eu");
    let b = Project::new(&spec(&env_b, "eu-west-1", &bucket("models", &eu)));

    apply(&emu, &a, &[]).expect_code(0);
    apply(&emu, &b, &[]).expect_code(0);

    let s3 = emu.s3("us-east-1").await;
    let arn_a = key_arn(&emu, "us-east-1", &format!("alias/{env_a}-phi")).await;
    assert_managed_bucket(&s3, &models, "s3.models", &arn_a, "us-east-1").await;
    assert_managed_bucket(&s3, &results, "s3.results", &arn_a, "us-east-1").await;
    let s3_eu = emu.s3("eu-west-1").await;
    let arn_b = key_arn(&emu, "eu-west-1", &format!("alias/{env_b}-phi")).await;
    assert!(arn_b.contains(":eu-west-1:"), "{arn_b}");
    assert_managed_bucket(&s3_eu, &eu, "s3.models", &arn_b, "eu-west-1").await;

    // Lifecycle rules as written in the spec.
    let lc = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&results)
        .send()
        .await
        .expect("lifecycle is configured");
    let rules = lc.rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id(), Some("DeleteOldResults"));
    assert_eq!(rules[0].expiration().and_then(|e| e.days()), Some(30));
    assert_eq!(rules[0].filter().and_then(|f| f.prefix()), Some("results/"));
    assert_eq!(rules[1].id(), Some("TransitionToGlacier"));
    assert_eq!(rules[1].expiration().and_then(|e| e.days()), Some(365));
    let t = &rules[1].transitions()[0];
    assert_eq!(t.days(), Some(30));
    assert_eq!(t.storage_class().map(|s| s.as_str()), Some("GLACIER"));
    // No lifecycle configuration where the spec has none.
    let none = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&models)
        .send()
        .await
        .expect_err("no lifecycle on models");
    assert_eq!(none.code(), Some("NoSuchLifecycleConfiguration"));

    // Converged: nothing to do, and a second apply writes nothing.
    for p in [&a, &b] {
        let run = assert_no_changes(&emu, env_path(p));
        assert!(run.stdout.contains("No changes."), "{}", run.stdout);
        let again = apply(&emu, p, &[]).expect_code(0);
        assert_eq!(again.writes(), 0, "second apply wrote:\n{}", again.stderr);
    }
}

#[tokio::test]
async fn out_of_band_drift_is_planned_and_repaired() {
    let emu = Emulator::start();
    let env = unique("drift").replace('-', "");
    let models = unique("nv-models");
    let logs = unique("nv-logs");
    let p = Project::new(&spec(
        &env,
        "us-east-1",
        &format!("{}{}", bucket("models", &models), bucket("logs", &logs)),
    ));
    apply(&emu, &p, &[]).expect_code(0);

    let s3 = emu.s3("us-east-1").await;
    s3.put_bucket_versioning()
        .bucket(&models)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.delete_public_access_block()
        .bucket(&models)
        .send()
        .await
        .unwrap();

    let plan = plan_json(&emu, &p, 2);
    let ch = changes(&plan);
    assert_eq!(ch.len(), 1, "only s3.models drifted: {plan:#}");
    assert_eq!(ch[0]["address"], "s3.models");
    assert_eq!(ch[0]["action"], "update");
    let paths: BTreeSet<&str> = ch[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "versioning",
            "public_access_block.block_public_acls",
            "public_access_block.ignore_public_acls",
            "public_access_block.block_public_policy",
            "public_access_block.restrict_public_buckets",
        ])
    );
    let versioning = ch[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "versioning")
        .unwrap();
    assert_eq!(
        (&versioning["before"], &versioning["after"]),
        (&Value::Bool(false), &Value::Bool(true))
    );

    let run = apply(&emu, &p, &[]).expect_code(0);
    // PutBucketVersioning and PutPublicAccessBlock, nothing else.
    assert_eq!(run.writes(), 2, "{}", run.stderr);
    let arn = key_arn(&emu, "us-east-1", &format!("alias/{env}-phi")).await;
    assert_managed_bucket(&s3, &models, "s3.models", &arn, "us-east-1").await;
    assert_no_changes(&emu, env_path(&p));
}

#[tokio::test]
async fn spec_changes_write_only_the_changed_attributes() {
    let emu = Emulator::start();
    let env = unique("edit").replace('-', "");
    let results = unique("nv-results");
    let p = Project::new(&spec(
        &env,
        "us-east-1",
        &format!("{}{RESULTS_LIFECYCLE}", bucket("results", &results)),
    ));
    apply(&emu, &p, &[]).expect_code(0);

    // Versioning off, lifecycle rules removed.
    p.write_spec(&spec(
        &env,
        "us-east-1",
        &format!("{}    versioning: false\n", bucket("results", &results)),
    ));
    let plan = plan_json(&emu, &p, 2);
    let ch = changes(&plan);
    assert_eq!(ch.len(), 1, "{plan:#}");
    assert_eq!(ch[0]["action"], "update");
    let paths: BTreeSet<&str> = ch[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, BTreeSet::from(["lifecycle", "versioning"]));

    // Versioning off is a HIPAA finding (NOVA-S3-003): the gate needs it allowed.
    let run = apply(&emu, &p, &["--allow-noncompliant"]).expect_code(0);
    assert_eq!(run.writes(), 2, "{}", run.stderr);
    let s3 = emu.s3("us-east-1").await;
    let v = s3
        .get_bucket_versioning()
        .bucket(&results)
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended));
    let gone = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&results)
        .send()
        .await
        .expect_err("lifecycle deleted");
    assert_eq!(gone.code(), Some("NoSuchLifecycleConfiguration"));
    assert_no_changes(&emu, env_path(&p));
}

#[tokio::test]
async fn a_bucket_novactl_did_not_create_is_a_conflict_and_left_untouched() {
    let emu = Emulator::start();
    let env = unique("foreign").replace('-', "");
    let name = unique("nv-taken");
    let s3 = emu.s3("us-east-1").await;
    s3.create_bucket().bucket(&name).send().await.unwrap();
    let enc_before = format!(
        "{:?}",
        s3.get_bucket_encryption()
            .bucket(&name)
            .send()
            .await
            .map(|o| o.server_side_encryption_configuration)
            .map_err(|e| e.code().map(str::to_string))
    );

    let p = Project::new(&spec(&env, "us-east-1", &bucket("models", &name)));
    let plan = plan_json(&emu, &p, 2);
    let models = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "s3.models")
        .expect("s3.models in the plan");
    assert_eq!(models["action"], "conflict", "{plan:#}");

    let run = apply(&emu, &p, &[]).expect_code(1);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains(&name), "the error names the bucket:\n{said}");

    // Untouched: no tags, no policy, no public access block, encryption as it was.
    let tags = s3
        .get_bucket_tagging()
        .bucket(&name)
        .send()
        .await
        .expect_err("no tags");
    assert_eq!(tags.code(), Some("NoSuchTagSet"));
    let policy = s3
        .get_bucket_policy()
        .bucket(&name)
        .send()
        .await
        .expect_err("no policy");
    assert_eq!(policy.code(), Some("NoSuchBucketPolicy"));
    let pab = s3
        .get_public_access_block()
        .bucket(&name)
        .send()
        .await
        .expect_err("no public access block");
    assert_eq!(pab.code(), Some("NoSuchPublicAccessBlockConfiguration"));
    let enc_after = format!(
        "{:?}",
        s3.get_bucket_encryption()
            .bucket(&name)
            .send()
            .await
            .map(|o| o.server_side_encryption_configuration)
            .map_err(|e| e.code().map(str::to_string))
    );
    assert_eq!(enc_before, enc_after);

    // Destroy refuses while the spec names a bucket that is not ours, and deletes nothing.
    let run = novactl(
        Some(&emu),
        &["destroy", "-e", env_path(&p), "--auto-approve", "--force"],
    )
    .expect_code(1);
    assert!(
        run.stderr.contains("refusing to destroy")
            && run.stderr.contains("s3.models: destroy deletes nothing"),
        "{}",
        run.stderr
    );
    s3.head_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("still there");

    // Adopting it brings it under management.
    apply(&emu, &p, &["--adopt", "s3.models"]).expect_code(0);
    let arn = key_arn(&emu, "us-east-1", &format!("alias/{env}-phi")).await;
    assert_managed_bucket(&s3, &name, "s3.models", &arn, "us-east-1").await;
    assert_no_changes(&emu, env_path(&p));
}

#[tokio::test]
async fn destroy_keeps_a_non_empty_bucket_unless_forced() {
    let emu = Emulator::start();
    let env = unique("destroy").replace('-', "");
    let name = unique("nv-data");
    let p = Project::new(&spec(&env, "us-east-1", &bucket("models", &name)));
    apply(&emu, &p, &[]).expect_code(0);

    // More objects than one ListObjectVersions page / DeleteObjects batch, plus a second
    // version and a delete marker.
    let s3 = emu.s3("us-east-1").await;
    let puts = (0..1005).map(|i| {
        let s3 = s3.clone();
        let name = name.clone();
        async move {
            s3.put_object()
                .bucket(&name)
                .key(format!("obj/{i:05}"))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .map(|_| ())
        }
    });
    let _: Vec<()> = futures::stream::iter(puts)
        .buffer_unordered(32)
        .try_collect()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&name)
        .key("obj/00000")
        .body(ByteStream::from_static(b"y"))
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&name)
        .key("obj/00001")
        .send()
        .await
        .unwrap();

    let run = novactl(
        Some(&emu),
        &["destroy", "-e", env_path(&p), "--auto-approve"],
    )
    .expect_code(1);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!("bucket {name} is not empty")) && said.contains("--force"),
        "{said}"
    );
    s3.head_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("bucket kept");
    // The key it depends on is kept as well.
    let key = emu
        .kms("us-east-1")
        .await
        .describe_key()
        .key_id(format!("alias/{env}-phi"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        key.key_metadata().unwrap().key_state().map(|s| s.as_str()),
        Some("Enabled")
    );

    novactl(
        Some(&emu),
        &["destroy", "-e", env_path(&p), "--auto-approve", "--force"],
    )
    .expect_code(0);
    let gone = s3
        .head_bucket()
        .bucket(&name)
        .send()
        .await
        .expect_err("bucket deleted");
    assert!(
        gone.as_service_error().is_some_and(|e| e.is_not_found()),
        "{gone:?}"
    );
    // Repeat-safe: nothing left to destroy.
    novactl(
        Some(&emu),
        &["destroy", "-e", env_path(&p), "--auto-approve", "--force"],
    )
    .expect_code(0);
}

#[tokio::test]
async fn a_bucket_that_left_the_spec_is_discovered_and_deleted() {
    let emu = Emulator::start();
    let env = unique("orphan").replace('-', "");
    let models = unique("nv-models");
    let logs = unique("nv-logs");
    let p = Project::new(&spec(
        &env,
        "us-east-1",
        &format!("{}{}", bucket("models", &models), bucket("logs", &logs)),
    ));
    apply(&emu, &p, &[]).expect_code(0);
    // A bucket of the same environment in another region is not this region's to delete.
    let eu = unique("nv-eu");
    let other = Project::new(&spec(&env, "eu-west-1", &bucket("other", &eu)));
    apply(&emu, &other, &[]).expect_code(0);

    p.write_spec(&spec(&env, "us-east-1", &bucket("models", &models)));
    let plan = plan_json(&emu, &p, 2);
    let ch = changes(&plan);
    assert_eq!(ch.len(), 1, "{plan:#}");
    assert_eq!(ch[0]["address"], "s3.logs");
    assert_eq!(ch[0]["action"], "delete");
    apply(&emu, &p, &[]).expect_code(0);

    let s3 = emu.s3("us-east-1").await;
    let gone = s3
        .head_bucket()
        .bucket(&logs)
        .send()
        .await
        .expect_err("deleted");
    assert!(gone.as_service_error().is_some_and(|e| e.is_not_found()));
    s3.head_bucket().bucket(&models).send().await.expect("kept");
    s3.head_bucket()
        .bucket(&eu)
        .send()
        .await
        .expect("other region kept");
    assert_no_changes(&emu, env_path(&p));
}
