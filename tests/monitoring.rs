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

use common::{novactl, Emulator, Project, ACCOUNT};
use serde_json::Value;

const REGION: &str = "us-east-1";

fn plan_json(emu: &Emulator, p: &Project) -> Value {
    let r = novactl(
        Some(emu),
        &["plan", "-e", p.spec.to_str().unwrap(), "--json"],
    )
    .expect_code(0);
    serde_json::from_str(&r.stdout).expect("plan JSON")
}

/// (address, action, attribute paths) of every change that is not a no-op.
fn changes(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                c["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["path"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn apply(emu: &Emulator, p: &Project) -> f64 {
    let t = Instant::now();
    novactl(
        Some(emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0);
    t.elapsed().as_secs_f64()
}

fn assert_no_changes(emu: &Emulator, p: &Project) {
    let r = novactl(
        Some(emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
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
    assert_no_changes(&emu, &p);

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
    assert_eq!(hl.alarm_actions(), [topic.clone()]);
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
                vec!["threshold".to_string()]
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
    assert_no_changes(&emu, &p);
    let hl = cw
        .describe_alarms()
        .alarm_names("MentaLLaMA-HighLatency")
        .send()
        .await
        .unwrap();
    assert_eq!(hl.metric_alarms()[0].threshold(), Some(10000.0));

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
