//! The DR stack end to end: the real binary against the emulator, live state read back through
//! the SDK in both regions.
//!
//! Depends on the launcher's DR patches (tests/emulator/README.md):
//! `patch_s3_replication_config_as_written` (moto rewrites the rule), `patch_s3_replicate_objects`
//! (moto never replicates; `--replication-delay`), `patch_sagemaker_endpoint_transitions`
//! (`--endpoint-delay`), `patch_sagemaker_runtime_invoke_endpoint` (the canary), and the
//! settings endpoint (`Emulator::configure`); plus the SageMaker patches tests/sagemaker.rs
//! names. Two scenarios share nothing and run in parallel, each on its own emulator.

mod common;

use std::path::PathBuf;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use common::{assert_no_changes, changes, novactl, plan_json, Emulator, Project, Run};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PRIMARY: &str = "us-east-1";
const DR: &str = "us-west-2";
const MODELS: &str = "novadr-prod-models";
const LOGS: &str = "novadr-prod-logs";
const TWIN_MODELS: &str = "novadr-prod-models-us-west-2";
const TWIN_LOGS: &str = "novadr-prod-logs-us-west-2";
const ALIAS: &str = "alias/novadr-phi";
const ENDPOINT: &str = "mentallama-endpoint";
const ARTIFACT: &str = "models/mentallama-packaged.tar.gz";
const ROLE: &str = "novactl-prod-replication-models";
const RID: &str = "endpoint/mentallama-endpoint/variant/default";
const DIM: &str = "sagemaker:variant:DesiredInstanceCount";

/// The seed's primary stack with its DR stack: two instances behind autoscaling in the
/// primary, a warm standby of one in us-west-2; objectives short enough for a test (RPO 3 s,
/// RTO 30 s).
const SPEC: &str = r#"environment: prod
region: us-east-1
vars:
  project: novadr
tags:
  Project: NOVAMIND
kms:
  phi:
    alias: alias/novadr-phi
    deletion_window_days: 7
    policy: ../policies/kms-phi.json.tera
s3:
  models:
    name: "{{ vars.project }}-{{ environment }}-models"
    kms_key: phi
  logs:
    name: "{{ vars.project }}-{{ environment }}-logs"
    kms_key: phi
iam:
  sagemaker_execution:
    name: SageMakerExecutionRole
    trust: [sagemaker.amazonaws.com]
    policies:
      execution: ../policies/sagemaker-execution.json.tera
sagemaker:
  models:
    mentallama:
      name: mentallama-model
      image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04
      model_data: "s3://{{ s3.models.name }}/models/mentallama-packaged.tar.gz"
      role: sagemaker_execution
      environment:
        HF_TASK: text-generation
        SAGEMAKER_REGION: "{{ region }}"
      vpc:
        security_groups: [sg-0123456789abcdef0]
        subnets: [subnet-0aaaaaaaaaaaaaaaa]
  endpoints:
    mentallama:
      name: mentallama-endpoint
      model: mentallama
      instance_type: ml.g5.2xlarge
      instance_count: 2
      kms_key: phi
      timeout_minutes: 1
      data_capture:
        bucket: logs
        prefix: datacapture
      autoscaling:
        min: 2
        max: 4
        target_invocations_per_instance: 80
dr:
  region: us-west-2
  rto_minutes: 0.5
  rpo_minutes: 0.05
  replicate:
    kms: [phi]
    s3: [models, logs]
    sagemaker_endpoints: [mentallama]
  instance_count: 1
  vpc:
    security_groups: [sg-0fedcba9876543210]
    subnets: [subnet-0cccccccccccccccc]
"#;

fn path(p: &Project) -> &str {
    p.spec.to_str().unwrap()
}

fn dr_cmd(emu: &Emulator, p: &Project, args: &[&str]) -> Run {
    let mut all = vec!["dr"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-e", path(p)]);
    novactl(Some(emu), &all)
}

/// The artifact's bytes and their SHA-256 (base64, as S3 reports it).
fn artifact() -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let sha = aws_smithy_types::base64::encode(Sha256::digest(&bytes));
    (bytes, sha)
}

