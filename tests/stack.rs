//! The shipped `environments/local.yaml` (the seed's whole stack, DR included) end to end against
//! the emulator: apply from empty, idempotence, every HIPAA gap novactl closes read back through
//! the SDK, `check --live` and `report` on the converged stack, the issue's out-of-band changes
//! found by `check --live` before apply repairs them, and out-of-band drift across kinds showing
//! on exactly the drifted addresses.

mod common;

use common::{assert_no_changes, local_spec, novactl, Emulator, Project};
use serde_json::Value;

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

    read_back_closed_gaps(&emu).await;
    read_back_dr_access_logs(&emu).await;

    // The converged stack passes the live check and the report cites a read for every pass.
    let live = novactl(
        Some(&emu),
        &["check", "-e", path, "--live", "--format", "json"],
    );
    assert_eq!(live.code, 0, "{}\n{}", live.stdout, live.stderr);
    let md_file = p.path("report.md");
    let html_file = p.path("report.html");
    novactl(
        Some(&emu),
        &["report", "-e", path, "--out", md_file.to_str().unwrap()],
    )
    .expect_code(0);
    novactl(
        Some(&emu),
        &[
            "report",
            "-e",
            path,
            "--format",
            "html",
            "--out",
            html_file.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let json = novactl(Some(&emu), &["report", "-e", path, "--format", "json"]).expect_code(0);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    assert_eq!(report["summary"]["no_evidence"], 0, "{report:#}");
    // The CIS control's evidence names every filter of the set, read from the log group.
    let cis = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == "NOVA-CW-003")
        .unwrap();
    assert_eq!(cis["status"], "pass", "{cis:#}");
    let group = cis["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "log_group.hipaa")
        .expect("the trail's log group carries the CIS control");
    let attrs: Vec<&str> = group["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attribute"].as_str().unwrap())
        .collect();
    let want: Vec<String> = CIS_FILTERS
        .iter()
        .map(|f| format!("metric_filters.{f}.metric_name"))
        .collect();
    assert_eq!(attrs, want);
    // The DR twins' access logging passes (no waiver in the shipped spec).
    let s3005 = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == "NOVA-S3-005")
        .unwrap();
    for twin in ["dr.s3.models", "dr.s3.logs", "dr.s3.results"] {
        let r = s3005["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == twin)
            .unwrap_or_else(|| panic!("{twin} checked"));
        assert_eq!(r["status"], "pass", "{r:#}");
    }
    let md = std::fs::read_to_string(&md_file).unwrap();
    let html = std::fs::read_to_string(&html_file).unwrap();
    let mut passed = 0;
    for c in report["controls"].as_array().unwrap() {
        for r in c["resources"].as_array().unwrap() {
            if r["status"] != "pass" {
                continue;
            }
            passed += 1;
            let ev = r["evidence"].as_array().unwrap();
            assert!(!ev.is_empty(), "{}: {r:#}", c["rule"]);
            for e in ev {
                let call = e["api_call"].as_str().unwrap();
                assert!(call.contains(':'), "{e:#}");
                assert!(e["read_at"].as_str().unwrap().ends_with('Z'));
                assert_eq!(e["arn"], r["arn"]);
                // Both renderings cite the call against the resource.
                let row = format!("| `{}` | pass | `{call}` |", r["arn"].as_str().unwrap());
                assert!(md.contains(&row), "markdown lacks {row}");
                assert!(
                    html.contains(&format!("<code>{call}</code>")),
                    "html lacks {call}"
                );
            }
        }
    }
    assert!(passed > 40, "{passed} passed controls");
    assert!(
        md.contains("## Run history") && md.contains("| apply |"),
        "{md}"
    );
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("@media print"));
    assert!(!html.contains("<link") && !html.contains("<script") && !html.contains("src="));

    // The issue's out-of-band changes: found by `check --live` before any apply repairs them.
    let kms = emu.kms("us-east-1").await;
    let key_id = kms
        .describe_key()
        .key_id("alias/novamind-local-phi")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    emu.s3("us-east-1")
        .await
        .delete_public_access_block()
        .bucket("novamind-local-results")
        .send()
        .await
        .unwrap();
    emu.cloudtrail("us-east-1")
        .await
        .stop_logging()
        .name("NOVAMIND-HIPAA-Compliance-Trail")
        .send()
        .await
        .unwrap();
    strip_alarm_actions(&emu, "MentaLLaMA-HighErrorRate").await;
    let live = novactl(
        Some(&emu),
        &["check", "-e", path, "--live", "--format", "json"],
    );
    assert_eq!(live.code, 3, "{}", live.stderr);
    let v: Value = serde_json::from_str(&live.stdout).unwrap();
    let mut found: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("NOVA-CT-001".to_string(), "cloudtrail.hipaa".to_string()),
            (
                "NOVA-CW-001".to_string(),
                "cloudwatch_alarm.high_error_rate".to_string()
            ),
            ("NOVA-KMS-001".to_string(), "kms.phi".to_string()),
            ("NOVA-S3-004".to_string(), "s3.results".to_string()),
        ]
    );
    for f in v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
    {
        assert!(f["arn"].as_str().unwrap().starts_with("arn:aws:"), "{f:#}");
        assert!(f["line"].as_u64().is_some(), "{f:#}");
    }
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    let live = novactl(Some(&emu), &["check", "-e", path, "--live"]);
    assert_eq!(live.code, 0, "apply repaired them: {}", live.stdout);

    // Out-of-band changes, one per kind of drift the issue names.
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
    // A DR twin's access logging turned off by hand.
    let s3w = emu.s3("us-west-2").await;
    s3w.put_bucket_logging()
        .bucket("novamind-local-results-us-west-2")
        .bucket_logging_status(aws_sdk_s3::types::BucketLoggingStatus::builder().build())
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
            ("dr.s3.results".to_string(), "update".to_string()),
            ("iam.sagemaker_execution".to_string(), "update".to_string()),
            ("kms.phi".to_string(), "update".to_string()),
            ("s3.logs".to_string(), "update".to_string()),
            ("s3.models".to_string(), "update".to_string()),
        ]
    );
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_no_changes(&emu, path);
    read_back_dr_access_logs(&emu).await;

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

