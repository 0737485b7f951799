//! `protect: true` and careful destroys, end to end against moto: plan marks a delete or
//! replace of a protected resource as refused, apply and destroy refuse it and change nothing,
//! destroy checks every refusal (protected, non-empty bucket, not ours) before its first
//! delete, and a key is reported as scheduled for deletion. `plan --destroy --out PLAN` shows
//! the destroy with the same refusals and changes nothing; `apply PLAN` carries it out, refused
//! when live state moved since. Live state is read back.
//!
//! The endpoint test depends on the launcher patches `patch_sagemaker_instance_types` and
//! `patch_autoscaling_object_not_found`.

mod common;

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_s3::primitives::ByteStream;
use common::{changes, novactl, plan_json, unique, Emulator, Project};
use serde_json::Value;

fn spec(env: &str, bucket: &str, key_protect: bool, bucket_protect: bool, topic: &str) -> String {
    format!(
        r#"environment: {env}
region: us-east-1
kms:
  phi:
    alias: alias/{env}-phi
    deletion_window_days: 7
    protect: {key_protect}
s3:
  data:
    name: {bucket}
    kms_key: phi
    protect: {bucket_protect}
  scratch:
    name: {bucket}-scratch
    kms_key: phi
{topic}"#
    )
}

const TOPIC: &str =
    "sns:\n  alerts:\n    name: alerts-topic\n    kms_key: phi\n    protect: true\n";

fn run(emu: &Emulator, p: &Project, args: &[&str]) -> common::Run {
    let mut a = vec![args[0], "-e", p.spec.to_str().unwrap()];
    a.extend(&args[1..]);
    novactl(Some(emu), &a)
}

