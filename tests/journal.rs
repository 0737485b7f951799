//! The create journal, kind by kind: a fault injected right after each create call of each
//! kind (`NOVACTL_FAIL_AT`, as if the connection were lost there), then a plain `apply`
//! (no `--adopt`) converges; no duplicate (every live resource tagged with an address exists
//! once, read with the SDK), no orphan (the inventory names every spec resource with its
//! live ARN, the journal holds no open intent), and `plan` is "No changes.". Also: extra
//! copies of spec resources (a second key tagged `kms.phi`, a second bucket, role, topic) are
//! shown by plan and removed by apply and by destroy.
//!
//! Emulator patches used: `patch_s3_bucket_policy_secure_transport`, the SageMaker patches
//! (instance types, network isolation) and the CloudWatch rpc-v2-cbor bridge.

mod common;

use common::{
    assert_no_changes, assert_no_duplicates, census, changes, inventory, kms_key, novactl,
    novactl_env, open_intents, plan_json, Emulator, Project,
};

const KMS: &str = "kms:\n  phi:\n    alias: alias/ENV-phi\n    deletion_window_days: 7\n";
const S3: &str = "s3:\n  data:\n    name: ENV-data\n    kms_key: phi\n";
const S3_TRAIL: &str = "s3:\n  trail:\n    name: ENV-trail\n    kms_key: phi\n";
const IAM: &str = "iam:\n  exec:\n    name: ENV-exec\n    trust: [sagemaker.amazonaws.com]\n    policies:\n      execution: ../policies/journal-role.json\n";
const MODEL: &str = "sagemaker:\n  models:\n    m:\n      name: ENV-model\n      image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-gpu\n      model_data: s3://ENV-models/m.tar.gz\n      role: exec\n";
const ENDPOINT: &str = "  endpoints:\n    m:\n      name: ENV-endpoint\n      model: m\n      instance_type: ml.g5.2xlarge\n      instance_count: 1\n      kms_key: phi\n";
const SNS: &str = "sns:\n  alerts:\n    name: ENV-alerts\n    kms_key: phi\n";
const ALARM: &str = "cloudwatch:\n  alarms:\n    a:\n      name: ENV-latency\n      namespace: AWS/SageMaker\n      metric: ModelLatency\n      statistic: Average\n      dimensions: { EndpointName: ENV-endpoint }\n      period: 60\n      evaluation_periods: 5\n      threshold: 10000\n      comparison: GreaterThanThreshold\n";
const DASHBOARD: &str = "cloudwatch:\n  dashboards:\n    d:\n      name: ENV-dashboard\n      template: ../templates/dashboards/mentallama.json.tera\n";
const TRAIL: &str = "cloudtrail:\n  t:\n    name: ENV-Trail\n    bucket: trail\n    prefix: ct\n    kms_key: phi\n    log_group: /novactl/ENV/trail\n    log_retention_days: 30\n";