async fn strip_alarm_actions(emu: &Emulator, name: &str) {
    let cw = emu.cloudwatch("us-east-1").await;
    let a = cw
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap()
        .metric_alarms()[0]
        .clone();
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(name)
        .set_alarm_description(a.alarm_description().map(str::to_string))
        .set_namespace(a.namespace().map(str::to_string))
        .set_metric_name(a.metric_name().map(str::to_string))
        .set_statistic(a.statistic().cloned())
        .set_dimensions(Some(a.dimensions().to_vec()))
        .set_period(a.period())
        .set_evaluation_periods(a.evaluation_periods())
        .set_threshold(a.threshold())
        .set_comparison_operator(a.comparison_operator().cloned())
        .set_treat_missing_data(a.treat_missing_data().map(str::to_string));
    req = req.set_alarm_actions(Some(Vec::new()));
    req.send().await.unwrap();
}

/// The filters (and metrics and alarms, after the trail's name) of the CIS monitoring set.
const CIS_FILTERS: [&str; 15] = [
    "UnauthorizedAPICalls",
    "ConsoleSignInWithoutMFA",
    "RootAccountUsage",
    "IAMPolicyChanges",
    "CloudTrailConfigChanges",
    "ConsoleAuthenticationFailures",
    "DisableOrDeleteCMK",
    "S3BucketPolicyChanges",
    "AWSConfigChanges",
    "SecurityGroupChanges",
    "NACLChanges",
    "NetworkGatewayChanges",
    "RouteTableChanges",
    "VPCChanges",
    "OrganizationsChanges",
];

/// An access-log bucket's statement admitting S3's log delivery, after checking the bucket is
/// encrypted with SSE-S3 (S3 delivers access logs to no SSE-KMS bucket).
async fn log_delivery_statement(s3: &aws_sdk_s3::Client, bucket: &str) -> Value {
    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm(),
        &aws_sdk_s3::types::ServerSideEncryption::Aes256,
        "{bucket}"
    );
    let raw = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    let doc: Value = serde_json::from_str(raw.policy().unwrap()).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["Principal"]["Service"] == "logging.s3.amazonaws.com")
        .cloned()
        .unwrap_or_else(|| panic!("{bucket}: no log delivery statement"))
}

