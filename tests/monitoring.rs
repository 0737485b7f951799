//! Monitoring and audit trail end to end against the emulator: `sns`, `cloudwatch_alarm`,
//! `cloudwatch_dashboard`, `log_group`, `cloudtrail`. Apply from empty, "No changes." after,
//! live state read back through the SDK, drift on exactly the drifted address and repaired,
//! destroy.
//!
//! Emulator patches these tests depend on (tests/emulator/README.md): f
//! (`patch_cloudwatch_rpcv2_cbor`: every CloudWatch call of the current aws-sdk-cloudwatch);
//! b (`patch_s3_bucket_policy_secure_transport`, through the s3 kind's TLS-only policy).
//! Not patched and worked around: CloudTrail `HasCustomEventSelectors` (selectors are read with
//! GetEventSelectors).

mod common;

use std::time::Instant;

use common::{assert_no_changes, changes, novactl, plan_json, Emulator, Project, ACCOUNT};
use serde_json::Value;

const REGION: &str = "us-east-1";

fn apply(emu: &Emulator, p: &Project) -> f64 {
    let t = Instant::now();
    novactl(
        Some(emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0);
    t.elapsed().as_secs_f64()
}

const ALARMS: &str = r#"
sns:
  alerts:
    name: MentaLLaMA-Alerts
    kms_key: phi
cloudwatch:
  dashboards:
    monitoring:
      name: MentaLLaMA-Monitoring
      template: ../templates/dashboards/mentallama.json.tera
  alarms:
    high_latency:
      name: MentaLLaMA-HighLatency
      description: Alarm when MentaLLaMA model latency exceeds threshold
      namespace: AWS/SageMaker
      metric: ModelLatency
      statistic: Average
      dimensions: { EndpointName: mentallama-endpoint }
      period: 60
      evaluation_periods: 5
      threshold: 10000
      comparison: GreaterThanThreshold
      treat_missing_data: notBreaching
      actions: [alerts]
    high_error_rate:
      name: MentaLLaMA-HighErrorRate
      namespace: AWS/SageMaker
      metric: ModelError
      statistic: Average
      dimensions: { EndpointName: mentallama-endpoint }
      period: 60
      evaluation_periods: 3
      threshold: 0.05
      comparison: GreaterThanThreshold
      treat_missing_data: notBreaching
      actions: [alerts, "arn:aws:sns:us-east-1:123456789012:Oncall"]
"#;

fn alarms_spec() -> String {
    format!(
        "environment: mon\nregion: {REGION}\ntags:\n  Project: NOVAMIND\nkms:\n  phi:\n    alias: alias/novamind-phi\n    deletion_window_days: 7\n{ALARMS}"
    )
}

async fn key_arn(emu: &Emulator) -> String {
    emu.kms(REGION)
        .await
        .describe_key()
        .key_id("alias/novamind-phi")
        .send()
        .await
        .expect("alias resolves")
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

/// The alarm as PutMetricAlarm input, to write drift through the SDK.
async fn put_alarm_with_threshold(cw: &aws_sdk_cloudwatch::Client, name: &str, threshold: f64) {
    let a = cw
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap()
        .metric_alarms()[0]
        .clone();
    cw.put_metric_alarm()
        .alarm_name(name)
        .set_alarm_description(a.alarm_description().map(str::to_string))
        .set_namespace(a.namespace().map(str::to_string))
        .set_metric_name(a.metric_name().map(str::to_string))
        .set_statistic(a.statistic().cloned())
        .set_dimensions(Some(a.dimensions().to_vec()))
        .set_period(a.period())
        .set_evaluation_periods(a.evaluation_periods())
        .threshold(threshold)
        .set_comparison_operator(a.comparison_operator().cloned())
        .set_treat_missing_data(a.treat_missing_data().map(str::to_string))
        .set_alarm_actions(Some(a.alarm_actions().to_vec()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn cloudwatch_cbor_bridge_round_trips_through_the_sdk() {
    // Patch f: aws-sdk-cloudwatch (rpc-v2-cbor) against moto.
    let emu = Emulator::start();
    let cw = emu.cloudwatch(REGION).await;
    cw.put_metric_alarm()
        .alarm_name("bridge")
        .namespace("AWS/SageMaker")
        .metric_name("ModelError")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("EndpointName")
                .value("e")
                .build(),
        )
        .period(60)
        .evaluation_periods(3)
        .threshold(0.05)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .alarm_actions("arn:aws:sns:us-east-1:123456789012:T")
        .send()
        .await
        .expect("PutMetricAlarm through the CBOR bridge");
    let out = cw
        .describe_alarms()
        .alarm_names("bridge")
        .send()
        .await
        .expect("DescribeAlarms through the CBOR bridge");
    let a = &out.metric_alarms()[0];
    assert_eq!(a.alarm_name(), Some("bridge"));
    assert_eq!(a.threshold(), Some(0.05), "double survives CBOR");
    assert_eq!(a.period(), Some(60));
    assert_eq!(a.evaluation_periods(), Some(3));
    assert_eq!(a.treat_missing_data(), Some("notBreaching"));
    assert_eq!(a.dimensions()[0].value(), Some("e"));
    assert_eq!(a.alarm_actions(), ["arn:aws:sns:us-east-1:123456789012:T"]);
    assert!(
        a.alarm_configuration_updated_timestamp().is_some(),
        "timestamps decode"
    );

    let err = cw
        .get_dashboard()
        .dashboard_name("missing")
        .send()
        .await
        .expect_err("no such dashboard");
    let se = err.into_service_error();
    assert!(
        se.is_dashboard_not_found_error(),
        "typed not-found error, got {se:?}"
    );
}

#[tokio::test]
async fn topic_alarms_and_dashboard_apply_converge_repair_drift_and_destroy() {
    let emu = Emulator::start();
    let p = Project::new(&alarms_spec());
    let secs = apply(&emu, &p);
    eprintln!("apply from empty (kms, sns, 2 alarms, dashboard): {secs:.2}s");
    assert_no_changes(&emu, p.spec.to_str().unwrap());

    // Live state through the SDK.
    let key = key_arn(&emu).await;
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:MentaLLaMA-Alerts");
    let sns = emu.sns(REGION).await;
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs.get("KmsMasterKeyId"), Some(&key), "topic encryption");

    let cw = emu.cloudwatch(REGION).await;
    let out = cw
        .describe_alarms()
        .alarm_names("MentaLLaMA-HighLatency")
        .alarm_names("MentaLLaMA-HighErrorRate")
        .send()
        .await
        .unwrap();
    let by_name = |n: &str| {
        out.metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(n))
            .unwrap_or_else(|| panic!("alarm {n}"))
            .clone()
    };
    let hl = by_name("MentaLLaMA-HighLatency");
    assert_eq!(hl.namespace(), Some("AWS/SageMaker"));
    assert_eq!(hl.metric_name(), Some("ModelLatency"));
    assert_eq!(hl.statistic().map(|s| s.as_str()), Some("Average"));
    assert_eq!(hl.period(), Some(60));
    assert_eq!(hl.evaluation_periods(), Some(5));
    assert_eq!(hl.threshold(), Some(10000.0));
    assert_eq!(
        hl.comparison_operator().map(|c| c.as_str()),
        Some("GreaterThanThreshold")
    );
    assert_eq!(hl.treat_missing_data(), Some("notBreaching"));
    assert_eq!(
        hl.alarm_description(),
        Some("Alarm when MentaLLaMA model latency exceeds threshold")
    );
    assert_eq!(hl.dimensions()[0].name(), Some("EndpointName"));
    assert_eq!(hl.dimensions()[0].value(), Some("mentallama-endpoint"));
    assert_eq!(hl.alarm_actions(), std::slice::from_ref(&topic));
    let er = by_name("MentaLLaMA-HighErrorRate");
    assert_eq!(er.threshold(), Some(0.05));
    let mut actions = er.alarm_actions().to_vec();
    actions.sort();
    assert_eq!(
        actions,
        [
            topic.clone(),
            "arn:aws:sns:us-east-1:123456789012:Oncall".to_string()
        ]
    );

    let body = cw
        .get_dashboard()
        .dashboard_name("MentaLLaMA-Monitoring")
        .send()
        .await
        .unwrap()
        .dashboard_body
        .unwrap();
    let body: Value = serde_json::from_str(&body).unwrap();
    let widgets = body["widgets"].as_array().unwrap();
    let titles: Vec<&str> = widgets
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "MentaLLaMA Invocations",
            "MentaLLaMA Latency",
            "PHI Entities Detected and Masked",
            "MentaLLaMA Resource Utilization"
        ]
    );
    for w in widgets {
        assert_eq!(w["properties"]["region"], REGION);
    }
    assert_eq!(
        widgets[0]["properties"]["metrics"][0][3],
        "mentallama-endpoint"
    );

    // Drift: threshold changed; a widget removed.
    put_alarm_with_threshold(&cw, "MentaLLaMA-HighLatency", 5000.0).await;
    let mut fewer = body.clone();
    fewer["widgets"].as_array_mut().unwrap().remove(2);
    cw.put_dashboard()
        .dashboard_name("MentaLLaMA-Monitoring")
        .dashboard_body(fewer.to_string())
        .send()
        .await
        .unwrap();
    let plan = plan_json(&emu, &p);
    let mut got = changes(&plan);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "cloudwatch_alarm.high_latency".to_string(),
                "update".to_string(),
                // PutMetricAlarm out of band replaced the alarm without its
                // InsufficientData actions: drift too.
                vec![
                    "threshold".to_string(),
                    "insufficient_data_actions".to_string()
                ]
            ),
            (
                "cloudwatch_dashboard.monitoring".to_string(),
                "update".to_string(),
                vec!["widgets.PHI Entities Detected and Masked".to_string()]
            ),
        ],
        "drift shows on exactly the drifted addresses"
    );
    apply(&emu, &p);
    assert_no_changes(&emu, p.spec.to_str().unwrap());
    let hl = cw
        .describe_alarms()
        .alarm_names("MentaLLaMA-HighLatency")
        .send()
        .await
        .unwrap();
    assert_eq!(hl.metric_alarms()[0].threshold(), Some(10000.0));

    // An alarm that leaves the spec is found by its tags and deleted.
    let spec = alarms_spec();
    let cut = spec.find("    high_error_rate:").unwrap();
    p.write_spec(&spec[..cut]);
    let got = changes(&plan_json(&emu, &p));
    assert_eq!(
        got,
        vec![(
            "cloudwatch_alarm.high_error_rate".to_string(),
            "delete".to_string(),
            vec![]
        )],
        "left the spec"
    );
    apply(&emu, &p);
    let left = cw
        .describe_alarms()
        .alarm_names("MentaLLaMA-HighErrorRate")
        .send()
        .await
        .unwrap();
    assert!(
        left.metric_alarms().is_empty(),
        "alarm that left the spec deleted"
    );
    assert_no_changes(&emu, p.spec.to_str().unwrap());

    // Destroy.
    novactl(
        Some(&emu),
        &["destroy", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0);
    let left = cw.describe_alarms().send().await.unwrap();
    assert!(left.metric_alarms().is_empty(), "alarms deleted");
    let dash = cw
        .get_dashboard()
        .dashboard_name("MentaLLaMA-Monitoring")
        .send()
        .await;
    assert!(dash.is_err(), "dashboard deleted");
    let gone = sns.get_topic_attributes().topic_arn(&topic).send().await;
    assert!(
        gone.unwrap_err()
            .into_service_error()
            .is_not_found_exception(),
        "topic deleted"
    );
}

