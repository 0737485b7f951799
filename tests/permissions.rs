//! `novactl permissions` against what novactl really calls: the seed stack, on the S3 state
//! backend, is applied, planned (also with `--scan`), checked for drift (`drift --notify`),
//! changed (a spec edit and drift on several kinds, repaired), listed (`output`, `state list`,
//! `history`) and destroyed with
//! `NOVACTL_CALL_LOG`; every AWS call made must be declared and allowed by the policy
//! `permissions` prints (the union of its documents, each small enough for a managed policy),
//! and the policy must grant nothing beyond what the calls need. The read-only commands (plan,
//! check --live, output, history, report, drift), logged apart, must be granted by
//! `permissions --for read`, which grants no write (`drift --notify` adds `sns:Publish`, the one
//! statement the docs tell readers to add).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{novactl, novactl_env, Emulator};
use serde_json::Value;

/// Declared calls the run below does not make, and why the policy still needs them. A Perm
/// that is neither called here nor listed fails the test: declare only what novactl calls.
const NOT_EXERCISED: &[(&str, &str)] = &[
    ("cloudtrail:StopLogging", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("cloudtrail:UpdateTrail", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("iam:UpdateAssumeRolePolicy", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("kms:PutKeyPolicy", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("kms:DisableKeyRotation", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("kms:EnableKey", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("logs:AssociateKmsKey", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("logs:DisassociateKmsKey", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("logs:DeleteRetentionPolicy", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("s3:DeleteBucketLifecycle", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("sns:SetTopicAttributes", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("sagemaker:UpdateEndpoint", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change)"),
    ("ec2:ModifySubnetAttribute", "repairs of drift this run does not cause (each is the write that undoes one kind of out-of-band change): a subnet novactl makes has public IPs on launch off, as the create's answer says"),
    ("cloudtrail:AddTags", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("cloudtrail:RemoveTags", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("cloudwatch:TagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("cloudwatch:UntagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("iam:TagRole", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("iam:UntagRole", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("kms:TagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("kms:UntagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("logs:TagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("logs:UntagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("sagemaker:AddTags", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("sagemaker:DeleteTags", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("sns:TagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("sns:UntagResource", "tag repairs (resources are created with their tags; these run only when tags drift)"),
    ("iam:DetachRolePolicy", "deleting a role someone attached a managed policy or instance profile to"),
    ("iam:RemoveRoleFromInstanceProfile", "deleting a role someone attached a managed policy or instance profile to"),
    ("s3:GetBucketLocation", "a bucket's region when HeadBucket's answer does not name it (S3 and the emulator name it)"),
    ("kms:CancelKeyDeletion", "a key pending deletion that is back in the spec"),
    ("cloudtrail:DescribeTrails", "`novactl import log_group GROUP` only (the trail delivering to the group; checked in tests/import.rs)"),
    ("ec2:DescribeNatGateways", "`novactl import network VPC_ID` only (a VPC with a NAT gateway is refused; checked in tests/import.rs)"),
    // The network (network.main, its DR twin and their security groups): made whole by create,
    // so these run only to repair what a hand changed.
    ("ec2:ReplaceNetworkAclEntry", "repairs of drift this run does not cause (a NACL entry changed by hand)"),
    ("ec2:DeleteRoute", "repairs of drift this run does not cause (a route added by hand to a private route table, e.g. to an internet gateway)"),
    ("ec2:ReplaceRouteTableAssociation", "repairs of drift this run does not cause (a private subnet moved to another route table by hand)"),
    ("ec2:ModifyVpcEndpoint", "repairs of drift this run does not cause (an endpoint's policy, subnets, groups, private DNS or route tables changed by hand)"),
    ("ec2:RevokeSecurityGroupIngress", "a rule opened by hand on a group (and AWS's self-referencing rule of a VPC's default group, which the emulator's default group lacks)"),
    ("ec2:CreateTags", "tag repairs (EC2 resources are created with their tags; these run only when tags drift)"),
    ("ec2:DeleteTags", "tag repairs (EC2 resources are created with their tags; these run only when tags drift)"),
    ("ec2:DescribeNetworkInterfaces", "a delete refused because a network interface still holds the subnet, group or VPC (SageMaker releases an endpoint's some minutes after it is gone; the emulator holds none)"),
];

#[tokio::test]
async fn every_call_of_the_seed_stack_is_allowed_and_nothing_else_is_granted() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    novactl(None, &["init", "--example", "seed", d.to_str().unwrap()]).expect_code(0);
    let spec_path = d.join("environments/local.yaml");
    let spec = spec_path.to_str().unwrap();
    let log = d.join("calls.log");
    let log_s = log.to_str().unwrap();
    // The S3 state backend, so that its calls are checked too (the local one makes none).
    // `bootstrap` makes the state stack once, with the permissions of whoever sets it up.
    // The primary endpoint twice the standby's size, so that promoting the standby scales it.
    // (local.yaml is an overlay of base.yaml: the size goes into its endpoint's entry.)
    let overlay = std::fs::read_to_string(&spec_path).unwrap();
    let seed = overlay.replace(
        "      timeout_minutes: 5\n",
        "      timeout_minutes: 5\n      instance_count: 2\n",
    );
    assert_ne!(seed, overlay, "the endpoint entry of local.yaml");
    std::fs::write(
        &spec_path,
        format!("{seed}\nstate:\n  s3:\n    bucket: novamind-local-novactl-state\n"),
    )
    .unwrap();
    novactl(Some(&emu), &["bootstrap", "-e", spec]).expect_code(0);
    let run = |args: &[&str], code: i32| {
        novactl_env(Some(&emu), args, &[("NOVACTL_CALL_LOG", log_s)]).expect_code(code)
    };
    run(&["plan", "-e", spec], 0);
    run(&["apply", "-e", spec, "--auto-approve"], 0);
    // The model's artifact, uploaded as a model stack is built: replication copies it to the
    // DR region, where the drill checks it.
    emu.s3("us-east-1")
        .await
        .put_object()
        .bucket("novamind-local-models")
        .key("models/mentallama-packaged.tar.gz")
        .body(b"weights".to_vec().into())
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    run(&["plan", "-e", spec], 0);
    // The scheduled drift check, publishing its summary (sns:Publish on the encrypted topic).
    run(&["drift", "-e", spec, "--notify", "sns.alerts"], 0);
    // The read-only commands, logged apart: `permissions --for read` must be enough for them.
    let read_log = d.join("read-calls.log");
    for args in [
        &["plan", "-e", spec][..],
        &["check", "--live", "-e", spec],
        &["output", "-e", spec],
        &["history", "-e", spec],
        &["report", "-e", spec],
        &["drift", "-e", spec],
    ] {
        novactl_env(
            Some(&emu),
            args,
            &[("NOVACTL_CALL_LOG", read_log.to_str().unwrap())],
        )
        .expect_code(0);
    }
    // A spec change and drift, repaired by apply.
    let text = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        text.replace("expire_days: 30\n", "expire_days: 45\n")
            .replace("MentaLLaMA-Alerts", "MentaLLaMA-Alerts-2"),
    )
    .unwrap();
    let kms = emu.kms("us-east-1").await;
    let key = common::kms_key(&emu, "alias/novamind-local-phi")
        .await
        .unwrap()
        .key_id;
    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    kms.update_key_description()
        .key_id(&key)
        .description("by hand")
        .send()
        .await
        .unwrap();
    emu.iam()
        .await
        .update_role()
        .role_name("APIServiceRole")
        .description("by hand")
        .send()
        .await
        .unwrap();
    // A metric filter nobody asked for, on the trail's log group: apply deletes it.
    emu.logs("us-east-1")
        .await
        .put_metric_filter()
        .log_group_name("/novamind/cloudtrail")
        .filter_name("by-hand")
        .filter_pattern("ERROR")
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name("ByHand")
                .metric_namespace("Hand")
                .metric_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    run(&["apply", "-e", spec, "--auto-approve"], 0);
    common::assert_no_changes(&emu, spec);
    // --scan lists every kind in the account instead of asking the tagging API.
    run(&["plan", "-e", spec, "--scan"], 0);
    run(&["output", "-e", spec], 0);
    run(&["state", "list", "-e", spec], 0);
    run(&["history", "-e", spec], 0);
    // The DR commands: a drill (promotion, canaries, artifacts, teardown), failover, failback.
    run(&["dr", "drill", "-e", spec, "--teardown"], 0);
    run(&["dr", "failover", "-e", spec], 0);
    run(&["dr", "failback", "-e", spec, "--auto-approve"], 0);
    // Every bucket holds objects by now (access logs, the artifact and its replicas): destroy
    // --force empties them.
    run(&["destroy", "-e", spec, "--auto-approve", "--force"], 0);

    let called: BTreeSet<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let by_call: Value = serde_json::from_str(
        &novactl(None, &["permissions", "-e", spec, "--by-call", "--json"])
            .expect_code(0)
            .stdout,
    )
    .unwrap();
    let granted = granted_by(spec, "apply");
    let actions = |call: &str, field: &str| -> Vec<String> {
        by_call[call][field]
            .as_array()
            .map(|v| v.iter().map(|a| a.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };

    // The run took the paths this test is for: the state backend, discovery, the DR stack's
    // replication, and the drill's promotion, canaries and metrics.
    for c in [
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListObjectsV2",
        "tag:GetResources",
        "s3:PutBucketReplication",
        "s3:DeleteBucketReplication",
        "s3:HeadObject",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "sagemaker-runtime:InvokeEndpoint",
        "cloudwatch:GetMetricStatistics",
        "s3:DeleteObjects",
    ] {
        assert!(called.contains(c), "the run did not call {c}");
    }
    let undeclared: Vec<&String> = called
        .iter()
        .filter(|c| by_call.get(*c).is_none())
        .collect();
    assert!(undeclared.is_empty(), "calls with no Perm: {undeclared:#?}");
    let mut denied = Vec::new();
    for c in &called {
        for a in actions(c, "actions") {
            if !granted.contains(&a) {
                denied.push(format!("{c} needs {a}"));
            }
        }
    }
    assert!(
        denied.is_empty(),
        "calls the policy would deny: {denied:#?}"
    );

    let mut needed: BTreeSet<String> = BTreeSet::new();
    for c in &called {
        needed.extend(actions(c, "actions"));
        needed.extend(actions(c, "implied"));
    }
    let listed: BTreeSet<&str> = NOT_EXERCISED.iter().map(|(c, _)| *c).collect();
    for c in &listed {
        assert!(
            !called.contains(*c),
            "{c} is listed as not exercised but was called"
        );
        needed.extend(actions(c, "actions"));
        needed.extend(actions(c, "implied"));
    }
    let extra: Vec<&String> = granted.difference(&needed).collect();
    let unexercised: Vec<&String> = by_call
        .as_object()
        .unwrap()
        .keys()
        .filter(|c| !called.contains(*c) && !listed.contains(c.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "granted but needed by no call made: {extra:#?}\ndeclared calls not made (call them in \
         this test or list them in NOT_EXERCISED with why): {unexercised:#?}"
    );
    assert!(
        called.len() > 60,
        "the run made {} distinct calls",
        called.len()
    );
    let _ = Path::new(spec);

    // The read policy grants every call of the read-only commands, and no write.
    let read_called: BTreeSet<String> = std::fs::read_to_string(&read_log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for c in [
        "s3:GetObject",
        "s3:ListObjectsV2",
        "tag:GetResources",
        "sts:GetCallerIdentity",
        "kms:GetKeyPolicy",
        "sagemaker:DescribeEndpoint",
    ] {
        assert!(
            read_called.contains(c),
            "the read-only run did not call {c}"
        );
    }
    let read_by_call: Value = serde_json::from_str(
        &novactl(
            None,
            &[
                "permissions",
                "-e",
                spec,
                "--by-call",
                "--for",
                "read",
                "--json",
            ],
        )
        .expect_code(0)
        .stdout,
    )
    .unwrap();
    let read_granted = granted_by(spec, "read");
    let mut denied = Vec::new();
    for c in &read_called {
        assert_eq!(
            read_by_call[c]["read"], true,
            "{c}, made by a read-only command, is not a declared read"
        );
        for a in actions(c, "actions")
            .into_iter()
            .chain(actions(c, "implied"))
        {
            if !read_granted.contains(&a) {
                denied.push(format!("{c} needs {a}"));
            }
        }
    }
    assert!(
        denied.is_empty(),
        "calls of the read-only commands the read policy would deny: {denied:#?}"
    );
    let writes: Vec<&String> = read_granted
        .iter()
        .filter(|a| {
            let op = a.split_once(':').unwrap().1;
            WRITE_VERBS.split_whitespace().any(|v| op.starts_with(v))
        })
        .collect();
    assert!(
        writes.is_empty(),
        "the read policy grants writes: {writes:#?}"
    );
    assert!(read_granted.is_subset(&granted));
    assert!(read_granted.len() < granted.len());
}

/// Verbs of IAM actions that change something (the first word of the operation).
const WRITE_VERBS: &str = "Put Create Delete Update Tag Untag Schedule Enable Disable Attach \
    Detach Register Deregister Add Remove Start Stop Publish Copy Restore Cancel Set Invoke \
    Associate Disassociate Generate Pass";

/// The actions the documents of `permissions --json --for WHAT` grant together; each
/// document fits a managed policy (6,144 characters without whitespace).
fn granted_by(spec: &str, what: &str) -> BTreeSet<String> {
    let docs: Value = serde_json::from_str(
        &novactl(None, &["permissions", "-e", spec, "--json", "--for", what])
            .expect_code(0)
            .stdout,
    )
    .unwrap();
    let docs = docs.as_array().expect("a JSON array of policy documents");
    assert!(docs.len() > 1, "{what}: {} documents", docs.len());
    let mut granted = BTreeSet::new();
    for doc in docs {
        let chars = serde_json::to_string(doc)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        assert!(chars <= 6144, "{what}: a document of {chars} characters");
        assert_eq!(doc["Version"], "2012-10-17");
        for s in doc["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            match &s["Action"] {
                Value::String(a) => {
                    granted.insert(a.clone());
                }
                Value::Array(v) => {
                    granted.extend(v.iter().map(|a| a.as_str().unwrap().to_string()))
                }
                other => panic!("Action {other}"),
            }
        }
    }
    granted
}

/// `--out DIR` writes the documents `--json` prints, one file each named for what it grants,
/// and the text output counts them; without `account_id` no ARN names the offline account.
#[test]
fn out_writes_one_file_per_document_and_the_text_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    novactl(None, &["init", "--example", "seed", d.to_str().unwrap()]).expect_code(0);
    let spec = d.join("environments/prod.yaml");
    let spec = spec.to_str().unwrap();
    for what in ["apply", "read"] {
        let out = d.join(format!("iam-{what}"));
        let text = novactl(
            None,
            &[
                "permissions",
                "-e",
                spec,
                "--for",
                what,
                "--out",
                out.to_str().unwrap(),
            ],
        )
        .expect_code(0)
        .stdout;
        let docs: Value = serde_json::from_str(
            &novactl(None, &["permissions", "-e", spec, "--for", what, "--json"])
                .expect_code(0)
                .stdout,
        )
        .unwrap();
        let docs = docs.as_array().unwrap();
        assert!(!docs.iter().any(|d| d.to_string().contains("000000000000")));
        let mut files: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files.len(), docs.len(), "{files:?}");
        assert!(
            text.contains(&format!("# {} ", docs.len())),
            "the text does not count the documents: {text}"
        );
        let prefix = format!("novactl-{what}-");
        for group in ["discovery", "kms", "iam", "sagemaker"] {
            let f = format!("{prefix}{group}.json");
            assert!(files.contains(&f), "no {f} in {files:?}");
            assert!(text.contains(&format!("{prefix}{group} ")), "{text}");
        }
        // The large groups come in parts (the 15 CIS alarms per trail name their ARNs).
        for group in ["s3", "monitoring"] {
            let part = format!("{prefix}{group}");
            assert!(
                files.iter().any(|f| f.starts_with(&part)),
                "no {part} in {files:?}"
            );
        }
        let written: Vec<Value> = files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(out.join(f)).unwrap()).unwrap())
            .collect();
        for doc in docs {
            assert!(
                written.contains(doc),
                "--json printed a document no file holds"
            );
        }
    }
}
