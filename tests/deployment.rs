//! Endpoint updates under load (`sagemaker.endpoints.*.deployment`, issue 18): the capacity
//! kept, autoscaling kept or re-registered, canary and linear traffic shifting, a rollback on a
//! CloudWatch alarm. The real binary against moto with the launcher's
//! `patch_sagemaker_deployments` (UpdateEndpoint walks DeploymentConfig; one AWS minute lasts
//! `endpoint_delay` seconds; every fleet's capacity over time at
//! `/novactl-api/sagemaker/capacity`).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sagemaker::types::DesiredWeightAndCapacity;
use common::{novactl, novactl_command, Emulator, Project, Run};
use serde_json::Value;

const ENDPOINT: &str = "mentallama-endpoint";
const RID: &str = "endpoint/mentallama-endpoint/variant/default";
const IMAGE_A: &str =
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:1.13.1-gpu";
const IMAGE_B: &str =
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.1.0-gpu";

/// A model, an endpoint (1 instance, autoscaling 1..6) and two alarms; `deployment` is the
/// endpoint's `deployment:` block (indented for it) or empty.
fn spec(image: &str, instance_type: &str, deployment: &str) -> String {
    format!(
        r#"environment: prod
region: us-east-1
kms:
  phi:
    alias: alias/novamind-phi
    deletion_window_days: 7
s3:
  models:
    name: novamind-prod-models
    kms_key: phi
  logs:
    name: novamind-prod-logs
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
      image: {image}
      model_data: s3://novamind-models/models/mentallama.tar.gz
      role: sagemaker_execution
  endpoints:
    mentallama:
      name: {ENDPOINT}
      model: mentallama
      instance_type: {instance_type}
      instance_count: 1
      kms_key: phi
      autoscaling:
        min: 1
        max: 6
        target_invocations_per_instance: 80
{deployment}
cloudwatch:
  alarms:
    high_error_rate:
      name: MentaLLaMA-HighErrorRate
      namespace: AWS/SageMaker
      metric: ModelError
      statistic: Average
      dimensions: {{ EndpointName: {ENDPOINT} }}
      period: 60
      evaluation_periods: 3
      threshold: 5
      comparison: GreaterThanThreshold
    high_latency:
      name: MentaLLaMA-HighLatency
      namespace: AWS/SageMaker
      metric: ModelLatency
      statistic: Average
      dimensions: {{ EndpointName: {ENDPOINT} }}
      period: 60
      evaluation_periods: 5
      threshold: 10000
      comparison: GreaterThanThreshold
"#
    )
}

const CANARY: &str = "      deployment:
        strategy: canary
        canary_percent: 25
        wait_minutes: WAIT
        bake_minutes: 2
        rollback_alarms: [high_error_rate, high_latency]";

fn apply(emu: &Emulator, p: &Project, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        "-e",
        p.spec.to_str().unwrap(),
        "--auto-approve",
        "-v",
    ];
    args.extend(extra);
    novactl(Some(emu), &args)
}

fn summary(run: &Run) -> String {
    run.stderr
        .lines()
        .rfind(|l| l.contains("AWS calls ("))
        .unwrap_or_default()
        .to_string()
}