#[test]
fn dangling_references_and_bad_values_are_located_errors() {
    struct Case {
        reason: &'static str,
        from: &'static str,
        to: &'static str,
        key: &'static str,
    }
    let cases = [
        Case {
            reason: "topic key not in kms",
            from: "    kms_key: phi\ncloudwatch:",
            to: "    kms_key: nope\ncloudwatch:",
            key: "sns.alerts.kms_key",
        },
        Case {
            reason: "alarm action names no topic",
            from: "actions: [alerts]",
            to: "actions: [alertz]",
            key: "cloudwatch.alarms.high_latency.actions",
        },
        Case {
            reason: "unknown comparison",
            from: "comparison: GreaterThanThreshold\n      treat_missing_data: notBreaching\n      actions: [alerts]\n",
            to: "comparison: Bigger\n      treat_missing_data: notBreaching\n      actions: [alerts]\n",
            key: "cloudwatch.alarms.high_latency.comparison",
        },
    ];
    for c in cases {
        let spec = alarms_spec();
        assert!(spec.contains(c.from), "{}: fixture", c.reason);
        let p = Project::new(&spec.replacen(c.from, c.to, 1));
        let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{}: {}", c.reason, r.stderr);
        assert!(
            r.stderr.contains(c.key) && r.stderr.contains("test.yaml:"),
            "{}: wanted a located error at {}, got {}",
            c.reason,
            c.key,
            r.stderr
        );
    }
}

