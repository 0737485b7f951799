//! The shipped `environments/local.yaml` (the seed's whole stack, DR included) end to end against
//! the emulator: apply from empty, idempotence, and out-of-band drift across kinds showing on
//! exactly the drifted addresses.

mod common;

use common::{assert_no_changes, novactl, Emulator, Project};
use serde_json::Value;

fn local_spec() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("environments/local.yaml")).unwrap()
}

fn changed(emu: &Emulator, path: &str) -> Vec<(String, String)> {
    let r = novactl(Some(emu), &["plan", "-e", path, "--json"]).expect_code(0);
    let plan: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut v: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn seed_stack_applies_converges_and_repairs_drift_on_exactly_the_drifted_addresses() {
    let emu = Emulator::start();
    let p = Project::new(&local_spec());
    let path = p.spec.to_str().unwrap();

    // The model artifact goes into the models bucket before the models are made (the DR
    // model is made from a verified copy of it): the bucket first, then everything.
    novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            path,
            "--auto-approve",
            "--target",
            "s3.models",
        ],
    )
    .expect_code(0);
    emu.s3("us-east-1")
        .await
        .put_object()
        .bucket("novamind-local-models")
        .key("models/mentallama-packaged.tar.gz")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"model"))
        .send()
        .await
        .unwrap();
    let first = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    eprintln!(
        "apply from empty: {}",
        first
            .stderr
            .lines()
            .rfind(|l| l.contains("AWS calls"))
            .unwrap()
    );
    let plan = assert_no_changes(&emu, path);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    eprintln!(
        "no-op plan: {}",
        plan.stderr
            .lines()
            .rfind(|l| l.contains("AWS calls"))
            .unwrap()
    );
    let again = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_eq!(again.writes(), 0, "{}", again.stderr);

    // Out-of-band changes, one per kind of drift the issue names.
    let kms = emu.kms("us-east-1").await;
    let key = kms
        .describe_key()
        .key_id("alias/novamind-local-phi")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    kms.delete_alias()
        .alias_name("alias/novamind-local-phi")
        .send()
        .await
        .unwrap();
    let s3 = emu.s3("us-east-1").await;
    s3.put_bucket_versioning()
        .bucket("novamind-local-models")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.delete_public_access_block()
        .bucket("novamind-local-logs")
        .send()
        .await
        .unwrap();
    let iam = emu.iam().await;
    iam.put_role_policy()
        .role_name("SageMakerExecutionRole")
        .policy_name("execution")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();

    novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    assert_eq!(
        changed(&emu, path),
        vec![
            ("iam.sagemaker_execution".to_string(), "update".to_string()),
            ("kms.phi".to_string(), "update".to_string()),
            ("s3.logs".to_string(), "update".to_string()),
            ("s3.models".to_string(), "update".to_string()),
        ]
    );
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_no_changes(&emu, path);

    // Repaired in place: the same key, one key, the old settings back.
    let meta = kms
        .describe_key()
        .key_id("alias/novamind-local-phi")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_id, key);
    assert!(
        kms.get_key_rotation_status()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );
    let keys = kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1, "no second key");
    let v = s3
        .get_bucket_versioning()
        .bucket("novamind-local-models")
        .send()
        .await
        .unwrap();
    assert_eq!(
        v.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled)
    );
    let pab = s3
        .get_public_access_block()
        .bucket("novamind-local-logs")
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(pab.block_public_acls, Some(true));
    assert_eq!(pab.restrict_public_buckets, Some(true));
    let doc = iam
        .get_role_policy()
        .role_name("SageMakerExecutionRole")
        .policy_name("execution")
        .send()
        .await
        .unwrap()
        .policy_document;
    let doc = urlencoding::decode(&doc).unwrap().into_owned();
    assert!(doc.contains("novamind-local-models"), "restored: {doc}");
    assert!(!doc.contains("\"s3:*\""), "restored: {doc}");
}
