//! Transient AWS faults, injected by the emulator (`--faults`, scripted faults): throttling in
//! each protocol's own words, HTTP 500, connections dropped before the request and answers lost
//! after the write was done. Applies converge anyway, plans show no false changes, and a
//! create whose answer was lost recognises its own earlier attempt.

mod common;

use common::{
    assert_bucket_configured, assert_no_changes, local_spec, novactl_env, resource_count, retries,
    Emulator, Project, LOCAL_BUCKETS,
};
use serde_json::json;

/// Fault-injection runs retry hundreds of times: a short initial backoff keeps them seconds
/// long (the policy is otherwise the shipped one: standard mode, 10 attempts).
const FAST_RETRIES: (&str, &str) = ("NOVACTL_RETRY_BASE_MS", "50");

/// Live keys of the account (not pending deletion), and those pending deletion.
async fn keys(emu: &Emulator, region: &str) -> (usize, usize) {
    let kms = emu.kms(region).await;
    let (mut live, mut pending) = (0, 0);
    for k in kms.list_keys().send().await.unwrap().keys() {
        let meta = kms
            .describe_key()
            .key_id(k.key_id().unwrap())
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        match meta.key_state() {
            Some(aws_sdk_kms::types::KeyState::PendingDeletion) => pending += 1,
            _ => live += 1,
        }
    }
    (live, pending)
}

#[tokio::test]
async fn whole_stack_applies_converge_under_20_percent_faults() {
    let emu = Emulator::start_with(&["--faults", "0.2", "--fault-seed", "20261201"]);
    let (mut novactl_retries, mut copies) = (0, 0);
    for round in 1..=10 {
        emu.reset();
        let p = Project::new(&local_spec());
        let path = p.spec.to_str().unwrap();
        let apply = novactl_env(
            Some(&emu),
            &["apply", "-e", path, "--auto-approve"],
            &[FAST_RETRIES],
        )
        .expect_code(0);
        assert!(
            apply.stderr.contains(&format!(
                "Apply complete: {} resource(s) changed",
                resource_count(&p)
            )),
            "round {round}: {}",
            apply.stderr
        );
        let plan = novactl_env(
            Some(&emu),
            &["plan", "-e", path, "--detailed-exitcode"],
            &[FAST_RETRIES],
        )
        .expect_code(0);
        assert!(
            plan.stdout.starts_with("No changes."),
            "round {round}: {}",
            plan.stdout
        );
        novactl_retries += retries(&apply) + retries(&plan);

        // Read back with the faults paused: one live key, every bucket fully configured.
        emu.faults(Some(json!({"rate": 0})));
        let (live, pending) = keys(&emu, "us-east-1").await;
        assert_eq!(live, 1, "round {round}: one live key");
        copies += pending;
        let s3 = emu.s3("us-east-1").await;
        for b in LOCAL_BUCKETS {
            assert_bucket_configured(&s3, b).await;
        }
        emu.faults(Some(json!({"rate": 0.2})));
    }
    let counts = emu.faults(None);
    let injected = counts["total"].as_u64().unwrap();
    eprintln!(
        "20% faults over 10 applies and 10 plans: {injected} injected in {} requests ({}); \
         novactl retried {novactl_retries} calls; {copies} duplicate key(s) from lost CreateKey \
         answers scheduled for deletion",
        counts["requests"], counts["injected"]
    );
    assert!(injected >= 200, "the faults were injected: {counts}");
    // Every injected fault hit a novactl call (the read-backs ran with faults paused), and
    // every one of them was retried: none was left to fail a run.
    assert_eq!(novactl_retries, injected, "{counts}");
}