const TRAIL: &str = r#"
cloudtrail:
  hipaa:
    name: NOVAMIND-HIPAA-Compliance-Trail
    bucket: trail
    prefix: cloudtrail
    multi_region: true
    log_file_validation: true
    kms_key: phi
    log_group: /novamind/cloudtrail
    log_retention_days: 2192
    data_events: [s3, lambda]
"#;

const TRAIL_NAME: &str = "NOVAMIND-HIPAA-Compliance-Trail";
const TRAIL_BUCKET: &str = "novamind-mon-cloudtrail";
const GROUP: &str = "/novamind/cloudtrail";

fn stack_spec() -> String {
    let policy = if std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/kms-phi.json.tera"
    ))
    .exists()
    {
        "    policy: ../policies/kms-phi.json.tera\n"
    } else {
        ""
    };
    format!(
        "environment: mon\nregion: {REGION}\nvars:\n  project: novamind\ntags:\n  Project: NOVAMIND\n\
         kms:\n  phi:\n    alias: alias/novamind-phi\n    deletion_window_days: 7\n{policy}\
         s3:\n  trail:\n    name: \"{{{{ vars.project }}}}-{{{{ environment }}}}-cloudtrail\"\n    kms_key: phi\n\
         {ALARMS}{TRAIL}"
    )
}