/// A project with the spec of `parts` and the small role policy they use.
fn project(env: &str, parts: &[&str]) -> Project {
    let p = Project::new(&spec(env, parts));
    std::fs::write(
        p.path("policies/journal-role.json"),
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{{ environment }}-models/*"}]}"#,
    )
    .unwrap();
    p
}

fn spec(env: &str, parts: &[&str]) -> String {
    let mut s = format!("environment: {env}\nregion: us-east-1\ntags:\n  Project: NOVAMIND\n");
    for p in parts {
        s.push_str(&p.replace("ENV", env));
    }
    s
}

/// (fault point @ address, spec parts, what the first run must have left in the journal).
struct Case {
    point: &'static str,
    address: &'static str,
    parts: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        point: "kms.after_create_key",
        address: "kms.phi",
        parts: &[KMS],
    },
    Case {
        point: "kms.after_create_alias",
        address: "kms.phi",
        parts: &[KMS],
    },
    Case {
        point: "s3.after_create_bucket",
        address: "s3.data",
        parts: &[KMS, S3],
    },
    Case {
        point: "iam.after_create_role",
        address: "iam.exec",
        parts: &[IAM],
    },
    Case {
        point: "sagemaker.after_create_model",
        address: "sagemaker_model.m",
        parts: &[IAM, MODEL],
    },
    Case {
        point: "sagemaker.after_create_endpoint_config",
        address: "sagemaker_endpoint.m",
        parts: &[KMS, IAM, MODEL, ENDPOINT],
    },
    Case {
        point: "sagemaker.after_create_endpoint",
        address: "sagemaker_endpoint.m",
        parts: &[KMS, IAM, MODEL, ENDPOINT],
    },
    Case {
        point: "sns.after_create_topic",
        address: "sns.alerts",
        parts: &[KMS, SNS],
    },
    Case {
        point: "cloudwatch.after_put_alarm",
        address: "cloudwatch_alarm.a",
        parts: &[ALARM],
    },
    Case {
        point: "cloudwatch.after_put_dashboard",
        address: "cloudwatch_dashboard.d",
        parts: &[DASHBOARD],
    },
    Case {
        point: "logs.after_create_log_group",
        address: "log_group.t",
        parts: &[KMS, S3_TRAIL, TRAIL],
    },
    // The log group's own IAM role (made inside the log group's create).
    Case {
        point: "iam.after_create_role",
        address: "log_group.t",
        parts: &[KMS, S3_TRAIL, TRAIL],
    },
    Case {
        point: "cloudtrail.after_create_trail",
        address: "cloudtrail.t",
        parts: &[KMS, S3_TRAIL, TRAIL],
    },
];

#[tokio::test]
async fn a_fault_after_each_create_of_each_kind_is_finished_by_a_plain_apply() {
    let emu = Emulator::start();
    for (n, case) in CASES.iter().enumerate() {
        let env = format!("f{n}");
        let p = project(&env, case.parts);
        let path = p.spec.to_str().unwrap();
        let why = format!("{} @ {}", case.point, case.address);

        let fault = format!("{}@{}", case.point, case.address);
        let first = novactl_env(
            Some(&emu),
            &["apply", "-e", path, "--auto-approve"],
            &[("NOVACTL_FAIL_AT", fault.as_str())],
        )
        .expect_code(1);
        assert!(
            first.stderr.contains("InjectedFault"),
            "{why}: {}",
            first.stderr
        );
        // The journal recorded the create before it started, and it is still open.
        let open: Vec<String> = open_intents(&p, &env)
            .iter()
            .map(|i| i["address"].as_str().unwrap().to_string())
            .collect();
        assert!(
            open.contains(&case.address.to_string()),
            "{why}: open intents {open:?}"
        );

        // A plain apply finishes it: no --adopt, no conflict.
        let plan = plan_json(&emu, &p);
        assert!(
            !changes(&plan)
                .iter()
                .any(|(_, action, _)| action == "conflict"),
            "{why}: {:?}",
            changes(&plan)
        );
        if case.point == "s3.after_create_bucket" {
            // The bucket is there untagged: the journal, not --adopt, makes it ours.
            let c = plan["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["address"] == "s3.data")
                .unwrap();
            assert_eq!(c["action"], "update", "{why}: {c}");
            let reason = c["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("finishing the create of run"),
                "{why}: {reason}"
            );
        }
        let second = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
        assert!(
            !second.stderr.contains("conflict"),
            "{why}: {}",
            second.stderr
        );
        assert_no_changes(&emu, path);

        // No duplicate, no orphan.
        let live = census(&emu, "us-east-1", &env).await;
        assert_no_duplicates(&live);
        let addresses: Vec<String> = plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["address"].as_str().unwrap().to_string())
            .collect();
        let inv = inventory(&p);
        let inv_addresses: Vec<&str> = inv.iter().map(|(a, _)| a.as_str()).collect();
        let mut want: Vec<&str> = addresses.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(inv_addresses, want, "{why}: inventory");
        for (_, address) in &live {
            assert!(
                want.contains(&address.as_str()),
                "{why}: live {address} is not in the spec"
            );
        }
        assert!(
            open_intents(&p, &env).is_empty(),
            "{why}: {:?}",
            open_intents(&p, &env)
        );
        if case.address == "kms.phi" {
            let key = kms_key(&emu, &format!("alias/{env}-phi"))
                .await
                .expect("alias");
            let arn = inv.iter().find(|(a, _)| a == "kms.phi").unwrap().1.clone();
            assert_eq!(
                Some(arn.as_str()),
                key.arn(),
                "{why}: the inventory names the live key"
            );
        }
    }
}

#[tokio::test]
async fn an_untagged_resource_without_an_intent_is_still_a_conflict() {
    let emu = Emulator::start();
    let p = project("noint", &[KMS, S3]);
    let path = p.spec.to_str().unwrap();
    emu.s3("us-east-1")
        .await
        .create_bucket()
        .bucket("noint-data")
        .send()
        .await
        .unwrap();
    let plan = plan_json(&emu, &p);
    assert!(
        changes(&plan).contains(&("s3.data".into(), "conflict".into(), vec![])),
        "{:?}",
        changes(&plan)
    );
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(1);
}

async fn extra_key(emu: &Emulator, env: &str, address: &str) -> String {
    let tag = |k: &str, v: &str| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(k)
            .tag_value(v)
            .build()
            .unwrap()
    };
    emu.kms("us-east-1")
        .await
        .create_key()
        .tags(tag("novactl:address", address))
        .tags(tag("novactl:environment", env))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

#[tokio::test]
async fn extra_copies_tagged_with_a_spec_address_are_planned_and_deleted_by_apply_and_destroy() {
    let emu = Emulator::start();
    let env = "extra";
    let p = project(env, &[KMS, S3, IAM, SNS]);
    let path = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    let before = census(&emu, "us-east-1", env).await;

    // Out of band: a second copy of four spec resources, tagged like ours.
    let key = extra_key(&emu, env, "kms.phi").await;
    let s3 = emu.s3("us-east-1").await;
    s3.create_bucket()
        .bucket("extra-data-copy")
        .send()
        .await
        .unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("novactl:address")
                .value("s3.data")
                .build()
                .unwrap(),
        )
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("novactl:environment")
                .value(env)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_tagging()
        .bucket("extra-data-copy")
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    let iam = emu.iam().await;
    let itag = |k: &str, v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    iam.create_role()
        .role_name("extra-exec-copy")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .tags(itag("novactl:address", "iam.exec"))
        .tags(itag("novactl:environment", env))
        .send()
        .await
        .unwrap();
    let stag = |k: &str, v: &str| {
        aws_sdk_sns::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let topic = emu
        .sns("us-east-1")
        .await
        .create_topic()
        .name("extra-alerts-copy")
        .tags(stag("novactl:address", "sns.alerts"))
        .tags(stag("novactl:environment", env))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();

    // Plan shows each loudly, as a delete of its own address; the spec's resources are no-ops.
    // By default discovery asks the tagging API and the inventory: the role, made out of band
    // and so in no inventory, is found only by `--scan` (IAM is not in the tagging API).
    let r = novactl(Some(&emu), &["plan", "-e", path, "--detailed-exitcode"]).expect_code(2);
    assert!(r.stderr.contains("3 EXTRA COPY"), "{}", r.stderr);
    assert!(!r.stdout.contains("extra-exec-copy"), "{}", r.stdout);
    let r = novactl(
        Some(&emu),
        &["plan", "-e", path, "--scan", "--detailed-exitcode"],
    )
    .expect_code(2);
    assert!(r.stderr.contains("4 EXTRA COPY"), "{}", r.stderr);
    assert_eq!(r.stdout.matches("EXTRA COPY").count(), 4, "{}", r.stdout);
    let r = novactl(Some(&emu), &["plan", "-e", path, "--scan", "--json"]).expect_code(0);
    let mut got = changes(&serde_json::from_str(&r.stdout).expect("plan JSON"));
    got.sort();
    let mut want = vec![
        (
            "iam.exec#extra-exec-copy".to_string(),
            "delete".to_string(),
            vec![],
        ),
        (format!("kms.phi#{key}"), "delete".to_string(), vec![]),
        (
            "s3.data#extra-data-copy".to_string(),
            "delete".to_string(),
            vec![],
        ),
        (format!("sns.alerts#{topic}"), "delete".to_string(), vec![]),
    ];
    want.sort();
    assert_eq!(got, want);

    // Apply deletes them (the key is scheduled for deletion); the spec's own stay.
    novactl(
        Some(&emu),
        &["apply", "-e", path, "--scan", "--auto-approve"],
    )
    .expect_code(0);
    assert_no_changes(&emu, path);
    assert_eq!(census(&emu, "us-east-1", env).await, before);
    let state = kms_key(&emu, &key).await.unwrap();
    assert_eq!(
        state.key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    assert!(s3
        .head_bucket()
        .bucket("extra-data-copy")
        .send()
        .await
        .is_err());
    assert!(iam
        .get_role()
        .role_name("extra-exec-copy")
        .send()
        .await
        .is_err());

    // Destroy removes an extra copy too.
    let key2 = extra_key(&emu, env, "kms.phi").await;
    let r = novactl(Some(&emu), &["destroy", "-e", path, "--auto-approve"]).expect_code(0);
    assert!(
        r.stdout.contains(&format!("kms.phi#{key2}")),
        "{}",
        r.stdout
    );
    assert_eq!(census(&emu, "us-east-1", env).await, vec![]);
}
