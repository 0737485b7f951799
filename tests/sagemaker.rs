//! `sagemaker_model.*` / `sagemaker_endpoint.*` end to end: the real binary against moto
//! (tests/emulator/moto_launcher.py), live state read back through the SDK.
//!
//! Depends on three launcher patches: `patch_sagemaker_instance_types` (moto rejects
//! `ml.g5.2xlarge`), `patch_sagemaker_network_isolation` (moto drops `EnableNetworkIsolation`)
//! and `patch_sagemaker_update_endpoint` (moto has no UpdateEndpoint). Endpoints are InService at
//! once on moto; the waits, a rollback and a budget that runs out are covered by the mock tests
//! in `src/resources/sagemaker_endpoint.rs`.

mod common;

use std::time::Instant;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use common::{novactl, Emulator, Project, Run};
use serde_json::Value;

const ENDPOINT: &str = "mentallama-endpoint";
const RID: &str = "endpoint/mentallama-endpoint/variant/default";
const DIM: &str = "sagemaker:variant:DesiredInstanceCount";

struct Knobs {
    instance_count: u32,
    quantization: &'static str,
    image: &'static str,
}

const BASE: Knobs = Knobs {
    instance_count: 1,
    quantization: "8bit",
    image: "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04",
};

/// The seed's primary stack: key, buckets, execution role, model, endpoint, autoscaling.
fn spec(k: &Knobs) -> String {
    format!(
        r#"environment: prod
region: us-east-1
vars:
  project: novamind
tags:
  Project: NOVAMIND
kms:
  phi:
    alias: alias/novamind-phi
    deletion_window_days: 7
s3:
  models:
    name: "{{{{ vars.project }}}}-{{{{ environment }}}}-models"
    kms_key: phi
  logs:
    name: "{{{{ vars.project }}}}-{{{{ environment }}}}-logs"
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
      model_data: "s3://{{{{ s3.models.name }}}}/models/mentallama-packaged.tar.gz"
      role: sagemaker_execution
      environment:
        HF_TASK: text-generation
        QUANTIZATION: "{quant}"
      vpc:
        security_groups: [sg-0123456789abcdef0]
        subnets: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]
      network_isolation: true
  endpoints:
    mentallama:
      name: mentallama-endpoint
      model: mentallama
      instance_type: ml.g5.2xlarge
      instance_count: {count}
      kms_key: phi
      data_capture:
        bucket: logs
        prefix: datacapture
        sampling_percent: 100
      autoscaling:
        min: 1
        max: 5
        target_invocations_per_instance: 80
        scale_out_cooldown: 300
        scale_in_cooldown: 600
"#,
        image = k.image,
        quant = k.quantization,
        count = k.instance_count,
    )
}

fn env_path(p: &Project) -> &str {
    p.spec.to_str().unwrap()
}

fn apply(emu: &Emulator, p: &Project) -> Run {
    novactl(Some(emu), &["apply", "-e", env_path(p), "--auto-approve"])
}

fn plan_json(emu: &Emulator, p: &Project, want: i32) -> Value {
    let run = novactl(
        Some(emu),
        &["plan", "-e", env_path(p), "--detailed-exitcode", "--json"],
    )
    .expect_code(want);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{}", run.stdout))
}

/// (address, action) of the changes that are not no-ops.
fn actions(plan: &Value) -> Vec<(String, String)> {
    common::changes(plan)
        .into_iter()
        .map(|(address, action, _)| (address, action))
        .collect()
}