/// Apply from empty the way a model stack is built: the models bucket first, the artifact
/// uploaded into it, then everything (the DR model needs a verified copy of the artifact).
/// `before` is written too, without a checksum: it exists before replication does.
async fn build(emu: &Emulator, p: &Project) {
    novactl(
        Some(emu),
        &[
            "apply",
            "-e",
            path(p),
            "--auto-approve",
            "--target",
            "s3.models",
        ],
    )
    .expect_code(0);
    let s3 = emu.s3(PRIMARY).await;
    put(&s3, ARTIFACT, artifact().0, Some(ChecksumAlgorithm::Sha256)).await;
    put(
        &s3,
        "data/before.txt",
        b"written before replication".to_vec(),
        None,
    )
    .await;
    let r = novactl(Some(emu), &["apply", "-e", path(p), "--auto-approve"]).expect_code(0);
    eprintln!(
        "apply: {}",
        r.stderr.lines().rfind(|l| l.contains("AWS calls")).unwrap()
    );
}

/// Writes an object into the primary models bucket.
async fn put(s3: &aws_sdk_s3::Client, key: &str, bytes: Vec<u8>, sum: Option<ChecksumAlgorithm>) {
    s3.put_object()
        .bucket(MODELS)
        .key(key)
        .body(ByteStream::from(bytes))
        .set_checksum_algorithm(sum)
        .send()
        .await
        .unwrap();
}