/// The endpoint's samples in the emulator's capacity record.
fn samples(emu: &Emulator) -> Vec<Value> {
    let record = emu.capacity_record();
    record
        .as_object()
        .unwrap()
        .values()
        .find(|e| e["name"] == ENDPOINT)
        .map(|e| e["samples"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn steps(emu: &Emulator) -> Vec<String> {
    samples(emu)
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect()
}

/// Serving capacity of a sample: the instances of every fleet that takes traffic or is up.
fn capacity(sample: &Value) -> i64 {
    sample["fleets"]
        .as_object()
        .unwrap()
        .values()
        .map(|f| f["instances"].as_i64().unwrap())
        .sum()
}

async fn scale_out_of_band(emu: &Emulator, count: i32) {
    let sm = emu.sagemaker("us-east-1").await;
    sm.update_endpoint_weights_and_capacities()
        .endpoint_name(ENDPOINT)
        .desired_weights_and_capacities(
            DesiredWeightAndCapacity::builder()
                .variant_name("default")
                .desired_instance_count(count)
                .build(),
        )
        .send()
        .await
        .expect("scale out");
}

async fn serving(emu: &Emulator) -> (String, i32) {
    let d = emu
        .sagemaker("us-east-1")
        .await
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .expect("endpoint");
    (
        d.endpoint_config_name().unwrap().to_string(),
        d.production_variants()[0].desired_instance_count().unwrap(),
    )
}

async fn scaling_limits(emu: &Emulator) -> Option<(i32, i32)> {
    emu.autoscaling("us-east-1")
        .await
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_ids(RID)
        .send()
        .await
        .unwrap()
        .scalable_targets()
        .first()
        .map(|t| (t.min_capacity(), t.max_capacity()))
}

async fn names(emu: &Emulator) -> (Vec<String>, Vec<String>) {
    let sm = emu.sagemaker("us-east-1").await;
    let configs = sm.list_endpoint_configs().send().await.unwrap();
    let models = sm.list_models().send().await.unwrap();
    (
        configs
            .endpoint_configs()
            .iter()
            .map(|c| c.endpoint_config_name().unwrap().to_string())
            .collect(),
        models
            .models()
            .iter()
            .map(|m| m.model_name().unwrap().to_string())
            .collect(),
    )
}

fn audit_last(p: &Project) -> String {
    let text = std::fs::read_to_string(p.path("environments/.novactl/prod/audit.jsonl")).unwrap();
    text.lines().last().unwrap().to_string()
}

#[tokio::test]
async fn an_update_keeps_the_scaled_out_capacity_and_the_autoscaling() {
    let emu = Emulator::start();
    let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", ""));
    apply(&emu, &p, &[]).expect_code(0);
    scale_out_of_band(&emu, 4).await;
    let before = samples(&emu).len();

    emu.configure(r#"{"endpoint_delay": 1}"#);
    p.write_spec(&spec(IMAGE_B, "ml.g5.2xlarge", ""));
    let plan = novactl(Some(&emu), &["plan", "-e", p.spec.to_str().unwrap()]);
    assert!(
        plan.stdout
            .contains("new fleet starts at 4 instances (the live count; the spec asks 1)"),
        "plan says the starting count and why:\n{}",
        plan.stdout
    );
    let run = apply(&emu, &p, &[]).expect_code(0);
    eprintln!("keep capacity: {}", summary(&run));
    let walked = &samples(&emu)[before..];
    assert!(walked.len() >= 2, "the update is in the record: {walked:?}");
    assert!(
        walked.iter().all(|s| capacity(s) >= 4),
        "serving capacity never below 4: {walked:#?}"
    );
    assert_eq!(serving(&emu).await.1, 4, "the new fleet runs 4 instances");
    assert_eq!(
        scaling_limits(&emu).await,
        Some((1, 6)),
        "autoscaling registered, spec limits"
    );
    assert!(
        !run.stderr.contains("DeregisterScalableTarget"),
        "the same instance type keeps the scaling target"
    );
    novactl(
        Some(&emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    )
    .expect_code(0);
}

#[tokio::test]
async fn an_instance_type_change_reregisters_scaling_and_keeps_capacity() {
    let emu = Emulator::start();
    let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", ""));
    apply(&emu, &p, &[]).expect_code(0);
    scale_out_of_band(&emu, 3).await;
    let before = samples(&emu).len();
    p.write_spec(&spec(IMAGE_A, "ml.g5.4xlarge", ""));
    let run = apply(&emu, &p, &[]).expect_code(0);
    eprintln!("instance type change: {}", summary(&run));
    assert!(samples(&emu)[before..].iter().all(|s| capacity(s) >= 3));
    assert_eq!(serving(&emu).await.1, 3);
    assert_eq!(
        scaling_limits(&emu).await,
        Some((1, 6)),
        "scaling registered again"
    );
    novactl(
        Some(&emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    )
    .expect_code(0);
}

#[tokio::test]
async fn a_clean_canary_walks_canary_bake_full_and_linear_walks_its_steps() {
    let emu = Emulator::start();
    let canary = CANARY.replace("WAIT", "1");
    let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", &canary));
    apply(&emu, &p, &[]).expect_code(0);
    scale_out_of_band(&emu, 4).await;
    emu.configure(r#"{"endpoint_delay": 2}"#);
    p.write_spec(&spec(IMAGE_B, "ml.g5.2xlarge", &canary));
    let plan = novactl(Some(&emu), &["plan", "-e", p.spec.to_str().unwrap()]);
    assert!(
        plan.stdout.contains("canary 25%, 1m between steps, bake 2m, rollback on MentaLLaMA-HighErrorRate, MentaLLaMA-HighLatency"),
        "plan shows the strategy:\n{}",
        plan.stdout
    );
    let run = apply(&emu, &p, &[]).expect_code(0);
    eprintln!("canary: {}", summary(&run));
    let walked = steps(&emu);
    let tail: Vec<&str> = walked
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["provisioning the new fleet", "canary 25%", "baking", "done"]
    );
    assert!(
        run.stderr.contains("canary 25%"),
        "progress shows the canary:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("baking"),
        "progress shows the bake:\n{}",
        run.stderr
    );
    let audit = audit_last(&p);
    assert!(
        audit.contains("canary 25% -> baking"),
        "the audit record names the steps walked: {audit}"
    );

    let linear = "      deployment:
        strategy: linear
        linear_step_percent: 50
        wait_minutes: 0";
    emu.configure(r#"{"endpoint_delay": 0}"#);
    p.write_spec(&spec(IMAGE_A, "ml.g5.2xlarge", linear));
    let run = apply(&emu, &p, &[]).expect_code(0);
    eprintln!("linear: {}", summary(&run));
    let walked = steps(&emu);
    let tail: Vec<&str> = walked
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["provisioning the new fleet", "linear 50%", "baking", "done"]
    );
}

#[tokio::test]
async fn an_alarm_during_the_canary_rolls_back_and_apply_exits_1_naming_it() {
    let emu = Emulator::start();
    let canary = CANARY.replace("WAIT", "3");
    let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", &canary));
    apply(&emu, &p, &[]).expect_code(0);
    let (old_config, _) = serving(&emu).await;
    let (_, models_before) = names(&emu).await;
    emu.configure(r#"{"endpoint_delay": 2}"#);
    p.write_spec(&spec(IMAGE_B, "ml.g5.2xlarge", &canary));
    let child = novactl_command(
        Some(&emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start apply");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !steps(&emu).iter().any(|s| s.starts_with("canary")) {
        assert!(
            Instant::now() < deadline,
            "no canary step: {:?}",
            steps(&emu)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    emu.cloudwatch("us-east-1")
        .await
        .set_alarm_state()
        .alarm_name("MentaLLaMA-HighLatency")
        .state_value(StateValue::Alarm)
        .state_reason("p99 over 10 s")
        .send()
        .await
        .expect("set alarm");
    let run = Run::from(child.wait_with_output().unwrap()).expect_code(1);
    eprintln!("rollback: {}", summary(&run));
    assert!(
        run.stderr
            .contains("rolled back by alarm MentaLLaMA-HighLatency at step `canary 25%`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        serving(&emu).await.0,
        old_config,
        "the old config still serves"
    );
    let (configs, models) = names(&emu).await;
    assert_eq!(configs, vec![old_config.clone()], "the new config is gone");
    assert_eq!(models, models_before, "the new model version is gone");
    assert!(audit_last(&p).contains("rolled back by alarm MentaLLaMA-HighLatency"));
    assert!(!steps(&emu).contains(&"baking".to_string()));

    // The same spec again: no silent retry.
    emu.configure(r#"{"endpoint_delay": 0}"#);
    let again = apply(&emu, &p, &[]).expect_code(0);
    eprintln!("held: {}", summary(&again));
    assert!(
        again
            .stderr
            .contains("sagemaker_endpoint.mentallama: rolled back at")
            && again.stderr.contains("by alarm MentaLLaMA-HighLatency")
            && again
                .stderr
                .contains("use --retry-rolled-back or change the spec"),
        "{}",
        again.stderr
    );
    assert_eq!(again.writes(), 0, "nothing retried:\n{}", again.stderr);
    assert_eq!(serving(&emu).await.0, old_config);

    // Asked for, with the alarm back to OK: the update goes through.
    emu.cloudwatch("us-east-1")
        .await
        .set_alarm_state()
        .alarm_name("MentaLLaMA-HighLatency")
        .state_value(StateValue::Ok)
        .state_reason("recovered")
        .send()
        .await
        .expect("set alarm");
    let retry = apply(&emu, &p, &["--retry-rolled-back"]).expect_code(0);
    eprintln!("retry: {}", summary(&retry));
    assert_ne!(serving(&emu).await.0, old_config, "the new config serves");
    novactl(
        Some(&emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    )
    .expect_code(0);
}

/// Ctrl-C during a guarded update stops novactl's wait, never SageMaker's deployment: apply
/// exits 130 saying the deployment keeps running; the deployment walks on to the end; the
/// next apply observes it and converges without a second UpdateEndpoint.
#[tokio::test]
async fn an_interrupt_during_the_canary_leaves_sagemakers_deployment_running() {
    let emu = Emulator::start();
    let canary = CANARY.replace("WAIT", "1");
    let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", &canary));
    apply(&emu, &p, &[]).expect_code(0);
    let (old_config, _) = serving(&emu).await;
    emu.configure(r#"{"endpoint_delay": 2}"#);
    p.write_spec(&spec(IMAGE_B, "ml.g5.2xlarge", &canary));
    let child = novactl_command(
        Some(&emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start apply");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !steps(&emu).iter().any(|s| s.starts_with("canary")) {
        assert!(
            Instant::now() < deadline,
            "no canary step: {:?}",
            steps(&emu)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let run = Run::from(child.wait_with_output().unwrap()).expect_code(130);
    assert!(
        run.stderr
            .contains("SageMaker's own deployment keeps running"),
        "the interrupt says the deployment goes on:\n{}",
        run.stderr
    );
    // SageMaker (the emulator) finishes the deployment on its own.
    let deadline = Instant::now() + Duration::from_secs(60);
    while steps(&emu).last().map(String::as_str) != Some("done") {
        assert!(Instant::now() < deadline, "never done: {:?}", steps(&emu));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let new_config = serving(&emu).await.0;
    assert_ne!(new_config, old_config, "the deployment went through");
    emu.configure(r#"{"endpoint_delay": 0}"#);
    let before = samples(&emu).len();
    apply(&emu, &p, &[]).expect_code(0);
    assert!(
        !steps(&emu)[before..]
            .iter()
            .any(|s| s.starts_with("provisioning")),
        "no second deployment: {:?}",
        &steps(&emu)[before..]
    );
    assert_eq!(serving(&emu).await.0, new_config);
    novactl(
        Some(&emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    )
    .expect_code(0);
}

/// The spec contract's example gives every strategy's step key with `strategy: canary`: the
/// others are accepted (a switch of strategy is then one line) and unused.
#[test]
fn the_contracts_deployment_block_validates() {
    let block = "      deployment:
        strategy: canary
        canary_percent: 10
        linear_step_percent: 25
        rolling_batch_percent: 25
        wait_minutes: 5
        bake_minutes: 10
        max_minutes: 60
        rollback_alarms: [high_error_rate, high_latency]";
    let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", block));
    novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(0);
}

#[test]
fn bad_deployment_keys_are_errors_at_their_line() {
    for (block, want) in [
        ("      deployment:\n        strategy: canary\n        rollback_alarms: [high_eror_rate]",
         "deployment.rollback_alarms[0]: no cloudwatch alarm `high_eror_rate` (did you mean `high_error_rate`?)"),
        ("      deployment:\n        strategy: linear\n        linear_step_percent: 60",
         "deployment.linear_step_percent: 60 is out of range: SageMaker takes 10 to 50 percent"),
        ("      deployment:\n        strategy: rolling",
         "deployment.strategy: rolling needs a fleet that can roll"),
        ("      deployment:\n        strategy: canary\n        wait_minutes: 61",
         "deployment.wait_minutes: 61 is out of range"),
        ("      deployment:\n        strategy: canary\n        linear_step_percent: 60",
         "deployment.linear_step_percent: 60 is out of range: SageMaker takes 10 to 50 percent of the fleet (used with strategy linear)"),
    ] {
        let p = Project::new(&spec(IMAGE_A, "ml.g5.2xlarge", block));
        let run = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
        assert!(run.stderr.contains(want), "want {want:?}:\n{}", run.stderr);
        assert!(run.stderr.contains("test.yaml:"), "file and line:\n{}", run.stderr);
    }
}