/// One lost answer (the write was done, the connection dropped) on every create-like call of
/// the stack: the SDK sends each again, and each kind takes the resulting "already exists" (or
/// second copy) as its own.
#[tokio::test]
async fn a_lost_answer_on_every_create_is_recognised_as_our_own() {
    let emu = Emulator::start();
    let creates = [
        ("kms", "CreateKey"),
        ("kms", "CreateAlias"),
        ("kms", "EnableKeyRotation"),
        ("s3", "CreateBucket"),
        ("s3", "PutBucketTagging"),
        ("s3", "PutBucketPolicy"),
        ("s3", "PutBucketLogging"),
        ("iam", "CreateRole"),
        ("iam", "PutRolePolicy"),
        ("sns", "CreateTopic"),
        ("logs", "CreateLogGroup"),
        ("logs", "PutRetentionPolicy"),
        ("logs", "PutMetricFilter"),
        ("cloudtrail", "CreateTrail"),
        ("cloudtrail", "PutEventSelectors"),
        ("cloudtrail", "StartLogging"),
        ("sagemaker", "CreateModel"),
        ("sagemaker", "CreateEndpointConfig"),
        ("sagemaker", "CreateEndpoint"),
        ("application-autoscaling", "RegisterScalableTarget"),
        ("application-autoscaling", "PutScalingPolicy"),
        ("monitoring", "PutMetricAlarm"),
        ("monitoring", "PutDashboard"),
        // The network: creates without a client token find what the lost attempt made (a
        // second VPC is deleted, a subnet's CIDR conflict is its own), creates with one get
        // the first attempt's resource, and a resent replace or delete finds it done.
        ("ec2", "CreateVpc"),
        ("ec2", "CreateSubnet"),
        ("ec2", "CreateRouteTable"),
        ("ec2", "AssociateRouteTable"),
        ("ec2", "CreateNetworkAcl"),
        ("ec2", "CreateNetworkAclEntry"),
        ("ec2", "ReplaceNetworkAclAssociation"),
        ("ec2", "DeleteNetworkAclEntry"),
        ("ec2", "CreateSecurityGroup"),
        ("ec2", "AuthorizeSecurityGroupIngress"),
        ("ec2", "RevokeSecurityGroupEgress"),
        ("ec2", "CreateVpcEndpoint"),
        ("ec2", "CreateFlowLogs"),
    ];
    let script: Vec<_> = creates
        .iter()
        .map(|(s, o)| json!({"service": s, "operation": o, "kind": "lost"}))
        .collect();
    emu.faults(Some(json!({ "script": script })));
    let p = Project::new(&local_spec());
    let path = p.spec.to_str().unwrap();
    let apply = novactl_env(
        Some(&emu),
        &["apply", "-e", path, "--auto-approve"],
        &[FAST_RETRIES],
    )
    .expect_code(0);
    assert!(
        apply.stderr.contains(&format!(
            "Apply complete: {} resource(s) changed",
            resource_count(&p)
        )),
        "{}",
        apply.stderr
    );
    let left: Vec<_> = emu.faults(None)["script"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["times"] != 0)
        .cloned()
        .collect();
    assert!(left.is_empty(), "every scripted loss happened: {left:?}");
    assert_eq!(retries(&apply), creates.len() as u64, "{}", apply.stderr);
    assert_no_changes(&emu, path);
    // The second key CreateKey made is scheduled for deletion; one key per region serves its
    // alias (the scripted loss hits whichever CreateKey comes first: the primary's or the DR
    // key's in us-west-2).
    let (east, west) = (keys(&emu, "us-east-1").await, keys(&emu, "us-west-2").await);
    assert_eq!(
        (east.0 + west.0, east.1 + west.1),
        (2, 1),
        "{east:?} {west:?}"
    );
    assert!(
        apply.stderr.contains("made a second key"),
        "{}",
        apply.stderr
    );
    let s3 = emu.s3("us-east-1").await;
    for b in LOCAL_BUCKETS {
        assert_bucket_configured(&s3, b).await;
    }
    // One VPC per network (the lost CreateVpc's second copy is gone), one NACL and one route
    // table per subnet of ours (their resent creates carried the first attempt's token).
    for region in ["us-east-1", "us-west-2"] {
        let ec2 = emu.ec2(region).await;
        let mine = |kind: &'static str| {
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values(kind)
                .build()
        };
        let vpcs = ec2
            .describe_vpcs()
            .filters(mine("novactl:address"))
            .send()
            .await
            .unwrap();
        assert_eq!(vpcs.vpcs().len(), 1, "{region}: {:?}", vpcs.vpcs());
        let part = |p: &'static str| {
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:novactl:part")
                .values(p)
                .build()
        };
        let acls = ec2
            .describe_network_acls()
            .filters(part("nacl"))
            .send()
            .await
            .unwrap();
        assert_eq!(acls.network_acls().len(), 1, "{region}");
        let subnets = ec2
            .describe_subnets()
            .filters(mine("novactl:part"))
            .send()
            .await
            .unwrap();
        let tables = ec2
            .describe_route_tables()
            .filters(mine("novactl:part"))
            .send()
            .await
            .unwrap();
        assert!(!subnets.subnets().is_empty(), "{region}");
        assert_eq!(
            tables.route_tables().len(),
            subnets.subnets().len(),
            "{region}"
        );
    }

    // Outside us-east-1 a repeated CreateBucket answers BucketAlreadyOwnedByYou: the bucket
    // (untagged: its tags come next) is this call's own.
    emu.faults(Some(json!({"script": [
        {"service": "s3", "operation": "CreateBucket", "kind": "lost"},
        {"service": "kms", "operation": "CreateAlias", "kind": "lost"},
    ]})));
    let eu = Project::new(
        "environment: eu\nregion: eu-west-1\nkms:\n  data: { alias: alias/eu-data }\ns3:\n  \
         data:\n    name: novactl-eu-lost-answer\n    kms_key: data\n",
    );
    let eu_path = eu.spec.to_str().unwrap();
    let apply = novactl_env(
        Some(&emu),
        &["apply", "-e", eu_path, "--auto-approve"],
        &[FAST_RETRIES],
    )
    .expect_code(0);
    assert_eq!(retries(&apply), 2, "{}", apply.stderr);
    assert_no_changes(&emu, eu_path);
    assert_bucket_configured(&emu.s3("eu-west-1").await, "novactl-eu-lost-answer").await;
}