async fn dr_key_arn(emu: &Emulator) -> String {
    emu.kms(DR)
        .await
        .describe_key()
        .key_id(ALIAS)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<(String, String)> {
    let h = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .ok()?;
    Some((
        h.version_id.unwrap_or_default(),
        h.checksum_sha256.unwrap_or_default(),
    ))
}

/// (status, desired instance count) of the DR endpoint.
async fn standby(emu: &Emulator) -> (String, i32) {
    let d = emu
        .sagemaker(DR)
        .await
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .unwrap();
    (
        d.endpoint_status().unwrap().as_str().to_string(),
        d.production_variants()[0].desired_instance_count().unwrap(),
    )
}

/// (min, max) of the endpoint's scalable target in `region`, if registered.
async fn scaling(emu: &Emulator, region: &str) -> Option<(i32, i32)> {
    let out = emu
        .autoscaling(region)
        .await
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_ids(RID)
        .scalable_dimension(ScalableDimension::from(DIM))
        .send()
        .await
        .unwrap();
    out.scalable_targets()
        .first()
        .map(|t| (t.min_capacity(), t.max_capacity()))
}

async fn canaries(emu: &Emulator, region: &str, bucket: &str) -> usize {
    emu.s3(region)
        .await
        .list_object_versions()
        .bucket(bucket)
        .prefix("novactl-drill/")
        .send()
        .await
        .unwrap()
        .versions()
        .len()
}

fn report(p: &Project, name: &str) -> (PathBuf, Value) {
    let file = p.path(name);
    let text = std::fs::read_to_string(&file).unwrap();
    (file, serde_json::from_str(&text).unwrap())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Done when: apply from empty builds primary and DR, the next plan is "No changes.", and
/// every DR resource reads back as the spec says; drift on the DR side shows on exactly those
/// `dr.*` addresses and is repaired; destroy removes the DR side too, with the same
/// protections.
#[tokio::test]
async fn dr_stack_is_built_checked_repaired_and_destroyed() {
    let emu = Emulator::start();
    let p = Project::new(SPEC);
    build(&emu, &p).await;
    assert_no_changes(&emu, path(&p));

    // DR key: a second key in us-west-2 with the alias, rotation, the policy rendered there.
    let kms = emu.kms(DR).await;
    let key = kms
        .describe_key()
        .key_id(ALIAS)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_arn = key.arn.clone().unwrap();
    assert!(key_arn.starts_with("arn:aws:kms:us-west-2:"), "{key_arn}");
    assert!(
        kms.get_key_rotation_status()
            .key_id(&key.key_id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );
    let policy = kms
        .get_key_policy()
        .key_id(&key.key_id)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(policy.contains("logs.us-west-2.amazonaws.com"), "{policy}");
    let tags = kms
        .list_resource_tags()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.tag_key() == "novactl:address" && t.tag_value() == "dr.kms.phi"));
    let primary_key = emu
        .kms(PRIMARY)
        .await
        .describe_key()
        .key_id(ALIAS)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    assert_ne!(primary_key, key_arn);

    // Twin buckets: in us-west-2, encrypted with the DR key, versioned, blocked, TLS-only.
    let s3w = emu.s3(DR).await;
    for twin in [TWIN_MODELS, TWIN_LOGS] {
        let loc = s3w.get_bucket_location().bucket(twin).send().await.unwrap();
        assert_eq!(loc.location_constraint().unwrap().as_str(), DR, "{twin}");
        let enc = s3w
            .get_bucket_encryption()
            .bucket(twin)
            .send()
            .await
            .unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        let by_default = rule.apply_server_side_encryption_by_default().unwrap();
        assert_eq!(
            by_default.kms_master_key_id(),
            Some(key_arn.as_str()),
            "{twin}"
        );
        assert_eq!(rule.bucket_key_enabled(), Some(true));
        let v = s3w
            .get_bucket_versioning()
            .bucket(twin)
            .send()
            .await
            .unwrap();
        assert_eq!(v.status().unwrap().as_str(), "Enabled", "{twin}");
        let pab = s3w
            .get_public_access_block()
            .bucket(twin)
            .send()
            .await
            .unwrap()
            .public_access_block_configuration
            .unwrap();
        assert_eq!(
            (
                pab.block_public_acls,
                pab.ignore_public_acls,
                pab.block_public_policy,
                pab.restrict_public_buckets
            ),
            (Some(true), Some(true), Some(true), Some(true)),
            "{twin}"
        );
        let policy = s3w.get_bucket_policy().bucket(twin).send().await.unwrap();
        let policy = policy.policy().unwrap();
        assert!(policy.contains("aws:SecureTransport"), "{policy}");
        assert!(policy.contains(&format!("arn:aws:s3:::{twin}")), "{policy}");
    }

    // Replication on the primary bucket: novactl's role, RTC, metrics, the DR key for replicas.
    let s3 = emu.s3(PRIMARY).await;
    let rep = s3
        .get_bucket_replication()
        .bucket(MODELS)
        .send()
        .await
        .unwrap()
        .replication_configuration
        .unwrap();
    assert_eq!(
        rep.role(),
        format!("arn:aws:iam::{}:role/{ROLE}", common::ACCOUNT)
    );
    let rule = &rep.rules()[0];
    assert_eq!(rule.id(), Some("novactl-dr-models"));
    assert_eq!(rule.status().as_str(), "Enabled");
    let dest = rule.destination().unwrap();
    assert_eq!(dest.bucket(), format!("arn:aws:s3:::{TWIN_MODELS}"));
    assert_eq!(
        dest.encryption_configuration()
            .unwrap()
            .replica_kms_key_id(),
        Some(key_arn.as_str())
    );
    let rtc = dest.replication_time().unwrap();
    assert_eq!(rtc.status().as_str(), "Enabled");
    assert_eq!(rtc.time().unwrap().minutes(), Some(15));
    assert_eq!(dest.metrics().unwrap().status().as_str(), "Enabled");
    assert_eq!(
        rule.source_selection_criteria()
            .unwrap()
            .sse_kms_encrypted_objects()
            .unwrap()
            .status()
            .as_str(),
        "Enabled"
    );
    assert_eq!(
        rule.delete_marker_replication()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "Enabled"
    );
    // The primary bucket's own state shows it under `replication` (s3.models does not manage it).
    let plan = plan_json(&emu, &p);
    let models = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "s3.models")
        .unwrap();
    assert_eq!(
        models["before"]["replication"]["rules"][0]["id"],
        "novactl-dr-models"
    );

    // The role: trusted by S3 for this account only, allowed exactly the replication.
    let iam = emu.iam().await;
    let role = iam
        .get_role()
        .role_name(ROLE)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = urlencoding::decode(role.assume_role_policy_document().unwrap())
        .unwrap()
        .into_owned();
    assert!(
        trust.contains("s3.amazonaws.com") && trust.contains("aws:SourceAccount"),
        "{trust}"
    );
    let doc = iam
        .get_role_policy()
        .role_name(ROLE)
        .policy_name("replication")
        .send()
        .await
        .unwrap()
        .policy_document;
    let doc = urlencoding::decode(&doc).unwrap().into_owned();
    for needle in [
        "s3:ReplicateObject",
        &format!("arn:aws:s3:::{TWIN_MODELS}/*"),
        &primary_key,
        &key_arn,
        "kms:ViaService",
    ] {
        assert!(doc.contains(needle), "{needle} in {doc}");
    }
    assert!(!doc.contains("\"s3:*\""), "{doc}");

    // Objects that existed before replication: copied once, same SHA-256.
    let (bytes, sha) = artifact();
    let (src_version, src_sha) = head(&s3, MODELS, ARTIFACT).await.unwrap();
    assert_eq!(src_sha, sha);
    let (_, twin_sha) = head(&s3w, TWIN_MODELS, ARTIFACT).await.unwrap();
    assert_eq!(twin_sha, sha, "artifact copy verified by SHA-256");
    let meta = s3w
        .head_object()
        .bucket(TWIN_MODELS)
        .key(ARTIFACT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        meta.metadata().unwrap().get("novactl-source-version"),
        Some(&src_version)
    );
    let body = s3w
        .get_object()
        .bucket(TWIN_MODELS)
        .key(ARTIFACT)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(body.as_ref(), bytes.as_slice());
    let (_, before_sha) = head(&s3w, TWIN_MODELS, "data/before.txt").await.unwrap();
    assert_eq!(
        before_sha,
        aws_smithy_types::base64::encode(Sha256::digest(b"written before replication"))
    );

    // DR model: the DR region's image, the twin bucket, the DR VPC.
    let smw = emu.sagemaker(DR).await;
    let models = smw.list_models().send().await.unwrap();
    assert_eq!(models.models().len(), 1, "one DR model version");
    let name = models.models()[0].model_name().unwrap().to_string();
    let m = smw.describe_model().model_name(&name).send().await.unwrap();
    let c = m.primary_container().unwrap();
    assert!(
        c.image()
            .unwrap()
            .starts_with("763104351884.dkr.ecr.us-west-2.amazonaws.com/"),
        "{:?}",
        c.image()
    );
    assert_eq!(
        c.model_data_url(),
        Some(format!("s3://{TWIN_MODELS}/{ARTIFACT}").as_str())
    );
    assert_eq!(
        c.environment()
            .unwrap()
            .get("SAGEMAKER_REGION")
            .map(String::as_str),
        Some(DR)
    );
    assert_eq!(
        m.vpc_config().unwrap().subnets(),
        ["subnet-0cccccccccccccccc".to_string()]
    );

    // DR endpoint: the warm count, the DR key, capture into the twin; no autoscaling there.
    let ep = smw
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .unwrap();
    assert_eq!(ep.endpoint_status().unwrap().as_str(), "InService");
    let cfg = smw
        .describe_endpoint_config()
        .endpoint_config_name(ep.endpoint_config_name().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        cfg.production_variants()[0].initial_instance_count(),
        Some(1)
    );
    assert_eq!(
        cfg.production_variants()[0].model_name(),
        Some(name.as_str())
    );
    assert_eq!(cfg.kms_key_id(), Some(key_arn.as_str()));
    assert_eq!(
        cfg.data_capture_config().unwrap().destination_s3_uri(),
        Some(format!("s3://{TWIN_LOGS}/datacapture").as_str())
    );
    assert_eq!(
        scaling(&emu, DR).await,
        None,
        "a warm standby has no autoscaling"
    );
    assert_eq!(scaling(&emu, PRIMARY).await, Some((2, 4)));

    // Drift on the DR side: the rule deleted (and an object written meanwhile), the standby
    // scaled out of band, rotation of the DR key off.
    s3.delete_bucket_replication()
        .bucket(MODELS)
        .send()
        .await
        .unwrap();
    put(&s3, "data/during-the-gap.txt", b"gap".to_vec(), None).await;
    smw.update_endpoint_weights_and_capacities()
        .endpoint_name(ENDPOINT)
        .desired_weights_and_capacities(
            aws_sdk_sagemaker::types::DesiredWeightAndCapacity::builder()
                .variant_name("default")
                .desired_instance_count(3)
                .build(),
        )
        .send()
        .await
        .unwrap();
    kms.disable_key_rotation()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    let mut got = changes(&plan_json(&emu, &p));
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "dr.kms.phi".to_string(),
                "update".to_string(),
                vec!["rotation".to_string()]
            ),
            (
                "dr.s3.models".to_string(),
                "update".to_string(),
                vec!["replication".to_string()]
            ),
            (
                "dr.sagemaker_endpoint.mentallama".to_string(),
                "update".to_string(),
                vec!["capacity".to_string()]
            ),
        ]
    );
    novactl(Some(&emu), &["apply", "-e", path(&p), "--auto-approve"]).expect_code(0);
    assert_no_changes(&emu, path(&p));
    assert!(s3
        .get_bucket_replication()
        .bucket(MODELS)
        .send()
        .await
        .is_ok());
    assert!(
        head(&s3w, TWIN_MODELS, "data/during-the-gap.txt")
            .await
            .is_some(),
        "what was written while the rule was gone is copied when it is repaired"
    );
    assert_eq!(standby(&emu).await, ("InService".to_string(), 1));
    assert!(
        kms.get_key_rotation_status()
            .key_id(&key.key_id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );

    // Destroy: refused for the twin (it holds replicas) without --force, like any bucket...
    let refused =
        novactl(Some(&emu), &["destroy", "-e", path(&p), "--auto-approve"]).expect_code(1);
    assert!(
        refused.stderr.contains(TWIN_MODELS) && refused.stderr.contains("not empty"),
        "{}",
        refused.stderr
    );
    assert!(s3w.head_bucket().bucket(TWIN_MODELS).send().await.is_ok());
    // ...and with --force everything goes, the DR side included.
    novactl(
        Some(&emu),
        &["destroy", "-e", path(&p), "--auto-approve", "--force"],
    )
    .expect_code(0);
    for (client, bucket) in [
        (&s3w, TWIN_MODELS),
        (&s3w, TWIN_LOGS),
        (&s3, MODELS),
        (&s3, LOGS),
    ] {
        assert!(
            client.head_bucket().bucket(bucket).send().await.is_err(),
            "{bucket} is gone"
        );
    }
    let state = kms.describe_key().key_id(&key.key_id).send().await.unwrap();
    assert_eq!(
        state.key_metadata.unwrap().key_state.unwrap().as_str(),
        "PendingDeletion"
    );
    assert!(smw.list_models().send().await.unwrap().models().is_empty());
    assert!(smw
        .list_endpoints()
        .send()
        .await
        .unwrap()
        .endpoints()
        .is_empty());
    assert!(smw
        .list_endpoint_configs()
        .send()
        .await
        .unwrap()
        .endpoint_configs()
        .is_empty());
    assert!(
        iam.get_role().role_name(ROLE).send().await.is_err(),
        "replication role gone"
    );
}

