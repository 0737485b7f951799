//! `novactl import` end to end: resources made with the SDK outside novactl are imported, the
//! printed entries pasted into a spec, `apply --adopt` takes them over and a plan is then
//! "No changes.". One emulator for every kind.

mod common;

use aws_sdk_kms::types::Tag as KmsTag;
use aws_sdk_sns::types::Tag as SnsTag;
use common::{assert_no_changes, novactl, Emulator, Project};

const ALIAS: &str = "alias/handmade-phi";
const TOPIC: &str = "Handmade-Alerts";

const LOG_BUCKET: &str = "handmade-access-logs";
const DATA_BUCKET: &str = "handmade-phi-data";
const ROLE: &str = "Handmade-SageMaker";
const ALARM: &str = "Handmade-Latency";
const MODEL: &str = "Handmade-Model";
const ENDPOINT: &str = "Handmade-Endpoint";

/// An endpoint serving the hand-made model: variant `main`, a volume key, data capture at 50%
/// under `capture`, and autoscaling 1..3 with a target-tracking policy of its own name.
async fn handmade_endpoint(emu: &Emulator, key_arn: &str) {
    use aws_sdk_applicationautoscaling::types::{
        MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
        TargetTrackingScalingPolicyConfiguration,
    };
    use aws_sdk_sagemaker::types::{
        CaptureMode, CaptureOption, DataCaptureConfig, ProductionVariant,
        ProductionVariantInstanceType, Tag,
    };
    let sm = emu.sagemaker("us-east-1").await;
    sm.create_endpoint_config()
        .endpoint_config_name("Handmade-Config")
        .kms_key_id(key_arn)
        .production_variants(
            ProductionVariant::builder()
                .variant_name("main")
                .model_name(MODEL)
                .instance_type(ProductionVariantInstanceType::MlM5Large)
                .initial_instance_count(1)
                .build(),
        )
        .data_capture_config(
            DataCaptureConfig::builder()
                .enable_capture(true)
                .initial_sampling_percentage(50)
                .destination_s3_uri(format!("s3://{DATA_BUCKET}/capture"))
                .kms_key_id(key_arn)
                .capture_options(
                    CaptureOption::builder()
                        .capture_mode(CaptureMode::Input)
                        .build(),
                )
                .capture_options(
                    CaptureOption::builder()
                        .capture_mode(CaptureMode::Output)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    sm.create_endpoint()
        .endpoint_name(ENDPOINT)
        .endpoint_config_name("Handmade-Config")
        .tags(Tag::builder().key("Team").value("ml").build())
        .send()
        .await
        .unwrap();
    let aas = emu.autoscaling("us-east-1").await;
    let rid = format!("endpoint/{ENDPOINT}/variant/main");
    let dim = ScalableDimension::from("sagemaker:variant:DesiredInstanceCount");
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(&rid)
        .scalable_dimension(dim.clone())
        .min_capacity(1)
        .max_capacity(3)
        .send()
        .await
        .unwrap();
    aas.put_scaling_policy()
        .policy_name("handmade-scale")
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(&rid)
        .scalable_dimension(dim)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(70.0)
                .scale_out_cooldown(120)
                .scale_in_cooldown(300)
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::SageMakerVariantInvocationsPerInstance)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// `snippet` (an imported entry) merged into the spec `text` (sections that exist get the
/// entry added).
fn paste(text: &str, snippet: &str) -> String {
    fn merge(into: &mut serde_yaml::Value, from: serde_yaml::Value) {
        match (into, from) {
            (serde_yaml::Value::Mapping(a), serde_yaml::Value::Mapping(b)) => {
                for (k, v) in b {
                    match a.get_mut(&k) {
                        Some(slot) => merge(slot, v),
                        None => {
                            a.insert(k, v);
                        }
                    }
                }
            }
            (slot, v) => *slot = v,
        }
    }
    let mut doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    merge(&mut doc, serde_yaml::from_str(snippet).unwrap());
    serde_yaml::to_string(&doc).unwrap()
}

/// Asserts that `out` holds each of `wants`.
fn says(out: &str, wants: &[&str]) {
    for want in wants {
        assert!(out.contains(want), "{want}:\n{out}");
    }
}

/// `apply --adopt address`, then a plan is "No changes.".
fn adopt(emu: &Emulator, spec: &str, address: &str) {
    adopt_all(emu, spec, &[address]);
}

/// `apply` with `--adopt` of each of `addresses`, then a plan is "No changes.".
fn adopt_all(emu: &Emulator, spec: &str, addresses: &[&str]) {
    let mut args = vec!["apply", "-e", spec, "--auto-approve"];
    for a in addresses {
        args.extend(["--adopt", a]);
    }
    novactl(Some(emu), &args).expect_code(0);
    assert_no_changes(emu, spec);
}

/// Pastes `snippet` into the spec `text` and writes it.
fn paste_into(p: &Project, text: &mut String, snippet: &str) {
    *text = paste(text, snippet);
    p.write_spec(text);
}

/// A versioned SSE-S3 access-log bucket, and a versioned, KMS-encrypted data bucket logging to it under
/// `custom/`, with a lifecycle rule and a tag of its own.
async fn handmade_buckets(emu: &Emulator, key_arn: &str) {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, BucketLoggingStatus, BucketVersioningStatus,
        ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, LoggingEnabled,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
    };
    let s3 = emu.s3("us-east-1").await;
    for b in [LOG_BUCKET, DATA_BUCKET] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let sse = |alg: ServerSideEncryption, key: Option<&str>| {
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(alg)
                            .set_kms_master_key_id(key.map(str::to_string))
                            .build()
                            .unwrap(),
                    )
                    .bucket_key_enabled(key.is_some())
                    .build(),
            )
            .build()
            .unwrap()
    };
    s3.put_bucket_encryption()
        .bucket(LOG_BUCKET)
        .server_side_encryption_configuration(sse(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let delivery = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{LOG_BUCKET}/*")}]});
    s3.put_bucket_policy()
        .bucket(LOG_BUCKET)
        .policy(delivery.to_string())
        .send()
        .await
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(DATA_BUCKET)
        .server_side_encryption_configuration(sse(ServerSideEncryption::AwsKms, Some(key_arn)))
        .send()
        .await
        .unwrap();
    for b in [LOG_BUCKET, DATA_BUCKET] {
        s3.put_bucket_versioning()
            .bucket(b)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    s3.put_bucket_logging()
        .bucket(DATA_BUCKET)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .logging_enabled(
                    LoggingEnabled::builder()
                        .target_bucket(LOG_BUCKET)
                        .target_prefix("custom/")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(DATA_BUCKET)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("expire-tmp")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
                        .expiration(LifecycleExpiration::builder().days(30).build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_tagging()
        .bucket(DATA_BUCKET)
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("Team").value("ml").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A SageMaker execution role: service trust on behalf of this account, an inline policy, a
/// description, and a managed policy attached.
async fn handmade_role(emu: &Emulator) {
    let iam = emu.iam().await;
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]});
    iam.create_role()
        .role_name(ROLE)
        .description("made by hand")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let read = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{DATA_BUCKET}/*")}]});
    iam.put_role_policy()
        .role_name(ROLE)
        .policy_name("read-models")
        .policy_document(read.to_string())
        .send()
        .await
        .unwrap();
    let managed = iam
        .create_policy()
        .policy_name("handmade-extra")
        .policy_document(read.to_string())
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name(ROLE)
        .policy_arn(managed.policy.unwrap().arn.unwrap())
        .send()
        .await
        .unwrap();
}

const TRAIL: &str = "Handmade-Trail";

/// A multi-region trail into the data bucket under `audit`, encrypted with the key, with log
/// file validation.
async fn handmade_trail(emu: &Emulator, key_arn: &str) {
    let ct = emu.cloudtrail("us-east-1").await;
    ct.create_trail()
        .name(TRAIL)
        .s3_bucket_name(DATA_BUCKET)
        .s3_key_prefix("audit")
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .kms_key_id(key_arn)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(TRAIL).send().await.unwrap();
}

const LOGGED_TRAIL: &str = "Handmade-Logged-Trail";
const LOGGED_GROUP: &str = "/handmade/trail";
const LOGGED_ROLE: &str = "Handmade-Trail-Logs";

/// A trail into the data bucket delivering to a KMS-encrypted log group (400 days) through a
/// role made by hand.
async fn handmade_logged_trail(emu: &Emulator, key_arn: &str) {
    let logs = emu.logs("us-east-1").await;
    logs.create_log_group()
        .log_group_name(LOGGED_GROUP)
        .kms_key_id(key_arn)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(LOGGED_GROUP)
        .retention_in_days(400)
        .send()
        .await
        .unwrap();
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = emu
        .iam()
        .await
        .create_role()
        .role_name(LOGGED_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let ct = emu.cloudtrail("us-east-1").await;
    ct.create_trail()
        .name(LOGGED_TRAIL)
        .s3_bucket_name(DATA_BUCKET)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .kms_key_id(key_arn)
        .cloud_watch_logs_log_group_arn(format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:{LOGGED_GROUP}:*"
        ))
        .cloud_watch_logs_role_arn(role.arn())
        .send()
        .await
        .unwrap();
    ct.start_logging().name(LOGGED_TRAIL).send().await.unwrap();
}

/// A latency alarm on an endpoint, notifying the topic on alarm and on OK.
async fn handmade_alarm(emu: &Emulator, topic_arn: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    emu.cloudwatch("us-east-1")
        .await
        .put_metric_alarm()
        .alarm_name(ALARM)
        .namespace("AWS/SageMaker")
        .metric_name("ModelLatency")
        .statistic(Statistic::Average)
        .dimensions(
            Dimension::builder()
                .name("EndpointName")
                .value("handmade")
                .build(),
        )
        .period(60)
        .evaluation_periods(5)
        .threshold(250.5)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .alarm_actions(topic_arn)
        .ok_actions(topic_arn)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_entries_adopt_as_no_changes() {
    let emu = Emulator::start();
    // Made by hand: a key with an alias, a description, rotation, a tag of its own; a topic
    // encrypted with it.
    let kms = emu.kms("us-east-1").await;
    let key = kms
        .create_key()
        .description("PHI key made by hand")
        .tags(
            KmsTag::builder()
                .tag_key("Team")
                .tag_value("ml")
                .build()
                .unwrap(),
        )
        .tags(
            KmsTag::builder()
                .tag_key("Project")
                .tag_value("NOVAMIND")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    kms.enable_key_rotation()
        .key_id(key.key_id())
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name(ALIAS)
        .target_key_id(key.key_id())
        .send()
        .await
        .unwrap();
    let sns = emu.sns("us-east-1").await;
    sns.create_topic()
        .name(TOPIC)
        .attributes("KmsMasterKeyId", key.arn().unwrap())
        .tags(SnsTag::builder().key("Team").value("ml").build().unwrap())
        .send()
        .await
        .unwrap();

    let body = r#"{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "made by hand"}}]}"#;
    emu.cloudwatch("us-east-1")
        .await
        .put_dashboard()
        .dashboard_name("Handmade-Ops")
        .dashboard_body(body)
        .send()
        .await
        .unwrap();

    let base = "environment: imp\nregion: us-east-1\ntags:\n  Project: NOVAMIND\n";
    let p = Project::new(base);
    let spec = p.spec.to_str().unwrap().to_string();
    let mut text = base.to_string();

    // The key: by its id; its policy written beside the spec.
    let dir = p.path("policies/imported");
    let r = novactl(
        Some(&emu),
        &[
            "import",
            "-e",
            &spec,
            "kms",
            key.key_id(),
            "--write",
            dir.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert_eq!(r.writes(), 0, "import never writes");
    assert!(
        r.stdout.starts_with("kms:\n  handmade_phi:\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("alias: alias/handmade-phi"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Team: ml") && !r.stdout.contains("Project:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("policy: ../policies/imported/kms-handmade_phi-policy.json"),
        "{}",
        r.stdout
    );
    assert!(dir.join("kms-handmade_phi-policy.json").is_file());
    text.push_str(&r.stdout);
    p.write_spec(&text);

    // The topic: its key becomes a reference to the spec's key.
    let r = novactl(
        Some(&emu),
        &["import", "-e", &spec, "sns", TOPIC, "--as", "alerts"],
    )
    .expect_code(0);
    assert!(r.stdout.starts_with("sns:\n  alerts:\n"), "{}", r.stdout);
    assert!(r.stdout.contains("kms_key: handmade_phi"), "{}", r.stdout);
    text.push_str(&r.stdout);
    p.write_spec(&text);
    // The dashboard: its body becomes a template file; without --write the entry says so.
    let r = novactl(
        Some(&emu),
        &[
            "import",
            "-e",
            &spec,
            "cloudwatch.dashboards",
            "Handmade-Ops",
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("pass --write DIR"), "{}", r.stdout);
    let r = novactl(
        Some(&emu),
        &[
            "import",
            "-e",
            &spec,
            "cloudwatch.dashboards",
            "Handmade-Ops",
            "--write",
            p.path("templates/imported").to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert!(
        r.stdout
            .starts_with("cloudwatch:\n  dashboards:\n    handmade_ops:\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("template: ../templates/imported/dashboard-handmade_ops.json.tera"),
        "{}",
        r.stdout
    );
    text.push_str(&r.stdout);
    p.write_spec(&text);
    novactl(None, &["fmt", "--check", "-e", &spec]).expect_code(0);

    // Pasted, adopted: nothing else to change.
    adopt_all(&emu, &spec, &["kms.handmade_phi", "sns.alerts"]);
    let after = kms.describe_key().key_id(ALIAS).send().await.unwrap();
    assert_eq!(
        after.key_metadata.unwrap().key_id(),
        key.key_id(),
        "the same key"
    );

    // A bucket, its access-log bucket, a role and an alarm made by hand: imported, pasted,
    // adopted, then "No changes." too.
    let topic_arn = format!("arn:aws:sns:us-east-1:123456789012:{TOPIC}");
    handmade_buckets(&emu, key.arn().unwrap()).await;
    handmade_role(&emu).await;
    handmade_alarm(&emu, &topic_arn).await;
    let import = |args: &[&str]| {
        let mut all = vec!["import", "-e", spec.as_str()];
        all.extend_from_slice(args);
        let r = novactl(Some(&emu), &all).expect_code(0);
        assert_eq!(r.writes(), 0, "import never writes");
        r
    };
    // The data bucket logs to a bucket the spec does not have yet: import that one first.
    let r = novactl(Some(&emu), &["import", "-e", &spec, "s3", DATA_BUCKET]).expect_code(1);
    assert!(
        r.stderr.contains(LOG_BUCKET) && r.stderr.contains("import it first"),
        "{}",
        r.stderr
    );
    let r = import(&["s3", LOG_BUCKET, "--as", "logs"]);
    assert!(r.stdout.contains("access_log_bucket: true"), "{}", r.stdout);
    paste_into(&p, &mut text, &r.stdout);
    let r = import(&["s3", DATA_BUCKET]);
    says(
        &r.stdout,
        &[
            "handmade_phi_data:",
            "kms_key: handmade_phi",
            "prefix: custom/",
            "bucket: logs",
            "id: expire-tmp",
            "expire_days: 30",
            "Team: ml",
        ],
    );
    assert!(!r.stdout.contains("versioning"), "{}", r.stdout);
    paste_into(&p, &mut text, &r.stdout);
    let pdir = p.path("policies/imported");
    let r = import(&["iam", ROLE, "--write", pdir.to_str().unwrap()]);
    says(
        &r.stdout,
        &[
            "handmade_sagemaker:",
            "- sagemaker.amazonaws.com",
            "description: made by hand",
            "read-models: ../policies/imported/iam-handmade_sagemaker-read_models.json",
            "handmade-extra",
        ],
    );
    assert!(!r.stdout.contains("source_account"), "{}", r.stdout);
    paste_into(&p, &mut text, &r.stdout);
    let r = import(&["cloudwatch.alarms", ALARM]);
    says(
        &r.stdout,
        &[
            "handmade_latency:",
            "EndpointName: handmade",
            "threshold: 250.5",
            "treat_missing_data: notBreaching",
            "- alerts",
            "insufficient_data_actions: []",
        ],
    );
    paste_into(&p, &mut text, &r.stdout);
    // The trail: its bucket and key become references.
    handmade_trail(&emu, key.arn().unwrap()).await;
    let r = import(&["cloudtrail", TRAIL]);
    says(
        &r.stdout,
        &[
            "handmade_trail:",
            "bucket: handmade_phi_data",
            "prefix: audit",
            "kms_key: handmade_phi",
        ],
    );
    assert!(
        !r.stdout.contains("multi_region") && !r.stdout.contains("log_file_validation"),
        "defaults are left out: {}",
        r.stdout
    );
    paste_into(&p, &mut text, &r.stdout);
    novactl(None, &["fmt", "-e", &spec]).expect_code(0);
    novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            &spec,
            "--adopt",
            "s3.logs",
            "--adopt",
            "s3.handmade_phi_data",
            "--adopt",
            "iam.handmade_sagemaker",
            "--adopt",
            "cloudwatch_alarm.handmade_latency",
            "--adopt",
            "cloudtrail.handmade_trail",
            "--auto-approve",
        ],
    )
    .expect_code(0);
    assert_no_changes(&emu, &spec);
    let inline = emu
        .iam()
        .await
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(inline.policy_names(), ["read-models"], "the policy is kept");

    // A trail delivering to CloudWatch Logs through a role of its own, imported by its log
    // group: the entry names the group, its retention and the role (`log_role`), and leaves
    // the CIS filters off (the group has none); novactl takes the group over, not the role.
    handmade_logged_trail(&emu, key.arn().unwrap()).await;
    let r = novactl(Some(&emu), &["import", "-e", &spec, "log_group", "/nope"]).expect_code(1);
    says(
        &r.stderr,
        &["no trail of us-east-1 delivers to log group `/nope`"],
    );
    let r = import(&["log_group", LOGGED_GROUP]);
    says(
        &r.stdout,
        &[
            "handmade_logged_trail:",
            &format!("log_group: {LOGGED_GROUP}"),
            "log_retention_days: 400",
            &format!("log_role: {LOGGED_ROLE}"),
            "enabled: false",
            "# the log group lacks novactl's CIS metric filters",
        ],
    );
    let mut bad = paste(&text, &r.stdout);
    bad = bad.replace(
        &format!("log_role: {LOGGED_ROLE}"),
        "log_role: arn:aws:s3:::not-a-role",
    );
    p.write_spec(&bad);
    let e = novactl(None, &["validate", "-e", &spec]).expect_code(1);
    says(
        &e.stderr,
        &[
            "cloudtrail.handmade_logged_trail.log_role",
            "is not an IAM role ARN",
        ],
    );
    paste_into(&p, &mut text, &r.stdout);
    adopt_all(
        &emu,
        &spec,
        &[
            "cloudtrail.handmade_logged_trail",
            "log_group.handmade_logged_trail",
        ],
    );
    let role = emu
        .iam()
        .await
        .get_role()
        .role_name(LOGGED_ROLE)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert!(
        role.tags().iter().all(|t| !t.key().starts_with("novactl:")),
        "the given role is not taken over: {:?}",
        role.tags()
    );
    let roles = emu.iam().await.list_roles().send().await.unwrap();
    assert!(
        roles
            .roles()
            .iter()
            .all(|r| !r.role_name().ends_with("-CloudWatchLogs")),
        "no delivery role of novactl's is made"
    );

    // A model made by hand: its role and bucket become references, a secret-looking value a
    // placeholder. Adopting it makes a version of ours beside it (novactl names versions by
    // content); the hand-made model is left as it is.
    let sm = emu.sagemaker("us-east-1").await;
    let role_arn = format!("arn:aws:iam::123456789012:role/{ROLE}");
    let container = aws_sdk_sagemaker::types::ContainerDefinition::builder()
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/handmade:1")
        .model_data_url(format!("s3://{DATA_BUCKET}/models/m.tar.gz"))
        .environment("LOG_LEVEL", "info")
        .environment("HF_TOKEN", "hf_handmade_secret_value")
        .build();
    sm.create_model()
        .model_name(MODEL)
        .execution_role_arn(&role_arn)
        .primary_container(container.clone())
        .enable_network_isolation(true)
        .send()
        .await
        .unwrap();
    sm.create_model()
        .model_name("Handmade-Orphan")
        .execution_role_arn("arn:aws:iam::123456789012:role/Not-In-Spec")
        .primary_container(container)
        .send()
        .await
        .unwrap();
    let r = novactl(
        Some(&emu),
        &["import", "-e", &spec, "sagemaker.models", "Handmade-Orphan"],
    )
    .expect_code(1);
    says(&r.stderr, &["Not-In-Spec", "import the role first"]);
    let r = import(&["sagemaker.models", MODEL]);
    says(
        &r.stdout,
        &[
            "handmade_model:",
            "name: Handmade-Model",
            "role: handmade_sagemaker",
            "s3.handmade_phi_data.name",
            "LOG_LEVEL: info",
            "HF_TOKEN: REPLACE-ME-secret-not-imported",
            "Handmade-Model-<digest",
        ],
    );
    assert!(
        !r.stdout.contains("hf_handmade_secret_value"),
        "{}",
        r.stdout
    );
    // The user puts the secret in, as the comment asks.
    let snippet = r
        .stdout
        .replace("REPLACE-ME-secret-not-imported", "hf_handmade_secret_value");
    paste_into(&p, &mut text, &snippet);
    adopt(&emu, &spec, "sagemaker_model.handmade_model");
    let models = sm.list_models().send().await.unwrap();
    let names: Vec<&str> = models
        .models()
        .iter()
        .filter_map(|m| m.model_name())
        .collect();
    assert!(
        names.contains(&MODEL),
        "the hand-made model stays: {names:?}"
    );
    let version = names
        .iter()
        .find(|n| n.starts_with("Handmade-Model-") && n.len() == MODEL.len() + 9)
        .unwrap_or_else(|| panic!("a version of ours: {names:?}"));
    let v = sm
        .describe_model()
        .model_name(*version)
        .send()
        .await
        .unwrap();
    let c = v.primary_container().unwrap();
    assert_eq!(
        c.model_data_url(),
        Some(format!("s3://{DATA_BUCKET}/models/m.tar.gz").as_str())
    );
    assert_eq!(v.execution_role_arn(), Some(role_arn.as_str()));
    assert_eq!(v.enable_network_isolation(), Some(true));
    assert_eq!(
        c.environment()
            .and_then(|e| e.get("HF_TOKEN"))
            .map(String::as_str),
        Some("hf_handmade_secret_value")
    );

    // An endpoint made by hand on that model: its key, capture bucket, model and scaling
    // become references and settings; adopting it switches it to a config of ours.
    handmade_endpoint(&emu, key.arn().unwrap()).await;
    let r = import(&["sagemaker.endpoints", ENDPOINT]);
    says(
        &r.stdout,
        &[
            "handmade_endpoint:",
            "model: handmade_model",
            "instance_type: ml.m5.large",
            "instance_count: 1",
            "variant_name: main",
            "kms_key: handmade_phi",
            "bucket: handmade_phi_data",
            "prefix: capture",
            "sampling_percent: 50",
            "target_invocations_per_instance: 70",
            "scale_out_cooldown: 120",
            "max: 3",
            "handmade-scale is not novactl's",
            "Team: ml",
        ],
    );
    assert!(
        !r.stdout.contains("scale_in_cooldown"),
        "default: {}",
        r.stdout
    );
    paste_into(&p, &mut text, &r.stdout);
    adopt(&emu, &spec, "sagemaker_endpoint.handmade_endpoint");
    let ep = sm
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .unwrap();
    sm.describe_endpoint_config()
        .endpoint_config_name("Handmade-Config")
        .send()
        .await
        .expect("the hand-made config stays");
    let policies = emu
        .autoscaling("us-east-1")
        .await
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Sagemaker)
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = policies
        .scaling_policies()
        .iter()
        .map(|p| p.policy_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [&format!("{ENDPOINT}-invocations"), "handmade-scale"],
        "novactl's policy beside the hand-made one, as the comment says"
    );
    let cfg = ep.endpoint_config_name().unwrap();
    assert!(
        cfg.starts_with("Handmade-Endpoint-"),
        "a config of ours: {cfg}"
    );
    let cfg = sm
        .describe_endpoint_config()
        .endpoint_config_name(cfg)
        .send()
        .await
        .unwrap();
    let v = &cfg.production_variants()[0];
    assert_eq!(
        v.model_name(),
        Some(version.to_string()).as_deref(),
        "the model's version"
    );
    assert_eq!(v.initial_instance_count(), Some(1));
    let dc = cfg.data_capture_config().unwrap();
    assert_eq!(dc.initial_sampling_percentage(), Some(50));
    assert_eq!(
        dc.destination_s3_uri(),
        Some(format!("s3://{DATA_BUCKET}/capture").as_str())
    );

    // Errors: a section that does not exist, an id that names nothing.
    let r = novactl(Some(&emu), &["import", "-e", &spec, "kmss", "x"]).expect_code(1);
    assert!(r.stderr.contains("did you mean `kms`"), "{}", r.stderr);
    let r = novactl(Some(&emu), &["import", "-e", &spec, "sns", "nope"]).expect_code(1);
    assert!(r.stderr.contains("no sns topic `nope`"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// A security group made with the SDK in a novactl network, naming another made-by-hand group
/// and S3's prefix list in rules; `import security_groups` (and `security_group`) prints entries that
/// `apply --adopt` takes over as "No changes.", keeping the groups' ids.
#[tokio::test]
async fn imported_security_groups_adopt_as_no_changes() {
    use aws_sdk_ec2::types::{
        IpPermission, IpRange, ResourceType, Tag, TagSpecification, UserIdGroupPair,
    };
    let emu = Emulator::start();
    let base = "environment: sgi\nregion: us-east-1\ntags:\n  Project: NOVAMIND\ncheck:\n  waive:\n    \
                - { rule: NOVA-NET-002, address: network.main, reason: no flow logs in a test }\n\
                network:\n  \
                main:\n    cidr: 10.30.0.0/16\n    subnets:\n      a: { cidr: 10.30.1.0/24, az: a }\n";
    let p = Project::new(base);
    let spec = p.spec.to_str().unwrap().to_string();
    let mut text = base.to_string();
    novactl(Some(&emu), &["apply", "-e", &spec, "--auto-approve"]).expect_code(0);
    let ec2 = emu.ec2("us-east-1").await;
    let vpc = common::vpc_id(&emu, "us-east-1", "sgi", "network.main").await;
    let group = |name: &'static str, vpc: String| {
        let ec2 = ec2.clone();
        async move {
            ec2.create_security_group()
                .group_name(name)
                .description(format!("{name} made by hand"))
                .vpc_id(vpc)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::SecurityGroup)
                        .tags(Tag::builder().key("Team").value("ml").build())
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .group_id()
                .unwrap()
                .to_string()
        }
    };
    // api: AWS's default egress only; inference: 443 from api, 8000-8080 from the VPC, and
    // udp 53 out to the VPC instead of the default egress.
    let api = group("sgi-api", vpc.clone()).await;
    let inference = group("sgi-inference", vpc.clone()).await;
    let vpc_range = IpRange::builder().cidr_ip("10.30.0.0/16").build();
    ec2.authorize_security_group_ingress()
        .group_id(&inference)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&api).build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8000)
                .to_port(8080)
                .ip_ranges(vpc_range.clone())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.revoke_security_group_egress()
        .group_id(&inference)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_egress()
        .group_id(&inference)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("udp")
                .from_port(53)
                .to_port(53)
                .ip_ranges(vpc_range)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // inference also: 443 out to S3's prefix list (through the gateway endpoint).
    let lists = ec2
        .describe_prefix_lists()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("prefix-list-name")
                .values("com.amazonaws.us-east-1.s3")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let s3_list = lists.prefix_lists()[0]
        .prefix_list_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_egress()
        .group_id(&inference)
        .ip_permissions(common::https_to_prefix_list(&s3_list))
        .send()
        .await
        .unwrap();
    let import = |args: &[&str]| {
        let mut all = vec!["import", "-e", &spec];
        all.extend_from_slice(args);
        novactl(Some(&emu), &all)
    };

    // Errors: no such group; a group whose peer is not in the spec yet; a group of a VPC the
    // spec has no network for; a name novactl cannot give a group.
    let r = import(&["security_groups", "sg-0123456789abcdef0"]).expect_code(1);
    says(&r.stderr, &["no security group `sg-0123456789abcdef0`"]);
    let r = import(&["security_groups", &inference]).expect_code(1);
    says(
        &r.stderr,
        &[
            "peer group sgi-api",
            &format!("novactl import security_groups {api}"),
        ],
    );
    let other_vpc = ec2
        .create_vpc()
        .cidr_block("10.99.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let stray = group("sgi-stray", other_vpc.clone()).await;
    let r = import(&["security_groups", &stray]).expect_code(1);
    says(
        &r.stderr,
        &[
            &format!("its VPC {other_vpc} is not a `network` entry"),
            "import it first",
        ],
    );
    let odd = group("Handmade-Web", vpc.clone()).await;
    let r = import(&["security_groups", &odd]).expect_code(1);
    says(&r.stderr, &["cannot be adopted", "sgi-<logical name>"]);

    let r = import(&["security_groups", &api]).expect_code(0);
    assert_eq!(r.writes(), 0, "import never writes");
    says(
        &r.stdout,
        &[
            "security_groups:\n  api:\n",
            "network: main",
            "description: sgi-api made by hand",
            "protocol: all",
            "cidr: 0.0.0.0/0",
            "Team: ml",
            "# egress to 0.0.0.0/0 on all protocols is AWS's default rule",
        ],
    );
    assert!(!r.stdout.contains("ingress"), "{}", r.stdout);
    paste_into(&p, &mut text, &r.stdout);
    let r = import(&["security_group", &inference]).expect_code(0);
    says(
        &r.stdout,
        &[
            "inference:",
            "from: api",
            "ports:\n",
            "8000",
            "protocol: udp",
            "port: 53",
            "cidr: 10.30.0.0/16",
            "prefix_list: s3",
        ],
    );
    assert!(!r.stdout.contains(&s3_list), "{}", r.stdout);
    assert!(!r.stdout.contains("0.0.0.0/0"), "{}", r.stdout);
    paste_into(&p, &mut text, &r.stdout);
    novactl(None, &["fmt", "-e", &spec]).expect_code(0);

    // Before adopting, the plan names them as groups to adopt, not to create.
    let r = novactl(Some(&emu), &["plan", "-e", &spec]);
    says(
        &format!("{}{}", r.stdout, r.stderr),
        &["pass --adopt security_group.inference"],
    );
    adopt_all(
        &emu,
        &spec,
        &["security_group.api", "security_group.inference"],
    );
    for (id, address) in [
        (&api, "security_group.api"),
        (&inference, "security_group.inference"),
    ] {
        let g = ec2
            .describe_security_groups()
            .group_ids(id.as_str())
            .send()
            .await
            .unwrap();
        let tags = g.security_groups()[0].tags();
        assert!(
            tags.iter()
                .any(|t| t.key() == Some("novactl:address") && t.value() == Some(address)),
            "{address} keeps its id {id}: {tags:?}"
        );
    }
}

/// A VPC made with the SDK in novactl's shape, named otherwise (`Lab VPC`: the entry is
/// `lab_vpc`, its subnets named by zone, the VPC found by its CIDR and subnets), with two
/// subnets with their own route tables, one of them with an internet route and public IPs on launch, a NACL, an S3 gateway and a KMS
/// interface endpoint, flow logs to a group encrypted with the spec's key, delivered by a role
/// of novactl's name): `import network` prints the entry and what adopting changes, the plan
/// names the VPC as one to adopt, and `apply --adopt` takes it over in place (same VPC and
/// subnet ids, no second VPC), repaired, then "No changes.".
#[tokio::test]
async fn imported_network_adopts_as_no_changes() {
    use aws_sdk_ec2::types::{
        AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification, VpcEndpointType,
    };
    let emu = Emulator::start();
    let base =
        "environment: neti\nregion: us-east-1\ntags:\n  Project: NOVAMIND\nkms:\n  flow:\n    \
                alias: alias/neti-flow\n    deletion_window_days: 7\n";
    let p = Project::new(base);
    let spec = p.spec.to_str().unwrap().to_string();
    let mut text = base.to_string();
    novactl(Some(&emu), &["apply", "-e", &spec, "--auto-approve"]).expect_code(0);
    let key_arn = common::kms_key(&emu, "alias/neti-flow")
        .await
        .unwrap()
        .arn
        .unwrap();
    let ec2 = emu.ec2("us-east-1").await;
    let tags = |rt: ResourceType, name: &str| {
        TagSpecification::builder()
            .resource_type(rt)
            .tags(Tag::builder().key("Name").value(name).build())
            .tags(Tag::builder().key("Team").value("ml").build())
            .build()
    };
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .tag_specifications(tags(ResourceType::Vpc, "Lab VPC"))
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    let mut tables = Vec::new();
    for (name, cidr, az) in [
        ("app", "10.40.1.0/24", "us-east-1a"),
        ("db", "10.40.2.0/24", "us-east-1b"),
    ] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .tag_specifications(tags(ResourceType::Subnet, &format!("neti-lab-{name}")))
            .send()
            .await
            .unwrap()
            .subnet
            .unwrap()
            .subnet_id
            .unwrap();
        let t = ec2
            .create_route_table()
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .route_table
            .unwrap()
            .route_table_id
            .unwrap();
        ec2.associate_route_table()
            .subnet_id(&s)
            .route_table_id(&t)
            .send()
            .await
            .unwrap();
        subnets.push(s);
        tables.push(t);
    }
    // app: public IPs on launch and a route to an internet gateway.
    ec2.modify_subnet_attribute()
        .subnet_id(&subnets[0])
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&tables[0])
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    // A NACL of both subnets.
    let nacl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .network_acl
        .unwrap()
        .network_acl_id
        .unwrap();
    let acls = ec2
        .describe_network_acls()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .unwrap();
    for a in acls.network_acls().iter().flat_map(|a| a.associations()) {
        if subnets.iter().any(|s| Some(s.as_str()) == a.subnet_id()) {
            ec2.replace_network_acl_association()
                .association_id(a.network_acl_association_id().unwrap())
                .network_acl_id(&nacl)
                .send()
                .await
                .unwrap();
        }
    }
    ec2.create_vpc_endpoint()
        .vpc_id(&vpc)
        .service_name("com.amazonaws.us-east-1.s3")
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .set_route_table_ids(Some(tables.clone()))
        .send()
        .await
        .unwrap();
    ec2.create_vpc_endpoint()
        .vpc_id(&vpc)
        .service_name("com.amazonaws.us-east-1.kms")
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .set_subnet_ids(Some(subnets.clone()))
        .private_dns_enabled(true)
        .send()
        .await
        .unwrap();
    // Flow logs of ALL traffic to a group of novactl's name encrypted with the spec's key,
    // delivered by a role of novactl's name.
    let group = "/novactl/vpc-flow-logs/neti-lab_vpc";
    let logs = emu.logs("us-east-1").await;
    logs.create_log_group()
        .log_group_name(group)
        .kms_key_id(&key_arn)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(group)
        .retention_in_days(90)
        .send()
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = emu
        .iam()
        .await
        .create_role()
        .role_name("neti-lab_vpc-vpc-flow-logs")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    ec2.create_flow_logs()
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .resource_ids(&vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::CloudWatchLogs)
        .log_group_name(group)
        .deliver_logs_permission_arn(&role_arn)
        .send()
        .await
        .unwrap();
    let import = |args: &[&str]| {
        let mut all = vec!["import", "-e", &spec, "network"];
        all.extend_from_slice(args);
        novactl(Some(&emu), &all)
    };

    // Errors: no such VPC; the default VPC.
    let r = import(&["vpc-0123456789abcdef0"]).expect_code(1);
    says(&r.stderr, &["no VPC `vpc-0123456789abcdef0`"]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let default = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("isDefault").values("true").build())
        .send()
        .await
        .unwrap();
    if let Some(d) = default.vpcs().first().and_then(|v| v.vpc_id()) {
        let r = import(&[d]).expect_code(1);
        says(&r.stderr, &["default VPC"]);
    }
    // A VPC holding a NAT gateway: its subnet's internet route is what the NAT's users need.
    let natted = ec2
        .create_vpc()
        .cidr_block("10.41.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let public = ec2
        .create_subnet()
        .vpc_id(&natted)
        .cidr_block("10.41.1.0/24")
        .send()
        .await
        .unwrap()
        .subnet
        .unwrap()
        .subnet_id
        .unwrap();
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id
        .unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public)
        .allocation_id(&eip)
        .send()
        .await
        .unwrap()
        .nat_gateway
        .unwrap()
        .nat_gateway_id
        .unwrap();
    let r = import(&[&natted]).expect_code(1);
    says(
        &r.stderr,
        &[&format!("NAT gateway {nat}"), "no internet route"],
    );

    let r = import(&[&vpc]).expect_code(0);
    assert_eq!(r.writes(), 0, "import never writes");
    says(
        &r.stdout,
        &[
            "network:\n  lab_vpc:\n",
            "cidr: 10.40.0.0/16",
            "a:\n        cidr: 10.40.1.0/24\n        az: a\n",
            "b:\n        cidr: 10.40.2.0/24\n        az: b\n",
            "the VPC's Name tag becomes neti-lab_vpc",
            "- kms",
            "- s3",
            "Team: ml",
            "subnet a: public IPs on launch are turned off",
            &format!("0.0.0.0/0 -> {igw}"),
            "flow_logs:\n      kms_key: flow\n      retention_days: 90",
        ],
    );
    paste_into(&p, &mut text, &r.stdout);
    novactl(None, &["fmt", "-e", &spec]).expect_code(0);

    // An unrelated VPC of the same CIDR (another layout) is not taken for the network.
    let decoy = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();

    // Before adopting, the plan names the VPC as one to adopt, not to create.
    let r = novactl(Some(&emu), &["plan", "-e", &spec]);
    says(
        &format!("{}{}", r.stdout, r.stderr),
        &["pass --adopt network.lab_vpc", "0 to create"],
    );
    // With --adopt, the plan names what the update changes in the VPC it takes over.
    let r = novactl(
        Some(&emu),
        &["plan", "-e", &spec, "--adopt", "network.lab_vpc"],
    )
    .expect_code(0);
    says(
        &r.stdout,
        &[
            &format!("network.lab_vpc [{vpc}]"),
            "adopt: bring under novactl management",
            &format!("subnets.a.routes = [\"0.0.0.0/0 -> {igw}\"] -> []"),
            "subnets.a.map_public_ip_on_launch = true -> false",
            "endpoints.kms.policy",
            "0 to create",
        ],
    );
    adopt_all(&emu, &spec, &["network.lab_vpc"]);

    // Taken over in place: no new VPC of the CIDR, the same ids, tagged, repaired.
    let of_cidr = || async {
        let out = ec2
            .describe_vpcs()
            .filters(
                Filter::builder()
                    .name("cidr")
                    .values("10.40.0.0/16")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = out
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(String::from))
            .collect();
        ids.sort();
        ids
    };
    let ids = of_cidr().await;
    let mut want = vec![vpc.clone(), decoy.clone()];
    want.sort();
    assert_eq!(ids, want, "no VPC made, the decoy untouched");
    assert_eq!(
        common::vpc_id(&emu, "us-east-1", "neti", "network.lab_vpc").await,
        vpc
    );
    let live = ec2
        .describe_subnets()
        .subnet_ids(&subnets[0])
        .send()
        .await
        .unwrap();
    let app = &live.subnets()[0];
    assert_eq!(app.map_public_ip_on_launch(), Some(false));
    assert!(
        app.tags()
            .iter()
            .any(|t| t.key() == Some("novactl:part") && t.value() == Some("subnet:a")),
        "{:?}",
        app.tags()
    );
    let t = ec2
        .describe_route_tables()
        .route_table_ids(&tables[0])
        .send()
        .await
        .unwrap();
    let routes = t.route_tables()[0].routes();
    assert!(
        !routes.iter().any(|r| r.gateway_id() == Some(igw.as_str())),
        "the internet route is gone: {routes:?}"
    );
    // The hand-made flow log is kept (no second one), its role taken over.
    let fl = ec2
        .describe_flow_logs()
        .filter(Filter::builder().name("resource-id").values(&vpc).build())
        .send()
        .await
        .unwrap();
    assert_eq!(fl.flow_logs().len(), 1, "{:?}", fl.flow_logs());
    let role_tags = emu
        .iam()
        .await
        .list_role_tags()
        .role_name("neti-lab_vpc-vpc-flow-logs")
        .send()
        .await
        .unwrap();
    assert!(
        role_tags
            .tags()
            .iter()
            .any(|t| t.key() == "novactl:address" && t.value() == "network.lab_vpc"),
        "{:?}",
        role_tags.tags()
    );

    // Destroy: the internet gateway attached by hand holds the VPC, so destroy refuses before
    // deleting anything; once it is gone, destroy removes the network (the decoy stays).
    let r = novactl(Some(&emu), &["destroy", "-e", &spec, "--auto-approve"]).expect_code(1);
    says(
        &format!("{}{}", r.stdout, r.stderr),
        &[&format!("internet gateway {igw} (attached)")],
    );
    assert_eq!(
        common::vpc_id(&emu, "us-east-1", "neti", "network.lab_vpc").await,
        vpc
    );
    ec2.detach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    ec2.delete_internet_gateway()
        .internet_gateway_id(&igw)
        .send()
        .await
        .unwrap();
    novactl(Some(&emu), &["destroy", "-e", &spec, "--auto-approve"]).expect_code(0);
    assert_eq!(of_cidr().await, vec![decoy]);
}