/// The CIS monitoring set's filters and what each pattern must name (Prowler's checks).
const CIS: &[(&str, &[&str])] = &[
    (
        "UnauthorizedAPICalls",
        &["*UnauthorizedOperation", "AccessDenied*"],
    ),
    (
        "ConsoleSignInWithoutMFA",
        &["ConsoleLogin", "$.additionalEventData.MFAUsed != \"Yes\""],
    ),
    (
        "RootAccountUsage",
        &["$.userIdentity.type = \"Root\"", "invokedBy NOT EXISTS"],
    ),
    (
        "IAMPolicyChanges",
        &["PutRolePolicy", "AttachRolePolicy", "DetachGroupPolicy"],
    ),
    (
        "CloudTrailConfigChanges",
        &["StopLogging", "DeleteTrail", "UpdateTrail"],
    ),
    (
        "ConsoleAuthenticationFailures",
        &["ConsoleLogin", "Failed authentication"],
    ),
    (
        "DisableOrDeleteCMK",
        &["kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion"],
    ),
    (
        "S3BucketPolicyChanges",
        &[
            "s3.amazonaws.com",
            "PutBucketPolicy",
            "DeleteBucketReplication",
        ],
    ),
    (
        "AWSConfigChanges",
        &["config.amazonaws.com", "StopConfigurationRecorder"],
    ),
    (
        "SecurityGroupChanges",
        &["AuthorizeSecurityGroupIngress", "DeleteSecurityGroup"],
    ),
    (
        "NACLChanges",
        &["CreateNetworkAclEntry", "ReplaceNetworkAclAssociation"],
    ),
    (
        "NetworkGatewayChanges",
        &["CreateCustomerGateway", "AttachInternetGateway"],
    ),
    (
        "RouteTableChanges",
        &[
            "ec2.amazonaws.com",
            "($.eventName = CreateRoute)",
            "DisassociateRouteTable",
        ],
    ),
    (
        "VPCChanges",
        &["CreateVpc", "ModifyVpcAttribute", "EnableVpcClassicLink"],
    ),
    (
        "OrganizationsChanges",
        &[
            "organizations.amazonaws.com",
            "LeaveOrganization",
            "UpdatePolicy",
        ],
    ),
];

/// (filter name, pattern, metric) of every metric filter on the trail's log group.
async fn cis_filters(logs: &aws_sdk_cloudwatchlogs::Client) -> Vec<(String, String, String)> {
    logs.describe_metric_filters()
        .log_group_name(GROUP)
        .send()
        .await
        .unwrap()
        .metric_filters()
        .iter()
        .map(|f| {
            (
                f.filter_name().unwrap().to_string(),
                f.filter_pattern().unwrap().to_string(),
                f.metric_transformations()[0].metric_name().to_string(),
            )
        })
        .collect()
}

/// Index of the line in apply's stderr that reports `address` done.
fn done_at(stderr: &str, address: &str) -> usize {
    stderr
        .lines()
        .position(|l| l.contains(address) && l.contains("created"))
        .unwrap_or_else(|| panic!("no `{address} ... created` line in:\n{stderr}"))
}