/// Done when: a drill with the replication delay below the RPO exits 0, above it exits 3 and
/// says which bucket missed by how much; RTO measured with an endpoint transition delay is
/// within a second of that delay plus the drill's own calls; `dr failover` twice, the second
/// changing nothing.
/// A plain apply from empty, before any artifact was uploaded: it succeeds and says the DR
/// model was made without a copy; the drill fails on the artifact until it is uploaded; once
/// uploaded, replication copies it and the next plan is still "No changes.".
#[tokio::test]
async fn apply_from_empty_before_the_artifact_is_uploaded_converges_and_the_drill_says_so() {
    let emu = Emulator::start();
    let p = Project::new(SPEC);
    let r = novactl(Some(&emu), &["apply", "-e", path(&p), "--auto-approve"]).expect_code(0);
    assert!(
        r.stderr.contains("dr.sagemaker_model.mentallama")
            && r.stderr.contains("not in the primary bucket yet"),
        "{}",
        r.stderr
    );
    assert_no_changes(&emu, path(&p));
    let dr_sm = emu.sagemaker(DR).await;
    let models = dr_sm.list_models().send().await.unwrap();
    assert_eq!(models.models().len(), 1, "the DR model exists");
    let report_path = p.dir.path().join("early.json");
    let r = dr_cmd(
        &emu,
        &p,
        &[
            "drill",
            "--teardown",
            "--report",
            report_path.to_str().unwrap(),
        ],
    )
    .expect_code(3);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("is not in the primary bucket yet"),
        "the drill names the missing artifact: {said}"
    );
    let early: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(early["artifacts"]["ok"], false, "{early}");

    // Uploaded now: S3 replication (the rule exists) copies it into the twin.
    let (bytes, sha) = artifact();
    put(
        &emu.s3(PRIMARY).await,
        ARTIFACT,
        bytes,
        Some(ChecksumAlgorithm::Sha256),
    )
    .await;
    assert_no_changes(&emu, path(&p));
    let twin = emu.s3(DR).await;
    let got = twin
        .get_object()
        .bucket(TWIN_MODELS)
        .key(ARTIFACT)
        .send()
        .await
        .expect("the artifact was replicated into the twin");
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(aws_smithy_types::base64::encode(Sha256::digest(&body)), sha);
}