/// The changed attribute paths of one address.
fn paths(plan: &Value, address: &str) -> Vec<String> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .map(|c| {
            c["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["path"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn summary(run: &Run) -> String {
    run.stderr
        .lines()
        .rfind(|l| l.contains("AWS calls ("))
        .unwrap_or_default()
        .to_string()
}

/// Live view: the config in service, every config and model name, the scaling target and policy.
struct Live {
    config: String,
    configs: Vec<String>,
    models: Vec<String>,
    min_max: Option<(i32, i32)>,
    policy: Option<(f64, Option<i32>, Option<i32>)>,
}

async fn live(emu: &Emulator) -> Live {
    let sm = emu.sagemaker("us-east-1").await;
    let aas = emu.autoscaling("us-east-1").await;
    let ep = sm
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .expect("endpoint");
    let configs = sm.list_endpoint_configs().send().await.unwrap();
    let models = sm.list_models().send().await.unwrap();
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_ids(RID)
        .send()
        .await
        .unwrap();
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(RID)
        .send()
        .await
        .unwrap();
    Live {
        config: ep.endpoint_config_name().unwrap().to_string(),
        configs: configs
            .endpoint_configs()
            .iter()
            .map(|c| c.endpoint_config_name().unwrap().to_string())
            .collect(),
        models: models
            .models()
            .iter()
            .map(|m| m.model_name().unwrap().to_string())
            .collect(),
        min_max: targets
            .scalable_targets()
            .first()
            .map(|t| (t.min_capacity(), t.max_capacity())),
        policy: policies.scaling_policies().first().map(|p| {
            let c = p.target_tracking_scaling_policy_configuration().unwrap();
            (
                c.target_value(),
                c.scale_out_cooldown(),
                c.scale_in_cooldown(),
            )
        }),
    }
}

#[tokio::test]
async fn primary_stack_applies_from_empty_and_reads_back() {
    let emu = Emulator::start();
    let p = Project::new(&spec(&BASE));
    let started = Instant::now();
    let run = apply(&emu, &p).expect_code(0);
    eprintln!(
        "apply from empty: {:.2}s wall; {}",
        started.elapsed().as_secs_f64(),
        summary(&run)
    );
    let plan = plan_json(&emu, &p, 0);
    assert!(actions(&plan).is_empty(), "No changes expected: {plan:#}");

    let sm = emu.sagemaker("us-east-1").await;
    let key_arn = emu
        .kms("us-east-1")
        .await
        .describe_key()
        .key_id("alias/novamind-phi")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let ep = sm
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .unwrap();
    assert_eq!(ep.endpoint_status().unwrap().as_str(), "InService");
    let cfg_name = ep.endpoint_config_name().unwrap();
    assert!(
        cfg_name.starts_with("mentallama-endpoint-") && cfg_name.len() == 28,
        "{cfg_name}"
    );
    let cfg = sm
        .describe_endpoint_config()
        .endpoint_config_name(cfg_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cfg.kms_key_id(),
        Some(key_arn.as_str()),
        "KMS key on the config"
    );
    let dc = cfg.data_capture_config().expect("data capture");
    assert_eq!(dc.enable_capture(), Some(true));
    assert_eq!(dc.initial_sampling_percentage(), Some(100));
    assert_eq!(
        dc.destination_s3_uri(),
        Some("s3://novamind-prod-logs/datacapture")
    );
    let modes: Vec<&str> = dc
        .capture_options()
        .iter()
        .map(|o| o.capture_mode().unwrap().as_str())
        .collect();
    assert_eq!(modes, ["Input", "Output"]);
    let v = &cfg.production_variants()[0];
    assert_eq!(v.instance_type().unwrap().as_str(), "ml.g5.2xlarge");
    assert_eq!(v.initial_instance_count(), Some(1));
    let model_name = v.model_name().unwrap();
    assert!(model_name.starts_with("mentallama-model-"), "{model_name}");

    let m = sm
        .describe_model()
        .model_name(model_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        m.enable_network_isolation(),
        Some(true),
        "network isolation"
    );
    let vpc = m.vpc_config().expect("vpc config");
    assert_eq!(vpc.security_group_ids(), ["sg-0123456789abcdef0"]);
    assert_eq!(
        vpc.subnets(),
        ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    );
    assert_eq!(
        m.execution_role_arn(),
        Some("arn:aws:iam::123456789012:role/SageMakerExecutionRole")
    );
    let c = m.primary_container().unwrap();
    assert_eq!(
        c.model_data_url(),
        Some("s3://novamind-prod-models/models/mentallama-packaged.tar.gz")
    );
    assert_eq!(
        c.environment()
            .unwrap()
            .get("QUANTIZATION")
            .map(String::as_str),
        Some("8bit")
    );

    let l = live(&emu).await;
    assert_eq!(l.min_max, Some((1, 5)), "scaling target");
    assert_eq!(
        l.policy,
        Some((80.0, Some(300), Some(600))),
        "scaling policy"
    );
    let aas = emu.autoscaling("us-east-1").await;
    let pol = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(RID)
        .send()
        .await
        .unwrap();
    let pol = &pol.scaling_policies()[0];
    assert_eq!(pol.policy_name(), "mentallama-endpoint-invocations");
    assert_eq!(pol.scalable_dimension().as_str(), DIM);
    assert_eq!(
        pol.target_tracking_scaling_policy_configuration()
            .unwrap()
            .predefined_metric_specification()
            .unwrap()
            .predefined_metric_type()
            .as_str(),
        "SageMakerVariantInvocationsPerInstance"
    );
}

#[tokio::test]
async fn content_changes_roll_out_as_one_endpoint_update() {
    let emu = Emulator::start();
    let p = Project::new(&spec(&BASE));
    apply(&emu, &p).expect_code(0);
    let cases = [
        (
            "instance_count 1 -> 2: new config only",
            Knobs {
                instance_count: 2,
                ..BASE
            },
            false,
        ),
        (
            "an environment variable: new model and config",
            Knobs {
                instance_count: 2,
                quantization: "4bit",
                ..BASE
            },
            true,
        ),
        (
            "the image: new model and config",
            Knobs {
                instance_count: 2,
                quantization: "4bit",
                image: "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.1.0-transformers4.37.0-gpu-py310-cu118-ubuntu20.04",
            },
            true,
        ),
    ];
    for (reason, knobs, new_model) in cases {
        let before = live(&emu).await;
        p.write_spec(&spec(&knobs));
        let plan = plan_json(&emu, &p, 2);
        let mut want = vec![];
        if new_model {
            want.push((
                "sagemaker_model.mentallama".to_string(),
                "update".to_string(),
            ));
        }
        want.push((
            "sagemaker_endpoint.mentallama".to_string(),
            "update".to_string(),
        ));
        assert_eq!(actions(&plan), want, "{reason}: {plan:#}");
        let ep_paths = paths(&plan, "sagemaker_endpoint.mentallama");
        assert!(
            ep_paths.contains(&"config_name".to_string()),
            "{reason}: {ep_paths:?}"
        );
        if new_model {
            assert!(
                ep_paths.contains(&"model_name".to_string()),
                "{reason}: {ep_paths:?}"
            );
            assert!(
                paths(&plan, "sagemaker_model.mentallama").contains(&"name".to_string()),
                "{reason}"
            );
        } else {
            assert!(
                ep_paths.contains(&"instance_count".to_string()),
                "{reason}: {ep_paths:?}"
            );
        }

        let started = Instant::now();
        let run = apply(&emu, &p).expect_code(0);
        eprintln!(
            "{reason}: apply {:.2}s wall; {}",
            started.elapsed().as_secs_f64(),
            summary(&run)
        );
        let after = live(&emu).await;
        assert_ne!(after.config, before.config, "{reason}: serves a new config");
        assert_eq!(
            after.configs,
            vec![after.config.clone()],
            "{reason}: old config gone"
        );
        assert_eq!(
            after.models.len(),
            1,
            "{reason}: old model gone: {:?}",
            after.models
        );
        if new_model {
            assert_ne!(after.models, before.models, "{reason}: a new model version");
        } else {
            assert_eq!(after.models, before.models, "{reason}: same model version");
        }
        assert_eq!(
            after.min_max,
            Some((1, 5)),
            "{reason}: autoscaling registered again"
        );
        assert_eq!(after.policy, Some((80.0, Some(300), Some(600))), "{reason}");
        let plan = plan_json(&emu, &p, 0);
        assert!(actions(&plan).is_empty(), "{reason}: clean after apply");
    }
}

#[tokio::test]
async fn drift_is_detected_and_repaired() {
    let emu = Emulator::start();
    let p = Project::new(&spec(&BASE));
    apply(&emu, &p).expect_code(0);
    let aas = emu.autoscaling("us-east-1").await;
    let sm = emu.sagemaker("us-east-1").await;
    let config = live(&emu).await.config;

    // Scaling min/max changed out of band: only autoscaling is repaired.
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(RID)
        .scalable_dimension(ScalableDimension::from(DIM))
        .min_capacity(2)
        .max_capacity(3)
        .send()
        .await
        .unwrap();
    let plan = plan_json(&emu, &p, 2);
    assert_eq!(
        actions(&plan),
        [("sagemaker_endpoint.mentallama".into(), "update".into())]
    );
    assert_eq!(
        paths(&plan, "sagemaker_endpoint.mentallama"),
        ["autoscaling.min", "autoscaling.max"]
    );
    apply(&emu, &p).expect_code(0);
    let l = live(&emu).await;
    assert_eq!(l.min_max, Some((1, 5)));
    assert_eq!(l.config, config, "no endpoint update for scaling drift");
    plan_json(&emu, &p, 0);

    // The policy deleted.
    aas.delete_scaling_policy()
        .policy_name("mentallama-endpoint-invocations")
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(RID)
        .scalable_dimension(ScalableDimension::from(DIM))
        .send()
        .await
        .unwrap();
    let plan = plan_json(&emu, &p, 2);
    let ps = paths(&plan, "sagemaker_endpoint.mentallama");
    assert!(
        ps.iter().all(|p| p.starts_with("autoscaling.")) && !ps.is_empty(),
        "{ps:?}"
    );
    apply(&emu, &p).expect_code(0);
    assert_eq!(live(&emu).await.policy, Some((80.0, Some(300), Some(600))));
    plan_json(&emu, &p, 0);

    // The endpoint deleted: created again on the same config.
    sm.delete_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .unwrap();
    let plan = plan_json(&emu, &p, 2);
    assert_eq!(
        actions(&plan),
        [("sagemaker_endpoint.mentallama".into(), "create".into())]
    );
    apply(&emu, &p).expect_code(0);
    let l = live(&emu).await;
    assert_eq!(l.config, config);
    assert_eq!(l.min_max, Some((1, 5)));
    plan_json(&emu, &p, 0);
}

#[tokio::test]
async fn a_model_and_endpoint_that_left_the_spec_are_deleted_in_reverse_order() {
    let emu = Emulator::start();
    let p = Project::new(&spec(&BASE));
    apply(&emu, &p).expect_code(0);

    // The same spec without its `sagemaker:` section.
    let full = spec(&BASE);
    let without = &full[..full.find("sagemaker:\n").expect("sagemaker section")];
    p.write_spec(without);
    let plan = plan_json(&emu, &p, 2);
    assert_eq!(
        actions(&plan),
        vec![
            (
                "sagemaker_endpoint.mentallama".to_string(),
                "delete".to_string()
            ),
            (
                "sagemaker_model.mentallama".to_string(),
                "delete".to_string()
            ),
        ],
        "endpoint first (reverse kind rank), nothing else"
    );
    apply(&emu, &p).expect_code(0);

    let sm = emu.sagemaker("us-east-1").await;
    let eps = sm.list_endpoints().send().await.unwrap();
    assert!(eps.endpoints().is_empty(), "endpoint deleted");
    let cfgs = sm.list_endpoint_configs().send().await.unwrap();
    assert!(cfgs.endpoint_configs().is_empty(), "configs deleted");
    let models = sm.list_models().send().await.unwrap();
    assert!(models.models().is_empty(), "model versions deleted");
    let aas = emu.autoscaling("us-east-1").await;
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Sagemaker)
        .send()
        .await
        .unwrap();
    assert!(
        targets.scalable_targets().is_empty(),
        "scaling target deregistered"
    );
    plan_json(&emu, &p, 0);
}