#[tokio::test]
async fn audit_trail_stack_applies_in_order_converges_repairs_drift_and_destroys() {
    let emu = Emulator::start();
    let p = Project::new(&stack_spec());

    // Cold start: the plan orders key, bucket, role + log group before the trail; topic before
    // alarms.
    let plan = plan_json(&emu, &p);
    let deps = |addr: &str| -> Vec<String> {
        let c = plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == addr)
            .unwrap_or_else(|| panic!("{addr} in plan"));
        assert_eq!(c["action"], "create", "{addr}");
        c["depends_on"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    let mut trail_deps = deps("cloudtrail.hipaa");
    trail_deps.sort();
    assert_eq!(trail_deps, ["kms.phi", "log_group.hipaa", "s3.trail"]);
    assert_eq!(deps("log_group.hipaa"), ["kms.phi"]);
    assert_eq!(deps("cloudwatch_alarm.high_latency"), ["sns.alerts"]);

    let t = Instant::now();
    let r = novactl(
        Some(&emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0);
    eprintln!(
        "apply from empty (kms, s3, sns, 2 alarms, dashboard, log group + role, trail): {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let trail_done = done_at(&r.stderr, "cloudtrail.hipaa");
    for before in ["kms.phi", "s3.trail", "log_group.hipaa"] {
        assert!(
            done_at(&r.stderr, before) < trail_done,
            "{before} before the trail"
        );
    }
    assert!(done_at(&r.stderr, "sns.alerts") < done_at(&r.stderr, "cloudwatch_alarm.high_latency"));
    let t = Instant::now();
    assert_no_changes(&emu, p.spec.to_str().unwrap());
    eprintln!(
        "plan with no changes (9 resources): {:.2}s",
        t.elapsed().as_secs_f64()
    );

    // Live state through the SDK.
    let key = key_arn(&emu).await;
    let ct = emu.cloudtrail(REGION).await;
    let trail = ct
        .get_trail()
        .name(TRAIL_NAME)
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    let group_arn = format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{TRAIL_NAME}-CloudWatchLogs");
    assert_eq!(trail.s3_bucket_name(), Some(TRAIL_BUCKET));
    assert_eq!(trail.s3_key_prefix(), Some("cloudtrail"));
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    assert_eq!(trail.kms_key_id(), Some(key.as_str()));
    assert_eq!(
        trail.cloud_watch_logs_log_group_arn(),
        Some(group_arn.as_str())
    );
    assert_eq!(trail.cloud_watch_logs_role_arn(), Some(role_arn.as_str()));
    let status = ct.get_trail_status().name(TRAIL_NAME).send().await.unwrap();
    assert_eq!(status.is_logging(), Some(true), "logging on");
    let sel = ct
        .get_event_selectors()
        .trail_name(TRAIL_NAME)
        .send()
        .await
        .unwrap();
    let sel = &sel.event_selectors()[0];
    assert_eq!(sel.read_write_type().map(|r| r.as_str()), Some("All"));
    assert_eq!(sel.include_management_events(), Some(true));
    let mut res: Vec<(String, Vec<String>)> = sel
        .data_resources()
        .iter()
        .map(|d| (d.r#type().unwrap().to_string(), d.values().to_vec()))
        .collect();
    res.sort();
    assert_eq!(
        res,
        [
            (
                "AWS::Lambda::Function".to_string(),
                vec!["arn:aws:lambda".to_string()]
            ),
            (
                "AWS::S3::Object".to_string(),
                vec!["arn:aws:s3:::".to_string()]
            ),
        ]
    );

    // The key policy (policies/kms-phi.json.tera) lets CloudTrail and CloudWatch Logs use the
    // key that encrypts the trail and the log group.
    let key_policy = emu
        .kms(REGION)
        .await
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let key_policy: Value = serde_json::from_str(&key_policy).unwrap();
    let allows = |principal: &str, action: &str| {
        key_policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .any(|st| {
                st["Effect"] == "Allow"
                    && st["Principal"]["Service"].to_string().contains(principal)
                    && st["Action"].to_string().contains(action)
            })
    };
    assert!(
        allows("cloudtrail.amazonaws.com", "kms:GenerateDataKey*"),
        "{key_policy}"
    );
    assert!(
        allows(&format!("logs.{REGION}.amazonaws.com"), "kms:Encrypt*"),
        "{key_policy}"
    );

    let logs = emu.logs(REGION).await;
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap();
    let g = &groups.log_groups()[0];
    assert_eq!(g.kms_key_id(), Some(key.as_str()), "log group encryption");
    assert_eq!(g.retention_in_days(), Some(2192), "six-year retention");

    let iam = emu.iam().await;
    let role = iam
        .get_role()
        .role_name(format!("{TRAIL_NAME}-CloudWatchLogs"))
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = urlencoding::decode(role.assume_role_policy_document().unwrap())
        .unwrap()
        .into_owned();
    assert!(trust.contains("cloudtrail.amazonaws.com"), "{trust}");
    let pol = iam
        .get_role_policy()
        .role_name(role.role_name())
        .policy_name("cloudtrail-to-logs")
        .send()
        .await
        .unwrap();
    let pol = urlencoding::decode(pol.policy_document())
        .unwrap()
        .into_owned();
    assert!(
        pol.contains("logs:PutLogEvents") && pol.contains(GROUP),
        "{pol}"
    );

    // The bucket policy: TLS-only and CloudTrail's delivery statements, merged.
    let s3 = emu.s3(REGION).await;
    let policy: Value = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(TRAIL_BUCKET)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let text = policy.to_string();
    assert!(
        text.contains("aws:SecureTransport"),
        "TLS-only kept: {text}"
    );
    assert!(text.contains("s3:GetBucketAcl"), "{text}");
    assert!(
        text.contains(&format!(
            "arn:aws:s3:::{TRAIL_BUCKET}/cloudtrail/AWSLogs/{ACCOUNT}/*"
        )) && text.contains("bucket-owner-full-control"),
        "{text}"
    );

    // The CIS monitoring set: every filter on the trail's log group counting into
    // CloudTrailMetrics/<trail>-<filter>, each with an alarm to the topic.
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:MentaLLaMA-Alerts");
    let filters = cis_filters(&logs).await;
    let mut names: Vec<&str> = filters.iter().map(|(n, _, _)| n.as_str()).collect();
    names.sort();
    let mut want: Vec<&str> = CIS.iter().map(|(n, _)| *n).collect();
    want.sort();
    assert_eq!(names, want);
    let cw = emu.cloudwatch(REGION).await;
    for (name, pattern, metric) in &filters {
        assert_eq!(metric, &format!("{TRAIL_NAME}-{name}"));
        let needles = CIS.iter().find(|(n, _)| n == name).unwrap().1;
        for needle in needles {
            assert!(
                pattern.contains(needle),
                "{name}: {needle} not in {pattern}"
            );
        }
        let alarms = cw
            .describe_alarms()
            .alarm_names(metric.as_str())
            .send()
            .await
            .unwrap();
        let a = alarms
            .metric_alarms()
            .first()
            .unwrap_or_else(|| panic!("no alarm {metric}"));
        assert_eq!(a.namespace(), Some("CloudTrailMetrics"));
        assert_eq!(a.metric_name(), Some(metric.as_str()));
        assert_eq!(a.threshold(), Some(1.0));
        assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic), "{metric}");
    }

    // Drift: logging stopped, selectors replaced, retention shortened; a CIS filter deleted,
    // another's pattern changed, a CIS alarm deleted.
    logs.delete_metric_filter()
        .log_group_name(GROUP)
        .filter_name("NACLChanges")
        .send()
        .await
        .unwrap();
    logs.put_metric_filter()
        .log_group_name(GROUP)
        .filter_name("VPCChanges")
        .filter_pattern("{ ($.eventName = CreateVpc) }")
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_namespace("CloudTrailMetrics")
                .metric_name(format!("{TRAIL_NAME}-VPCChanges"))
                .metric_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    cw.delete_alarms()
        .alarm_names(format!("{TRAIL_NAME}-RouteTableChanges"))
        .send()
        .await
        .unwrap();
    ct.stop_logging().name(TRAIL_NAME).send().await.unwrap();
    ct.put_event_selectors()
        .trail_name(TRAIL_NAME)
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::WriteOnly)
                .include_management_events(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(GROUP)
        .retention_in_days(30)
        .send()
        .await
        .unwrap();
    let mut got = changes(&plan_json(&emu, &p));
    got.sort();
    for c in got.iter_mut() {
        if c.1 == "create" {
            c.2.clear();
        }
        c.2.sort();
    }
    let mut group_attrs = vec![
        "metric_filters.NACLChanges".to_string(),
        "metric_filters.VPCChanges.pattern".to_string(),
        "retention_days".to_string(),
    ];
    group_attrs.sort();
    assert_eq!(
        got,
        vec![
            (
                "cloudtrail.hipaa".to_string(),
                "update".to_string(),
                vec!["event_selectors".to_string(), "logging".to_string()]
            ),
            (
                "cloudwatch_alarm.hipaa_route_table_changes".to_string(),
                "create".to_string(),
                vec![]
            ),
            (
                "log_group.hipaa".to_string(),
                "update".to_string(),
                group_attrs
            ),
        ],
        "drift shows on exactly the drifted addresses"
    );
    // The live gate names the controls whose filter or alarm is gone.
    let live = novactl(
        Some(&emu),
        &[
            "check",
            "-e",
            p.spec.to_str().unwrap(),
            "--live",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&live.stdout).unwrap_or_else(|_| panic!("{}", live.stderr));
    let cis: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "NOVA-CW-003")
        .collect();
    assert_eq!(cis.len(), 1, "{v:#}");
    let msg = cis[0]["message"].as_str().unwrap();
    for part in [
        "CIS 4.11 NACLChanges",
        "CIS 4.13 RouteTableChanges",
        "CIS 4.14 VPCChanges",
    ] {
        assert!(msg.contains(part), "{part} not in: {msg}");
    }
    assert!(!msg.contains("4.12"), "{msg}");
    apply(&emu, &p);
    assert_no_changes(&emu, p.spec.to_str().unwrap());
    let repaired = cis_filters(&logs).await;
    assert_eq!(repaired.len(), CIS.len(), "the deleted filter is back");
    let vpc = repaired.iter().find(|(n, _, _)| n == "VPCChanges").unwrap();
    assert!(
        vpc.1.contains("EnableVpcClassicLink"),
        "pattern repaired: {}",
        vpc.1
    );
    let alarm = cw
        .describe_alarms()
        .alarm_names(format!("{TRAIL_NAME}-RouteTableChanges"))
        .send()
        .await
        .unwrap();
    assert_eq!(alarm.metric_alarms().len(), 1, "the deleted alarm is back");
    let status = ct.get_trail_status().name(TRAIL_NAME).send().await.unwrap();
    assert_eq!(status.is_logging(), Some(true), "logging restarted");

    // Destroy: the trail's bucket holds logs, so destroy without --force is refused (bucket
    // rules) and, checked before the first delete, deletes nothing at all.
    s3.put_object()
        .bucket(TRAIL_BUCKET)
        .key(format!("cloudtrail/AWSLogs/{ACCOUNT}/x.json.gz"))
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let t = Instant::now();
    let r = novactl(
        Some(&emu),
        &["destroy", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    );
    eprintln!("destroy: {:.2}s", t.elapsed().as_secs_f64());
    assert_eq!(r.code, 1, "non-empty trail bucket refused:\n{}", r.stderr);
    assert!(r.stderr.contains("s3.trail"), "{}", r.stderr);
    ct.get_trail()
        .name(TRAIL_NAME)
        .send()
        .await
        .expect("the trail stays");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1, "the log group stays");
    iam.get_role()
        .role_name(format!("{TRAIL_NAME}-CloudWatchLogs"))
        .send()
        .await
        .expect("the role stays");
    // With --force everything goes, the bucket and its logs included.
    novactl(
        Some(&emu),
        &[
            "destroy",
            "-e",
            p.spec.to_str().unwrap(),
            "--auto-approve",
            "--force",
        ],
    )
    .expect_code(0);
    let gone = ct.get_trail().name(TRAIL_NAME).send().await;
    assert!(
        gone.unwrap_err()
            .into_service_error()
            .is_trail_not_found_exception(),
        "trail deleted"
    );
    assert!(
        iam.get_role()
            .role_name(format!("{TRAIL_NAME}-CloudWatchLogs"))
            .send()
            .await
            .is_err(),
        "role deleted"
    );
    s3.head_bucket()
        .bucket(TRAIL_BUCKET)
        .send()
        .await
        .expect_err("the trail's bucket is deleted with --force");
    let left = cw
        .describe_alarms()
        .alarm_name_prefix(TRAIL_NAME)
        .send()
        .await
        .unwrap();
    assert!(
        left.metric_alarms().is_empty(),
        "the CIS alarms are deleted"
    );
}
