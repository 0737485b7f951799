//! `moved:` end to end: renames of a key (with its DR twin), a bucket, a role, an endpoint and
//! a dashboard plan as moves and apply with no create and no delete; the live resources keep
//! their ids and carry the new address tag; the state records follow; a second plan is
//! "No changes.". Live state is read back through the SDK.

mod common;

use common::{assert_no_changes, census, inventory, novactl, plan_json, Emulator, Project};
use serde_json::Value;

const ALIAS: &str = "alias/novamv-phi";
const BUCKET: &str = "novamv-mv-models";
const ROLE: &str = "NovamvExecutionRole";
const ENDPOINT: &str = "novamv-endpoint";
const DASHBOARD: &str = "Novamv-Ops";

/// The stack under its old names (`old`) or its new ones with `moved:` (`!old`).
fn spec(old: bool) -> String {
    let n = |before: &'static str, after: &'static str| if old { before } else { after };
    let moved = if old {
        String::new()
    } else {
        "moved:\n  - { from: kms.phi, to: kms.phi_data }\n  - { from: s3.models, to: \
         s3.model_artifacts }\n  - { from: iam.sagemaker_execution, to: iam.execution }\n  - { \
         from: sagemaker_endpoint.mentallama, to: sagemaker_endpoint.primary }\n  - { from: \
         cloudwatch_dashboard.monitoring, to: cloudwatch_dashboard.ops }\n"
            .to_string()
    };
    format!(
        r#"environment: mv
region: us-east-1
{moved}kms:
  {phi}:
    alias: {ALIAS}
    deletion_window_days: 7
s3:
  {models}:
    name: {BUCKET}
    kms_key: {phi}
iam:
  {role}:
    name: {ROLE}
    trust: [sagemaker.amazonaws.com]
sagemaker:
  models:
    mentallama:
      name: novamv-model
      image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04
      model_data: "s3://{{{{ s3.{models}.name }}}}/models/m.tar.gz"
      role: {role}
  endpoints:
    {endpoint}:
      name: {ENDPOINT}
      model: mentallama
      instance_type: ml.g5.2xlarge
      instance_count: 1
      kms_key: {phi}
cloudwatch:
  dashboards:
    {dashboard}:
      name: {DASHBOARD}
      template: ../templates/mv-dashboard.json.tera
dr:
  region: us-west-2
  rto_minutes: 15
  rpo_minutes: 60
  replicate:
    kms: [{phi}]
"#,
        phi = n("phi", "phi_data"),
        models = n("models", "model_artifacts"),
        role = n("sagemaker_execution", "execution"),
        endpoint = n("mentallama", "primary"),
        dashboard = n("monitoring", "ops"),
    )
}

const DASHBOARD_BODY: &str = r#"{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "ops"}}]}"#;

/// The `novactl:address` tag among `(key, value)` tags.
fn address_tag<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    tags.into_iter()
        .find(|(k, _)| *k == "novactl:address")
        .map(|(_, v)| v.to_string())
}

struct Live {
    key_id: String,
    twin_key_id: String,
    key_tag: Option<String>,
    twin_tag: Option<String>,
    bucket_tag: Option<String>,
    role_id: String,
    role_tag: Option<String>,
    endpoint_arn: String,
    endpoint_tag: Option<String>,
    dashboard_arn: String,
}

