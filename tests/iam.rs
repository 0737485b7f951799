//! The `iam` kind end to end against moto (no emulator patch needed: IAM works as on AWS,
//! documents come back URL-encoded): create, read-back, idempotence, drift of inline policies,
//! trust, description and tags, crash safety, roles that leave the spec, conflicts, destroy.
//!
//! The roles use the repo's `policies/api-service.json.tera` (it needs only `kms.phi`) and
//! small test-only templates written into the scratch project, so the specs need no S3 bucket.

mod common;

use common::{
    assert_no_changes, changes, novactl, novactl_env, plan_json, unique, Emulator, Project, ACCOUNT,
};
use serde_json::{json, Value};

/// A test-only inline policy that depends on the key (dependency edge iam -> kms).
const READ_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Key", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["{{ kms.phi.arn }}"]},
    {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": ["arn:aws:logs:{{ region }}:{{ account_id }}:log-group:/test/*"]}
  ]
}"#;

const METRICS_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}]
}"#;

/// Names of one test's resources.
struct Names {
    env: String,
    alias: String,
    api: String,
    exec: String,
}

impl Names {
    fn new() -> Names {
        Names {
            env: unique("iamtest"),
            alias: unique("iam-phi"),
            api: unique("NovaApi"),
            exec: unique("NovaExec"),
        }
    }
}

/// The spec: the PHI key, and the roles named in `roles` (`api` and/or `exec`).
fn spec(n: &Names, roles: &[&str], exec_description: &str) -> String {
    let mut s = format!(
        "environment: {env}\nregion: us-east-1\nvars:\n  endpoint_name: ep-test\ntags:\n  Project: NOVAMIND\n\
         kms:\n  phi:\n    alias: alias/{alias}\n    deletion_window_days: 7\n    policy: ../policies/kms-phi.json.tera\n\
         iam:\n",
        env = n.env,
        alias = n.alias
    );
    if roles.contains(&"api") {
        s.push_str(&format!(
            "  api:\n    name: {}\n    trust: [ecs-tasks.amazonaws.com]\n    policies:\n      api: ../policies/api-service.json.tera\n",
            n.api
        ));
    }
    if roles.contains(&"exec") {
        s.push_str(&format!(
            "  exec:\n    name: {}\n    description: {exec_description}\n    trust: [sagemaker.amazonaws.com, ecs-tasks.amazonaws.com]\n    \
             tags:\n      Team: ml\n    policies:\n      read: ../policies/test-read.json.tera\n      metrics: ../policies/test-metrics.json.tera\n",
            n.exec
        ));
    }
    s
}

fn project(n: &Names, roles: &[&str]) -> Project {
    let p = Project::new(&spec(n, roles, "Execution role"));
    std::fs::write(p.path("policies/test-read.json.tera"), READ_POLICY).unwrap();
    std::fs::write(p.path("policies/test-metrics.json.tera"), METRICS_POLICY).unwrap();
    p
}

fn apply(emu: &Emulator, p: &Project) -> common::Run {
    novactl(
        Some(emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0)
}

fn plan_code(emu: &Emulator, p: &Project) -> common::Run {
    novactl(
        Some(emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    )
}

/// A policy document as IAM returns it (URL-encoded JSON), put in a canonical form: one-element
/// strings become lists, lists are sorted, statements are sorted.
fn decode(doc: &str) -> Value {
    let text = urlencoding::decode(doc).expect("URL-encoded").into_owned();
    canon(&serde_json::from_str(&text).expect("policy JSON"))
}

fn canon(doc: &Value) -> Value {
    fn set(v: &Value) -> Value {
        let mut items: Vec<String> = match v {
            Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
            Value::String(s) => vec![s.clone()],
            other => panic!("unexpected {other}"),
        };
        items.sort();
        json!(items)
    }
    let mut doc = doc.clone();
    let stmts = match doc["Statement"].take() {
        Value::Array(a) => a,
        one => vec![one],
    };
    let mut stmts: Vec<Value> = stmts
        .into_iter()
        .map(|mut s| {
            for k in ["Action", "Resource"] {
                if let Some(v) = s.get(k) {
                    s[k] = set(v);
                }
            }
            if let Some(Value::Object(p)) = s.get_mut("Principal") {
                for v in p.values_mut() {
                    *v = set(v);
                }
            }
            s
        })
        .collect();
    stmts.sort_by_key(|s| s.to_string());
    doc["Statement"] = json!(stmts);
    doc
}

async fn key_arn(emu: &Emulator, alias: &str) -> String {
    emu.kms("us-east-1")
        .await
        .describe_key()
        .key_id(format!("alias/{alias}"))
        .send()
        .await
        .expect("alias resolves")
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

async fn inline_names(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let mut names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap()
        .policy_names;
    names.sort();
    names
}

async fn inline_doc(iam: &aws_sdk_iam::Client, role: &str, policy: &str) -> Value {
    let out = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .unwrap();
    decode(&out.policy_document)
}

async fn role_exists(iam: &aws_sdk_iam::Client, role: &str) -> bool {
    match iam.get_role().role_name(role).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(e) => panic!("GetRole {role}: {e:?}"),
    }
}

fn read_policy(key_arn: &str) -> Value {
    let text = READ_POLICY
        .replace("{{ kms.phi.arn }}", key_arn)
        .replace("{{ region }}", "us-east-1")
        .replace("{{ account_id }}", ACCOUNT);
    canon(&serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn apply_creates_roles_that_match_the_spec_and_second_apply_writes_nothing() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["api", "exec"]);
    let plan = plan_json(&emu, &p);
    let mut created: Vec<(String, String)> = changes(&plan)
        .into_iter()
        .map(|(a, act, _)| (a, act))
        .collect();
    created.sort();
    assert_eq!(
        created,
        [
            ("iam.api", "create"),
            ("iam.exec", "create"),
            ("kms.phi", "create")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    apply(&emu, &p);

    let iam = emu.iam().await;
    let arn = key_arn(&emu, &n.alias).await;
    let exec = iam
        .get_role()
        .role_name(&n.exec)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(
        decode(exec.assume_role_policy_document().unwrap()),
        canon(
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": ["ecs-tasks.amazonaws.com", "sagemaker.amazonaws.com"]},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": [common::ACCOUNT]}}}]})
        ),
        "the trust policy admits the services only on behalf of this account"
    );
    assert_eq!(exec.description(), Some("Execution role"));
    assert_eq!(inline_names(&iam, &n.exec).await, ["metrics", "read"]);
    assert_eq!(inline_doc(&iam, &n.exec, "read").await, read_policy(&arn));
    assert_eq!(
        inline_doc(&iam, &n.exec, "metrics").await,
        canon(&serde_json::from_str(METRICS_POLICY).unwrap())
    );
    let tags = iam
        .list_role_tags()
        .role_name(&n.exec)
        .send()
        .await
        .unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(tag("novactl:address").as_deref(), Some("iam.exec"));
    assert_eq!(tag("novactl:environment"), Some(n.env.clone()));
    assert_eq!(tag("Team").as_deref(), Some("ml"));
    assert_eq!(tag("Project").as_deref(), Some("NOVAMIND"));

    // The repo's api-service policy, rendered with the key's ARN and `vars.endpoint_name`.
    let api = inline_doc(&iam, &n.api, "api").await;
    let resources: Vec<String> = api["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Resource"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert!(resources.contains(&arn), "{api}");
    assert!(
        resources.contains(&format!(
            "arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/ep-test"
        )),
        "{api}"
    );

    let again = assert_no_changes(&emu, p.spec.to_str().unwrap());
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let second = apply(&emu, &p);
    assert_eq!(
        second.writes(),
        0,
        "a converged apply must not write: {}",
        second.stderr
    );
}

#[tokio::test]
async fn an_inline_policy_replaced_out_of_band_is_planned_and_restored() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["api", "exec"]);
    apply(&emu, &p);
    let iam = emu.iam().await;
    let arn = key_arn(&emu, &n.alias).await;

    iam.put_role_policy()
        .role_name(&n.exec)
        .policy_name("read")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "s3:*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();

    plan_code(&emu, &p).expect_code(2);
    let drift = changes(&plan_json(&emu, &p));
    assert_eq!(drift.len(), 1, "only the drifted role changes: {drift:?}");
    let (address, action, paths) = &drift[0];
    assert_eq!((address.as_str(), action.as_str()), ("iam.exec", "update"));
    assert!(
        !paths.is_empty() && paths.iter().all(|p| p.starts_with("inline_policies.read")),
        "{paths:?}"
    );

    apply(&emu, &p);
    assert_eq!(inline_doc(&iam, &n.exec, "read").await, read_policy(&arn));
    assert_no_changes(&emu, p.spec.to_str().unwrap());
}

#[tokio::test]
async fn an_extra_inline_policy_is_removed() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["exec"]);
    apply(&emu, &p);
    let iam = emu.iam().await;
    iam.put_role_policy()
        .role_name(&n.exec)
        .policy_name("extra")
        .policy_document(METRICS_POLICY)
        .send()
        .await
        .unwrap();

    let drift = changes(&plan_json(&emu, &p));
    assert_eq!(
        drift,
        [(
            "iam.exec".to_string(),
            "update".to_string(),
            vec!["inline_policies.extra".to_string()]
        )]
    );
    apply(&emu, &p);
    assert_eq!(inline_names(&iam, &n.exec).await, ["metrics", "read"]);
    assert_no_changes(&emu, p.spec.to_str().unwrap());
}

#[tokio::test]
async fn trust_description_and_tag_drift_converge() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["exec"]);
    apply(&emu, &p);
    let iam = emu.iam().await;

    // Out of band: trust narrowed, a spec tag removed and a foreign one added.
    iam.update_assume_role_policy()
        .role_name(&n.exec)
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.untag_role()
        .role_name(&n.exec)
        .tag_keys("Team")
        .send()
        .await
        .unwrap();
    iam.tag_role()
        .role_name(&n.exec)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("Stray")
                .value("x")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // In the spec: a new description.
    p.write_spec(&spec(&n, &["exec"], "Execution role v2"));

    let drift = changes(&plan_json(&emu, &p));
    assert_eq!(drift.len(), 1, "{drift:?}");
    let (address, action, paths) = &drift[0];
    assert_eq!((address.as_str(), action.as_str()), ("iam.exec", "update"));
    for want in ["trust_policy", "description", "tags.Team", "tags.Stray"] {
        assert!(
            paths.iter().any(|p| p.starts_with(want)),
            "{want} in {paths:?}"
        );
    }

    apply(&emu, &p);
    let role = iam
        .get_role()
        .role_name(&n.exec)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(role.description(), Some("Execution role v2"));
    let trust = decode(role.assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        json!(["ecs-tasks.amazonaws.com", "sagemaker.amazonaws.com"])
    );
    let tags = iam
        .list_role_tags()
        .role_name(&n.exec)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    assert!(
        keys.contains(&"Team") && !keys.contains(&"Stray"),
        "{keys:?}"
    );
    assert_no_changes(&emu, p.spec.to_str().unwrap());
}

#[tokio::test]
async fn a_crash_after_create_role_is_finished_by_the_next_apply() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["exec"]);
    let path = p.spec.to_str().unwrap();
    novactl_env(
        Some(&emu),
        &["apply", "-e", path, "--auto-approve"],
        &[("NOVACTL_FAIL_AT", "iam.after_create_role")],
    )
    .expect_code(1);
    let iam = emu.iam().await;
    assert!(role_exists(&iam, &n.exec).await);
    assert!(inline_names(&iam, &n.exec).await.is_empty());

    // The half-made role is ours (tagged in CreateRole): an update, not a create or conflict.
    let plan = changes(&plan_json(&emu, &p));
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!(
        (plan[0].0.as_str(), plan[0].1.as_str()),
        ("iam.exec", "update")
    );
    apply(&emu, &p);
    assert_eq!(inline_names(&iam, &n.exec).await, ["metrics", "read"]);
    assert_no_changes(&emu, p.spec.to_str().unwrap());
}

#[tokio::test]
async fn a_role_that_left_the_spec_is_deleted_with_its_attachments_and_destroy_removes_the_rest() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["api", "exec"]);
    apply(&emu, &p);
    let iam = emu.iam().await;

    // Things IAM refuses to delete a role with: a managed policy and an instance profile.
    let managed = iam
        .create_policy()
        .policy_name(unique("managed"))
        .policy_document(METRICS_POLICY)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.attach_role_policy()
        .role_name(&n.exec)
        .policy_arn(&managed)
        .send()
        .await
        .unwrap();
    let profile = unique("profile");
    iam.create_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&n.exec)
        .send()
        .await
        .unwrap();

    p.write_spec(&spec(&n, &["api"], "unused"));
    let plan = changes(&plan_json(&emu, &p));
    assert_eq!(
        plan,
        [("iam.exec".to_string(), "delete".to_string(), Vec::new())]
    );
    apply(&emu, &p);
    assert!(!role_exists(&iam, &n.exec).await);
    assert!(role_exists(&iam, &n.api).await);
    let profile_roles = iam
        .get_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap()
        .instance_profile
        .unwrap()
        .roles;
    assert!(profile_roles.is_empty());
    assert_no_changes(&emu, p.spec.to_str().unwrap());

    novactl(
        Some(&emu),
        &["destroy", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0);
    assert!(!role_exists(&iam, &n.api).await);
}

#[tokio::test]
async fn a_foreign_role_with_the_spec_name_is_a_conflict_and_left_alone() {
    let emu = Emulator::start();
    let n = Names::new();
    let p = project(&n, &["api"]);
    let iam = emu.iam().await;
    let foreign_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name(&n.api)
        .assume_role_policy_document(foreign_trust.to_string())
        .send()
        .await
        .unwrap();

    let plan = plan_json(&emu, &p);
    let api = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "iam.api")
        .expect("iam.api in the plan");
    assert_eq!(api["action"], "conflict", "{api}");
    plan_code(&emu, &p).expect_code(2);

    let r = novactl(
        Some(&emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains(&n.api) || r.stdout.contains(&n.api),
        "the error names the role:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    let role = iam
        .get_role()
        .role_name(&n.api)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(
        decode(role.assume_role_policy_document().unwrap()),
        canon(&foreign_trust)
    );
    assert!(inline_names(&iam, &n.api).await.is_empty());
    let tags = iam.list_role_tags().role_name(&n.api).send().await.unwrap();
    assert!(tags.tags().is_empty(), "{:?}", tags.tags());
}