#[tokio::test]
async fn drills_measure_rpo_and_rto_and_failover_is_repeat_safe() {
    let emu = Emulator::start_with(&["--replication-delay", "0.5"]);
    let p = Project::new(SPEC);
    build(&emu, &p).await;

    // Not converged: the drill refuses before writing anything.
    let kms = emu.kms(DR).await;
    kms.disable_key_rotation()
        .key_id(dr_key_arn(&emu).await)
        .send()
        .await
        .unwrap();
    let r = dr_cmd(&emu, &p, &["drill"]).expect_code(1);
    assert!(
        r.stderr.contains("not converged") && r.stderr.contains("dr.kms.phi"),
        "{}",
        r.stderr
    );
    assert_eq!(
        canaries(&emu, PRIMARY, MODELS).await,
        0,
        "no canary written"
    );
    novactl(Some(&emu), &["apply", "-e", path(&p), "--auto-approve"]).expect_code(0);

    // 1. Replication (0.5 s) well within the RPO (3 s); promotion through a 2 s transition.
    let delay = 2.0;
    emu.configure(&format!(r#"{{"endpoint_delay": {delay}}}"#));
    let r = dr_cmd(
        &emu,
        &p,
        &[
            "drill",
            "--report",
            p.path("pass.json").to_str().unwrap(),
            "--teardown",
        ],
    )
    .expect_code(0);
    assert!(
        r.stdout.contains("# DR drill") && r.stdout.contains("PASS"),
        "{}",
        r.stdout
    );
    let (file, d) = report(&p, "pass.json");
    assert_eq!(d["result"], "pass");
    assert_eq!(d["caller"]["account"], common::ACCOUNT);
    assert_eq!(d["spec_digest"].as_str().unwrap().len(), 64);
    let md = std::fs::read_to_string(file.with_extension("md")).unwrap();
    assert!(md.contains("PASS") && md.contains(TWIN_MODELS), "{md}");
    let buckets = d["rpo"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    for b in buckets {
        let lag = f(&b["lag_seconds"]);
        assert!(
            (0.45..=3.0).contains(&lag),
            "lag {lag} for {}",
            b["address"]
        );
        assert_eq!(b["met"], true);
        assert_eq!(b["replica_status"], "REPLICA");
        assert_eq!(b["source_status"], "COMPLETED");
        assert_eq!(b["replica_version_id"], b["version_id"]);
        assert_eq!(b["replica_sha256"], b["sha256"]);
        assert_eq!(b["server_side_encryption"], "aws:kms");
        assert_eq!(
            b["metrics"]["available"], false,
            "moto publishes no S3 metrics"
        );
    }
    assert!(f(&d["rpo"]["measured_seconds"]) <= 3.0);
    let e = &d["rto"]["endpoints"][0];
    let (before, transition, after, rto) = (
        f(&e["before_transition_seconds"]),
        f(&e["transition_seconds"]),
        f(&e["after_transition_seconds"]),
        f(&e["rto_seconds"]),
    );
    eprintln!("RTO {rto} s = {before} + {transition} + {after} (delay {delay} s)");
    assert!(rto >= delay, "the transition alone lasts {delay} s: {rto}");
    assert!(
        rto <= delay + before + after + 1.0,
        "RTO {rto} is within a second of the delay plus the drill's own calls ({before} + {after})"
    );
    assert!((delay..=delay + 1.0).contains(&transition), "{transition}");
    assert!(
        (rto - (before + transition + after)).abs() < 0.01,
        "the parts add up"
    );
    assert_eq!(
        (e["warm_count"].clone(), e["target_count"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(e["canary"]["ok"], true, "{e}");
    assert_eq!(d["rto"]["met"], true);
    let a = &d["artifacts"]["models"][0];
    assert_eq!(a["match"], true);
    assert_eq!(a["source"]["sha256"], artifact().1);
    assert_eq!(a["replica"]["sha256"], artifact().1);
    // Evidence in the backend and the audit trail.
    let state_dir = p.path("environments/.novactl/prod");
    let last: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir.join("docs/last-drill.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(last["run_id"], d["run_id"]);
    let audit = std::fs::read_to_string(state_dir.join("audit.jsonl")).unwrap();
    let rec: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(rec["command"], "dr drill");
    assert_eq!(rec["exit_status"], 0);
    assert_eq!(rec["details"]["run_id"], d["run_id"]);
    // Torn down: warm again, no autoscaling, no canary left in either region.
    assert_eq!(standby(&emu).await, ("InService".to_string(), 1));
    assert_eq!(scaling(&emu, DR).await, None);
    assert_eq!(canaries(&emu, PRIMARY, MODELS).await, 0);
    assert_eq!(canaries(&emu, DR, TWIN_MODELS).await, 0);
    assert_no_changes(&emu, path(&p));

    // 2. Replication slower than the RPO: the replica lands 4 s after the write, inside the
    //    grace (2 s): a miss, measured.
    emu.configure(r#"{"endpoint_delay": 0, "replication_delay": 4}"#);
    let r = dr_cmd(
        &emu,
        &p,
        &[
            "drill",
            "--report",
            p.path("late.json").to_str().unwrap(),
            "--teardown",
        ],
    )
    .expect_code(3);
    assert!(r.stdout.contains("**MISSED** by"), "{}", r.stdout);
    let (_, d) = report(&p, "late.json");
    assert_eq!(d["result"], "fail");
    assert_eq!(d["rpo"]["met"], false);
    assert_eq!(d["rto"]["met"], true, "only one objective missed");
    for b in d["rpo"]["buckets"].as_array().unwrap() {
        let by = f(&b["missed_by_seconds"]);
        assert!(
            (0.5..=2.0).contains(&by),
            "{} missed by {by} s",
            b["address"]
        );
        assert!((f(&b["lag_seconds"]) - 3.0 - by).abs() < 0.01);
    }

    // 3. A replica that never arrives in time: the drill stops waiting at RPO + grace.
    emu.configure(r#"{"replication_delay": 30}"#);
    let started = std::time::Instant::now();
    dr_cmd(
        &emu,
        &p,
        &[
            "drill",
            "--report",
            p.path("lost.json").to_str().unwrap(),
            "--teardown",
        ],
    )
    .expect_code(3);
    let took = started.elapsed().as_secs_f64();
    let (_, d) = report(&p, "lost.json");
    for b in d["rpo"]["buckets"].as_array().unwrap() {
        assert_eq!(b["missing"], true);
        assert!(b["lag_seconds"].is_null());
        assert_eq!(f(&b["missed_by_more_than_seconds"]), 2.0);
        assert!(f(&b["waited_until_s"]) - f(&b["written_s"]) <= 5.01);
    }
    assert!(
        took < 15.0,
        "bounded: {took} s for an RPO of 3 s + 2 s grace"
    );
    emu.configure(r#"{"replication_delay": 0.5}"#);

    // Failover: the standby takes the primary's capacity and autoscaling...
    emu.configure(r#"{"endpoint_delay": 1}"#);
    let first = dr_cmd(&emu, &p, &["failover"]).expect_code(0);
    let arn = format!(
        "arn:aws:sagemaker:{DR}:{}:endpoint/{ENDPOINT}",
        common::ACCOUNT
    );
    assert_eq!(
        first.stdout.trim(),
        format!("dr.sagemaker_endpoint.mentallama {ENDPOINT} {arn}")
    );
    assert!(first.writes() > 0);
    assert_eq!(standby(&emu).await, ("InService".to_string(), 2));
    assert_eq!(scaling(&emu, DR).await, Some((2, 4)));
    // ...and the second run changes nothing.
    let second = dr_cmd(&emu, &p, &["failover"]).expect_code(0);
    assert_eq!(second.writes(), 0, "{}", second.stderr);
    assert_eq!(second.stdout, first.stdout);
    // Plan and apply keep the promoted standby as it is; a drill is refused meanwhile.
    assert_no_changes(&emu, path(&p));
    let r = dr_cmd(&emu, &p, &["drill"]).expect_code(1);
    assert!(r.stderr.contains("dr failback"), "{}", r.stderr);
    let audit = std::fs::read_to_string(p.path("environments/.novactl/prod/audit.jsonl")).unwrap();
    let commands: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["command"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        &commands[commands.len() - 2..],
        ["dr failover", "dr failover"]
    );

    // Fail back: warm again, and the spec agrees.
    dr_cmd(&emu, &p, &["failback", "--auto-approve"]).expect_code(0);
    assert_eq!(standby(&emu).await, ("InService".to_string(), 1));
    assert_eq!(scaling(&emu, DR).await, None);
    assert_no_changes(&emu, path(&p));
}

/// Done when: the DR section's errors are found by validate, with file, line and key.
#[test]
fn dr_spec_errors_name_file_line_and_key() {
    struct Case {
        reason: &'static str,
        /// (text to replace in SPEC, replacement)
        edit: (&'static str, &'static str),
        key: &'static str,
        /// A text on the line the error must point at.
        line_of: &'static str,
        message: &'static str,
    }
    let cases = [
        Case {
            reason: "DR region equal to the primary",
            edit: ("dr:\n  region: us-west-2", "dr:\n  region: us-east-1"),
            key: "dr.region",
            line_of: "  region: us-east-1\n  rto",
            message: "must differ from the primary region",
        },
        Case {
            reason: "a replicated key that is not in the spec",
            edit: ("kms: [phi]", "kms: [phi, nope]"),
            key: "dr.replicate.kms.1",
            line_of: "kms: [phi, nope]",
            message: "no kms key `nope`",
        },
        Case {
            reason: "a replicated bucket that is not in the spec",
            edit: ("s3: [models, logs]", "s3: [models, logs, nope]"),
            key: "dr.replicate.s3.2",
            line_of: "s3: [models, logs, nope]",
            message: "no s3 bucket `nope`",
        },
        Case {
            reason: "a replicated endpoint that is not in the spec",
            edit: ("sagemaker_endpoints: [mentallama]", "sagemaker_endpoints: [mentallama, other]"),
            key: "dr.replicate.sagemaker_endpoints.1",
            line_of: "sagemaker_endpoints: [mentallama, other]",
            message: "no sagemaker endpoint `other`",
        },
        Case {
            reason: "an endpoint whose model's bucket is not replicated",
            edit: ("s3: [models, logs]", "s3: [logs]"),
            key: "dr.replicate.sagemaker_endpoints.0",
            line_of: "sagemaker_endpoints: [mentallama]",
            message: "is in bucket `models`, which dr.replicate.s3 does not list",
        },
        Case {
            reason: "a capture bucket that is not replicated",
            edit: ("s3: [models, logs]", "s3: [models]"),
            key: "dr.replicate.sagemaker_endpoints.0",
            line_of: "sagemaker_endpoints: [mentallama]",
            message: "captures data into bucket `logs`, which dr.replicate.s3 does not list",
        },
        Case {
            reason: "a replicated bucket whose key is not replicated",
            edit: ("kms: [phi]", "kms: []"),
            key: "dr.replicate.s3.0",
            line_of: "s3: [models, logs]",
            message: "encrypted with kms key `phi`, which dr.replicate.kms does not list",
        },
        Case {
            reason: "a twin name for a bucket that is not replicated",
            edit: ("  instance_count: 1\n", "  instance_count: 1\n  buckets:\n    trail: { name: x-dr }\n"),
            key: "dr.buckets.trail",
            line_of: "    trail: { name: x-dr }",
            message: "not in dr.replicate.s3",
        },
        Case {
            reason: "an invalid twin name",
            edit: ("  instance_count: 1\n", "  instance_count: 1\n  buckets:\n    models: { name: Bad_Name }\n"),
            key: "dr.buckets.models.name",
            line_of: "    models: { name: Bad_Name }",
            message: "is not a valid S3 bucket name",
        },
        Case {
            reason: "a VPC model without DR subnets",
            edit: ("  vpc:\n    security_groups: [sg-0fedcba9876543210]\n    subnets: [subnet-0cccccccccccccccc]\n", ""),
            key: "dr.replicate.sagemaker_endpoints.0",
            line_of: "sagemaker_endpoints: [mentallama]",
            message: "set dr.vpc",
        },
        Case {
            reason: "an objective that is not positive",
            edit: ("rpo_minutes: 0.05", "rpo_minutes: 0"),
            key: "dr.rpo_minutes",
            line_of: "rpo_minutes: 0",
            message: "not a positive number of minutes",
        },
        Case {
            reason: "a replicated bucket without versioning",
            edit: ("    name: \"{{ vars.project }}-{{ environment }}-logs\"\n    kms_key: phi\n", "    name: \"{{ vars.project }}-{{ environment }}-logs\"\n    kms_key: phi\n    versioning: false\n"),
            key: "s3.logs.versioning",
            line_of: "    versioning: false",
            message: "S3 replication needs versioning",
        },
        Case {
            reason: "a warm standby of no instances",
            edit: ("  instance_count: 1\n", "  instance_count: 0\n"),
            key: "dr.instance_count",
            line_of: "  instance_count: 0\n",
            message: "at least 1 instance",
        },
    ];
    for c in cases {
        assert!(SPEC.contains(c.edit.0), "{}: the edit applies", c.reason);
        let text = SPEC.replacen(c.edit.0, c.edit.1, 1);
        let start = text
            .find(c.line_of)
            .unwrap_or_else(|| panic!("{}: marker", c.reason));
        let line = text[..start].matches('\n').count() + 1;
        let p = Project::new(&text);
        let r = novactl(None, &["validate", "-e", path(&p)]).expect_code(1);
        let want = format!("test.yaml:{line}:");
        assert!(
            r.stderr.contains(&want)
                && r.stderr.contains(&format!("{}:", c.key))
                && r.stderr.contains(c.message),
            "{}: wanted `{want}` `{}` `{}` in:\n{}",
            c.reason,
            c.key,
            c.message,
            r.stderr
        );
        assert!(!r.stderr.contains("AWS calls"), "{}: no AWS call", c.reason);
    }
}