/// The state of the key `id` (an alias or a key id).
async fn key_state(emu: &Emulator, id: &str) -> String {
    emu.kms("us-east-1")
        .await
        .describe_key()
        .key_id(id)
        .send()
        .await
        .expect("key")
        .key_metadata()
        .and_then(|m| m.key_state())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// The id of the key `alias/<env>-phi`.
async fn key_id(emu: &Emulator, env: &str) -> String {
    emu.kms("us-east-1")
        .await
        .describe_key()
        .key_id(format!("alias/{env}-phi"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string()
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

async fn topics(emu: &Emulator) -> usize {
    emu.sns("us-east-1")
        .await
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter(|t| t.topic_arn().is_some_and(|a| a.ends_with(":alerts-topic")))
        .count()
}

#[tokio::test]
async fn protect_refuses_delete_and_replace_in_plan_apply_and_destroy() {
    let emu = Emulator::start();
    let env = unique("prot").replace('-', "");
    let bucket = unique("nv-prot");
    let p = Project::new(&spec(&env, &bucket, true, true, TOPIC));
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(0);
    let key_id = key_id(&emu, &env).await;
    // The protection is on the resources too, so it survives their leaving the spec.
    let tags = emu
        .s3("us-east-1")
        .await
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "novactl:protect" && t.value() == "true"),
        "{tags:?}"
    );

    // destroy: refused for the key and the bucket; nothing at all is deleted.
    let r = run(&emu, &p, &["destroy", "--auto-approve", "--force"]).expect_code(1);
    let spec_file = p.spec.to_str().unwrap();
    for addr in ["kms.phi", "s3.data"] {
        let key = format!("{addr}.protect ({spec_file}:");
        assert!(r.stderr.contains(&key), "names {key}: {}", r.stderr);
    }
    assert!(r.stdout.contains("REFUSED:"), "{}", r.stdout);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert_eq!(key_state(&emu, &key_id).await, "Enabled");
    assert!(bucket_exists(&emu, &bucket).await);
    assert!(
        bucket_exists(&emu, &format!("{bucket}-scratch")).await,
        "unprotected kept too"
    );
    assert_eq!(topics(&emu).await, 1);

    // A rename is a replace: refused in plan (text and JSON) and by apply.
    p.write_spec(&spec(&env, &bucket, true, true, TOPIC).replacen(
        &format!("name: {bucket}\n"),
        &format!("name: {bucket}-renamed\n"),
        1,
    ));
    let plan = plan_json(&emu, &p);
    let data = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "s3.data")
        .unwrap();
    assert_eq!(data["action"], "replace", "{plan:#}");
    assert!(
        data["refused"]
            .as_str()
            .unwrap()
            .contains("set `protect: false` at s3.data.protect"),
        "{data:#}"
    );
    let r = run(&emu, &p, &["plan"]).expect_code(0);
    assert!(
        r.stdout.contains("REFUSED: s3.data is protected"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 refused"), "{}", r.stdout);
    // A pipeline reading --detailed-exitcode gets 1 (apply would refuse), not 2 ("apply this").
    let r = run(&emu, &p, &["plan", "--detailed-exitcode"]).expect_code(1);
    assert!(
        r.stderr.contains("apply would refuse this plan") && r.stderr.contains("s3.data"),
        "{}",
        r.stderr
    );
    let r = run(&emu, &p, &["apply", "--auto-approve"]).expect_code(1);
    assert!(r.stderr.contains("refusing to apply"), "{}", r.stderr);
    assert!(bucket_exists(&emu, &bucket).await, "old bucket kept");
    assert!(
        !bucket_exists(&emu, &format!("{bucket}-renamed")).await,
        "new one not made"
    );

    // A protected topic that leaves the spec: its tag keeps it.
    p.write_spec(&spec(&env, &bucket, true, true, ""));
    let plan = plan_json(&emu, &p);
    let got = changes(&plan);
    assert_eq!(
        got,
        [("sns.alerts".to_string(), "delete".to_string(), vec![])],
        "{plan:#}"
    );
    assert!(plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["address"] == "sns.alerts"
            && c["refused"]
                .as_str()
                .is_some_and(|r| r.contains("novactl:protect"))));
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(1);
    assert_eq!(topics(&emu).await, 1, "the topic is kept");

    // Unprotect everything (apply removes the tags), then a non-empty bucket alone stops a
    // destroy without --force: nothing is deleted.
    p.write_spec(&spec(
        &env,
        &bucket,
        false,
        false,
        &TOPIC.replace("protect: true", "protect: false"),
    ));
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(0);
    emu.s3("us-east-1")
        .await
        .put_object()
        .bucket(format!("{bucket}-scratch"))
        .key("x")
        .body(ByteStream::from_static(b"phi"))
        .send()
        .await
        .unwrap();
    let r = run(&emu, &p, &["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr
            .contains(&format!("s3.scratch: bucket {bucket}-scratch is not empty")),
        "{}",
        r.stderr
    );
    assert_eq!(key_state(&emu, &key_id).await, "Enabled");
    assert!(bucket_exists(&emu, &bucket).await);
    assert_eq!(topics(&emu).await, 1, "the topic is kept");

    // With --force it goes, and the key is scheduled, not "deleted".
    let r = run(&emu, &p, &["destroy", "--auto-approve", "--force"]).expect_code(0);
    assert!(
        r.stderr
            .contains("- kms.phi: scheduled for deletion in 7 days"),
        "{}",
        r.stderr
    );
    assert_eq!(key_state(&emu, &key_id).await, "PendingDeletion");
    assert!(!bucket_exists(&emu, &bucket).await);
    assert_eq!(topics(&emu).await, 0);
}

fn endpoints_spec(env: &str) -> String {
    format!(
        r#"environment: {env}
region: us-east-1
kms:
  phi: {{ alias: "alias/{env}-ep", deletion_window_days: 7 }}
iam:
  exec: {{ name: "{env}-exec", trust: [sagemaker.amazonaws.com] }}
sagemaker:
  models:
    m:
      name: {env}-model
      image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1
      model_data: s3://b/m.tar.gz
      role: exec
  endpoints:
    scaled:
      name: {env}-scaled
      model: m
      instance_type: ml.g5.2xlarge
      instance_count: 1
      kms_key: phi
      autoscaling: {{ min: 1, max: 3, target_invocations_per_instance: 50 }}
    fixed:
      name: {env}-fixed
      model: m
      instance_type: ml.g5.2xlarge
      instance_count: 1
      kms_key: phi
"#
    )
}

#[tokio::test]
async fn destroy_of_endpoints_with_and_without_autoscaling_succeeds() {
    let emu = Emulator::start();
    let env = unique("ep").replace('-', "");
    let p = Project::new(&endpoints_spec(&env));
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(0);
    let aas = emu.autoscaling("us-east-1").await;
    let targets = || async {
        aas.describe_scalable_targets()
            .service_namespace(ServiceNamespace::Sagemaker)
            .send()
            .await
            .unwrap()
            .scalable_targets()
            .iter()
            .map(|t| t.resource_id().to_string())
            .filter(|r| r.contains(&env))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        targets().await,
        [format!("endpoint/{env}-scaled/variant/default")]
    );

    let r = run(&emu, &p, &["destroy", "--auto-approve", "-vv"]).expect_code(0);
    // Only the endpoint that has autoscaling has its scaling deleted.
    for op in ["DeleteScalingPolicy", "DeregisterScalableTarget"] {
        let n = r
            .stderr
            .lines()
            .filter(|l| l.contains("aws call") && l.contains(op))
            .count();
        assert_eq!(n, 1, "{op} calls:\n{}", r.stderr);
    }
    let sm = emu.sagemaker("us-east-1").await;
    let eps = sm.list_endpoints().send().await.unwrap();
    assert!(
        !eps.endpoints()
            .iter()
            .any(|e| e.endpoint_name().is_some_and(|n| n.contains(&env))),
        "{eps:?}"
    );
    let cfgs = sm.list_endpoint_configs().send().await.unwrap();
    assert!(
        !cfgs
            .endpoint_configs()
            .iter()
            .any(|c| c.endpoint_config_name().is_some_and(|n| n.contains(&env))),
        "{cfgs:?}"
    );
    let models = sm.list_models().send().await.unwrap();
    assert!(
        !models
            .models()
            .iter()
            .any(|m| m.model_name().is_some_and(|n| n.contains(&env))),
        "{models:?}"
    );
    assert!(targets().await.is_empty());
    assert!(emu
        .iam()
        .await
        .get_role()
        .role_name(format!("{env}-exec"))
        .send()
        .await
        .is_err());
}

/// A DR stack whose primaries are protected: the key, the models bucket and the endpoint are
/// replicated to us-west-2 (`replicate` is the `dr.replicate` block).
fn dr_spec(replicate: &str) -> String {
    format!(
        r#"environment: prod
region: us-east-1
kms:
  phi:
    alias: alias/twinprot-phi
    deletion_window_days: 7
    protect: true
s3:
  models:
    name: twinprot-prod-models
    kms_key: phi
    protect: true
  logs:
    name: twinprot-prod-logs
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
      model_data: "s3://{{{{ s3.models.name }}}}/models/m.tar.gz"
      role: sagemaker_execution
  endpoints:
    mentallama:
      name: mentallama-endpoint
      model: mentallama
      instance_type: ml.g5.2xlarge
      instance_count: 1
      kms_key: phi
      timeout_minutes: 1
      protect: true
dr:
  region: us-west-2
  rto_minutes: 0.5
  rpo_minutes: 0.05
{replicate}"#
    )
}

const TWINS: &[&str] = &[
    "dr.kms.phi",
    "dr.s3.models",
    "dr.sagemaker_endpoint.mentallama",
];

/// Does the live resource carry `novactl:protect=true`? (Read through each service's API.)
async fn twin_tagged_protected(emu: &Emulator) -> Vec<bool> {
    let dr = "us-west-2";
    let kms = emu.kms(dr).await;
    let key = kms
        .describe_key()
        .key_id("alias/twinprot-phi")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_tags = kms
        .list_resource_tags()
        .key_id(key.key_id())
        .send()
        .await
        .unwrap();
    let key_ok = key_tags
        .tags()
        .iter()
        .any(|t| t.tag_key() == "novactl:protect" && t.tag_value() == "true");
    let bucket_tags = emu
        .s3(dr)
        .await
        .get_bucket_tagging()
        .bucket("twinprot-prod-models-us-west-2")
        .send()
        .await
        .unwrap();
    let bucket_ok = bucket_tags
        .tag_set()
        .iter()
        .any(|t| t.key() == "novactl:protect" && t.value() == "true");
    let sm = emu.sagemaker(dr).await;
    let arn = sm
        .describe_endpoint()
        .endpoint_name("mentallama-endpoint")
        .send()
        .await
        .unwrap()
        .endpoint_arn
        .unwrap();
    let ep_tags = sm.list_tags().resource_arn(arn).send().await.unwrap();
    let ep_ok = ep_tags
        .tags()
        .iter()
        .any(|t| t.key() == Some("novactl:protect") && t.value() == Some("true"));
    vec![key_ok, bucket_ok, ep_ok]
}

/// Every twin is still live in the DR region (key enabled, bucket and endpoint there).
async fn twins_live(emu: &Emulator) {
    let dr = "us-west-2";
    let state = emu
        .kms(dr)
        .await
        .describe_key()
        .key_id("alias/twinprot-phi")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_state
        .unwrap();
    assert_eq!(state.as_str(), "Enabled");
    assert!(emu
        .s3(dr)
        .await
        .head_bucket()
        .bucket("twinprot-prod-models-us-west-2")
        .send()
        .await
        .is_ok());
    assert!(emu
        .sagemaker(dr)
        .await
        .describe_endpoint()
        .endpoint_name("mentallama-endpoint")
        .send()
        .await
        .is_ok());
}

#[tokio::test]
async fn protect_on_a_replicated_resource_protects_its_dr_twin() {
    let emu = Emulator::start();
    let all =
        "  replicate:\n    kms: [phi]\n    s3: [models]\n    sagemaker_endpoints: [mentallama]\n";
    let p = Project::new(&dr_spec(all));
    // The models bucket first, the artifact into it, then the rest (the DR model needs it).
    run(
        &emu,
        &p,
        &["apply", "--auto-approve", "--target", "s3.models"],
    )
    .expect_code(0);
    emu.s3("us-east-1")
        .await
        .put_object()
        .bucket("twinprot-prod-models")
        .key("models/m.tar.gz")
        .body(ByteStream::from(b"weights".to_vec()))
        .send()
        .await
        .unwrap();
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(0);

    // The twins carry the protection, so it survives their leaving the spec.
    assert_eq!(twin_tagged_protected(&emu).await, [true, true, true]);

    // destroy: each twin refused at its primary's `protect` key; nothing is deleted.
    let r = run(&emu, &p, &["destroy", "--auto-approve", "--force"]).expect_code(1);
    let out = format!("{}{}", r.stdout, r.stderr);
    for twin in TWINS {
        assert!(
            out.contains(&format!("{twin} is protected")),
            "{twin} refused: {out}"
        );
    }
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    twins_live(&emu).await;

    // The twins leave dr.replicate: plan refuses their deletes, apply deletes nothing.
    p.write_spec(&dr_spec(
        "  replicate:\n    kms: []\n    s3: []\n    sagemaker_endpoints: []\n",
    ));
    let plan = plan_json(&emu, &p);
    for twin in TWINS {
        let c = plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == *twin)
            .unwrap_or_else(|| panic!("{twin} in the plan: {plan:#}"));
        assert_eq!(c["action"], "delete", "{c:#}");
        assert!(
            c["refused"]
                .as_str()
                .is_some_and(|r| r.contains("novactl:protect")),
            "{twin} refused: {c:#}"
        );
    }
    let r = run(&emu, &p, &["apply", "--auto-approve"]).expect_code(1);
    assert!(r.stderr.contains("refusing to apply"), "{}", r.stderr);
    twins_live(&emu).await;
}

fn destroy_spec(env: &str, bucket: &str) -> String {
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

fn read(file: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
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
    let p = Project::new(&destroy_spec(&env, &bucket));
    run(&emu, &p, &["apply", "--auto-approve"]).expect_code(0);
    // By id: destroy deletes the alias with the key.
    let key = key_id(&emu, &env).await;
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