/// The DR region's access-log bucket: SSE-S3, admitting S3's log delivery for the twins only,
/// and every twin bucket logging to it under its own name.
async fn read_back_dr_access_logs(emu: &Emulator) {
    let s3w = emu.s3("us-west-2").await;
    let log_twin = "novamind-local-access-logs-us-west-2";
    let loc = s3w
        .get_bucket_location()
        .bucket(log_twin)
        .send()
        .await
        .unwrap();
    assert_eq!(loc.location_constraint().unwrap().as_str(), "us-west-2");
    let delivery = log_delivery_statement(&s3w, log_twin).await;
    let own = s3w
        .get_bucket_logging()
        .bucket(log_twin)
        .send()
        .await
        .unwrap();
    assert!(
        own.logging_enabled().is_none(),
        "the log bucket does not log into itself"
    );
    let mut twins = Vec::new();
    for b in ["models", "logs", "results"] {
        let twin = format!("novamind-local-{b}-us-west-2");
        let l = s3w.get_bucket_logging().bucket(&twin).send().await.unwrap();
        let le = l.logging_enabled().unwrap_or_else(|| panic!("{twin} logs"));
        assert_eq!(le.target_bucket(), log_twin, "{twin}");
        assert_eq!(le.target_prefix(), format!("{twin}/"), "{twin}");
        twins.push(format!("arn:aws:s3:::{twin}"));
    }
    let mut sources: Vec<String> = delivery["Condition"]["ArnLike"]["aws:SourceArn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    sources.sort();
    twins.sort();
    assert_eq!(sources, twins, "the twins, and no primary bucket");
    // No replication into or out of it.
    assert!(s3w
        .get_bucket_replication()
        .bucket(log_twin)
        .send()
        .await
        .is_err());
}

/// Every gap issue 10 closed, read back through the SDK.
async fn read_back_closed_gaps(emu: &Emulator) {
    let s3 = emu.s3("us-east-1").await;
    let log_bucket = "novamind-local-access-logs";
    for b in ["models", "logs", "results", "cloudtrail", "access-logs"] {
        let bucket = format!("novamind-local-{b}");
        // Server access logging to the access-log bucket, under the bucket's own prefix; the
        // access-log bucket itself does not log (into itself, every log would be logged again).
        let l = s3
            .get_bucket_logging()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        if bucket == log_bucket {
            assert!(l.logging_enabled().is_none(), "{bucket} logs into itself");
        } else {
            let l = l
                .logging_enabled()
                .unwrap_or_else(|| panic!("{bucket}: logging off"));
            assert_eq!(l.target_bucket(), log_bucket);
            assert_eq!(l.target_prefix(), format!("{bucket}/"));
        }
        // BucketOwnerEnforced.
        let o = s3
            .get_bucket_ownership_controls()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        assert_eq!(
            o.ownership_controls().unwrap().rules()[0].object_ownership(),
            &aws_sdk_s3::types::ObjectOwnership::BucketOwnerEnforced
        );
        // The TLS-only statement in the plain form, as written.
        let raw = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
        let doc: Value = serde_json::from_str(raw.policy().unwrap()).unwrap();
        let tls = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Sid"] == "DenyInsecureTransport")
            .unwrap();
        assert_eq!(
            tls["Condition"]["Bool"]["aws:SecureTransport"],
            Value::from("false"),
            "{bucket}"
        );
    }
    // The access-log bucket: SSE-S3, and only S3 log delivery of this account writes.
    let delivery = log_delivery_statement(&s3, log_bucket).await;
    assert_eq!(
        delivery["Condition"]["StringEquals"]["aws:SourceAccount"],
        common::ACCOUNT
    );
    // The four buckets that log to it (not itself).
    assert_eq!(
        delivery["Condition"]["ArnLike"]["aws:SourceArn"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // The CIS monitoring set (4.1-4.15) on the trail's log group, each filter with an alarm to
    // the topic, and InsufficientData actions on every alarm.
    let logs = emu.logs("us-east-1").await;
    let filters = logs
        .describe_metric_filters()
        .log_group_name("/novamind/cloudtrail")
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = filters
        .metric_filters()
        .iter()
        .filter_map(|f| f.filter_name())
        .collect();
    names.sort();
    let mut want = CIS_FILTERS.to_vec();
    want.sort();
    assert_eq!(names, want);
    let topic = format!(
        "arn:aws:sns:us-east-1:{}:MentaLLaMA-Alerts",
        common::ACCOUNT
    );
    let cw = emu.cloudwatch("us-east-1").await;
    for f in filters.metric_filters() {
        assert!(f.filter_pattern().unwrap().contains("$."), "{f:?}");
        let metric = f.metric_transformations()[0].metric_name();
        let alarms = cw
            .describe_alarms()
            .alarm_names(metric)
            .send()
            .await
            .unwrap();
        let a = &alarms.metric_alarms()[0];
        assert_eq!(a.metric_name(), Some(metric));
        assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic));
    }
    let all = cw.describe_alarms().send().await.unwrap();
    assert_eq!(all.metric_alarms().len(), 2 + CIS_FILTERS.len());
    for a in all.metric_alarms() {
        assert_eq!(
            a.insufficient_data_actions(),
            std::slice::from_ref(&topic),
            "{:?}",
            a.alarm_name()
        );
    }

    // Data capture has its own KMS key.
    let sm = emu.sagemaker("us-east-1").await;
    let ep = sm
        .describe_endpoint()
        .endpoint_name("mentallama-endpoint")
        .send()
        .await
        .unwrap();
    let cfg = sm
        .describe_endpoint_config()
        .endpoint_config_name(ep.endpoint_config_name().unwrap())
        .send()
        .await
        .unwrap();
    let key = cfg.data_capture_config().unwrap().kms_key_id().unwrap();
    assert!(key.starts_with("arn:aws:kms:us-east-1:"), "{key}");

    // Every service trust policy names this account as the source.
    let iam = emu.iam().await;
    for role in [
        "SageMakerExecutionRole",
        "APIServiceRole",
        "NOVAMIND-HIPAA-Compliance-Trail-CloudWatchLogs",
    ] {
        let r = iam.get_role().role_name(role).send().await.unwrap();
        let doc = urlencoding::decode(r.role().unwrap().assume_role_policy_document().unwrap())
            .unwrap()
            .into_owned();
        let doc: Value = serde_json::from_str(&doc).unwrap();
        let cond = &doc["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"];
        assert!(
            cond == common::ACCOUNT || cond[0] == common::ACCOUNT,
            "{role}: {doc:#}"
        );
    }
}