async fn live(emu: &Emulator) -> Live {
    let key = |region: &'static str| async move {
        let kms = emu.kms(region).await;
        let id = kms
            .describe_key()
            .key_id(ALIAS)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id
            .clone();
        let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
        let tag = address_tag(tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())));
        (id, tag)
    };
    let ((key_id, key_tag), (twin_key_id, twin_tag)) =
        (key("us-east-1").await, key("us-west-2").await);
    let s3 = emu.s3("us-east-1").await;
    let bt = s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
    let bucket_tag = address_tag(bt.tag_set().iter().map(|t| (t.key(), t.value())));
    let iam = emu.iam().await;
    let role = iam
        .get_role()
        .role_name(ROLE)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let rt = iam.list_role_tags().role_name(ROLE).send().await.unwrap();
    let role_tag = address_tag(rt.tags().iter().map(|t| (t.key(), t.value())));
    let sm = emu.sagemaker("us-east-1").await;
    let ep = sm
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .unwrap();
    let endpoint_arn = ep.endpoint_arn().unwrap().to_string();
    let et = sm
        .list_tags()
        .resource_arn(&endpoint_arn)
        .send()
        .await
        .unwrap();
    let endpoint_tag = address_tag(
        et.tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    );
    let cw = emu.cloudwatch("us-east-1").await;
    let d = cw
        .get_dashboard()
        .dashboard_name(DASHBOARD)
        .send()
        .await
        .unwrap();
    Live {
        key_id,
        twin_key_id,
        key_tag,
        twin_tag,
        bucket_tag,
        role_id: role.role_id().to_string(),
        role_tag,
        endpoint_arn,
        endpoint_tag,
        dashboard_arn: d.dashboard_arn().unwrap_or_default().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renames_with_moved_keep_every_live_resource() {
    let emu = Emulator::start();
    let p = Project::new(&spec(true));
    std::fs::write(p.path("templates/mv-dashboard.json.tera"), DASHBOARD_BODY).unwrap();
    let path = p.spec.to_str().unwrap().to_string();
    novactl(Some(&emu), &["apply", "-e", &path, "--auto-approve"]).expect_code(0);
    let before = live(&emu).await;
    assert_eq!(before.key_tag.as_deref(), Some("kms.phi"));
    assert_eq!(before.twin_tag.as_deref(), Some("dr.kms.phi"));

    // A `from` whose live resource is not the one `to` describes is no move: refused, with
    // the entry's line, before anything changes.
    p.write_spec(&spec(false).replace(&format!("name: {BUCKET}"), &format!("name: {BUCKET}-2")));
    let r = novactl(Some(&emu), &["plan", "-e", &path]).expect_code(1);
    assert!(
        r.stderr.contains("moved.1.from") && r.stderr.contains("not a move"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("test.yaml:5"), "{}", r.stderr);

    // The renames plan as moves: updates that say so, nothing created or deleted.
    p.write_spec(&spec(false));
    let plan = plan_json(&emu, &p);
    let mut moved: Vec<(String, String)> = plan["moved"]
        .as_array()
        .expect("a moved list")
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap().to_string(),
                m["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    moved.sort();
    let want: Vec<(String, String)> = [
        (
            "cloudwatch_dashboard.monitoring",
            "cloudwatch_dashboard.ops",
        ),
        ("dr.kms.phi", "dr.kms.phi_data"),
        ("iam.sagemaker_execution", "iam.execution"),
        ("kms.phi", "kms.phi_data"),
        ("s3.models", "s3.model_artifacts"),
        (
            "sagemaker_endpoint.mentallama",
            "sagemaker_endpoint.primary",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(moved, want);
    for c in plan["changes"].as_array().unwrap() {
        let (address, action) = (
            c["address"].as_str().unwrap(),
            c["action"].as_str().unwrap(),
        );
        assert!(
            action == "no-op" || action == "update",
            "{address}: {action} ({})",
            c["reason"]
        );
        if let Some((from, _)) = want.iter().find(|(_, to)| to == address) {
            assert_eq!(action, "update", "{address}");
            let reason = c["reason"].as_str().unwrap();
            assert!(
                reason.starts_with(&format!("moved from {from}")),
                "{address}: {reason}"
            );
        }
    }
    let text = novactl(Some(&emu), &["plan", "-e", &path]).expect_code(0);
    assert!(
        text.stdout.contains("moved from kms.phi"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("0 to create") && text.stdout.contains("0 to delete"));
    assert!(text.stdout.contains("6 to move"), "{}", text.stdout);
    let md = novactl(Some(&emu), &["plan", "-e", &path, "--format", "markdown"]).expect_code(0);
    assert!(md.stdout.contains("moved from s3.models"), "{}", md.stdout);

    // Apply: re-tags, no create, no delete.
    novactl(Some(&emu), &["apply", "-e", &path, "--auto-approve"]).expect_code(0);
    let audit = std::fs::read_to_string(p.path("environments/.novactl/mv/audit.jsonl")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    for c in last["changes"].as_array().unwrap() {
        assert_eq!(c["result"], "ok", "{c}");
        for w in c["writes"].as_array().into_iter().flatten() {
            let w = w.as_str().unwrap();
            assert!(
                !w.contains("Create") && !w.contains("Delete") && !w.contains("ScheduleKey"),
                "{}: {w}",
                c["address"]
            );
        }
    }
    let after = live(&emu).await;
    assert_eq!(after.key_id, before.key_id, "same key");
    assert_eq!(after.twin_key_id, before.twin_key_id, "same DR key");
    assert_eq!(after.role_id, before.role_id, "same role");
    assert_eq!(after.endpoint_arn, before.endpoint_arn, "same endpoint");
    assert_eq!(after.dashboard_arn, before.dashboard_arn, "same dashboard");
    assert_eq!(after.key_tag.as_deref(), Some("kms.phi_data"));
    assert_eq!(after.twin_tag.as_deref(), Some("dr.kms.phi_data"));
    assert_eq!(after.bucket_tag.as_deref(), Some("s3.model_artifacts"));
    assert_eq!(after.role_tag.as_deref(), Some("iam.execution"));
    assert_eq!(
        after.endpoint_tag.as_deref(),
        Some("sagemaker_endpoint.primary")
    );
    // One key per region (nothing created), nothing left under an old address.
    let tagged = census(&emu, "us-east-1", "mv").await;
    assert!(
        !tagged
            .iter()
            .any(|(_, a)| want.iter().any(|(from, _)| from == a)),
        "{tagged:?}"
    );
    let inv = inventory(&p);
    let addresses: Vec<&str> = inv.iter().map(|(a, _)| a.as_str()).collect();
    for (from, to) in &want {
        assert!(
            !addresses.contains(&from.as_str()),
            "{from} in {addresses:?}"
        );
        assert!(
            addresses.contains(&to.as_str()),
            "{to} not in {addresses:?}"
        );
    }
    let la = std::fs::read_to_string(p.path("environments/.novactl/mv/docs/last-applied.json"))
        .unwrap_or_default();
    assert!(!la.contains("\"kms.phi\""), "{la}");

    // Converged; the entries whose `from` is gone are notes.
    let r = assert_no_changes(&emu, &path);
    assert!(r.stdout.contains("nothing live is kms.phi"), "{}", r.stdout);
}