/// Throttling is the service asking for a slower pace, not a failure: novactl's retry quota
/// charges nothing for a throttled retry (src/aws/retry.rs), so an apply that meets more
/// throttles than the SDK's default quota allows (500 tokens at 5 per retry: 100 retries per
/// client) still converges. Here IAM answers 2 calls per second per action to 30 roles made at
/// once.
#[tokio::test]
async fn throttled_retries_do_not_empty_the_retry_quota() {
    let emu = Emulator::start_with(&["--throttle", "iam=2"]);
    let env = common::unique("throttle");
    let mut spec = format!("environment: {env}\nregion: us-east-1\niam:\n");
    let names: Vec<String> = (0..30).map(|i| format!("{env}-role{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        spec.push_str(&format!(
            "  r{i}:\n    name: {name}\n    trust: [ecs-tasks.amazonaws.com]\n"
        ));
    }
    let p = Project::new(&spec);
    let apply = novactl_env(
        Some(&emu),
        &[
            "apply",
            "-e",
            p.spec.to_str().unwrap(),
            "--auto-approve",
            "--max-attempts",
            "25",
        ],
        &[FAST_RETRIES],
    )
    .expect_code(0);
    let retried = retries(&apply);
    assert!(
        retried > 100,
        "the run must meet more throttles than the SDK's default quota allows (100 retries), \
         else it proves nothing: {retried} retries\n{}",
        apply.stderr
    );
    // One ListRoles (its own action, so not throttled by the apply's GetRole/CreateRole).
    let iam = emu.iam().await;
    let live: Vec<String> = iam
        .list_roles()
        .max_items(1000)
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect();
    for name in &names {
        assert!(live.contains(name), "role {name} missing from {live:?}");
    }
}
