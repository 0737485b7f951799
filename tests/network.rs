//! The `network` and `security_group` kinds, and a model's `vpc` by reference, end to end
//! against moto (one emulator): apply from empty with every attribute read back through the
//! EC2, Logs, IAM and SageMaker clients; a second plan "No changes."; six hand changes (an
//! endpoint deleted, an endpoint policy opened, a group opened, flow logs off, a route to an
//! internet gateway, the default NACL's allow-all entry put back) shown as
//! drift on `network.main` / `security_group.inference` and repaired; destroy leaves nothing of
//! the network.

mod common;

use common::{assert_no_changes, changes, novactl, plan_json, unique, Emulator, Project, ACCOUNT};

const REGION: &str = "us-east-1";

fn spec(env: &str) -> String {
    format!(
        r#"environment: {env}
region: {REGION}
vars:
  project: nettest
tags:
  Project: NOVAMIND
kms:
  phi:
    alias: alias/{env}-phi
    deletion_window_days: 7
s3:
  models:
    name: "{env}-models"
    kms_key: phi
iam:
  exec:
    name: {env}-exec
    trust: [sagemaker.amazonaws.com]
network:
  main:
    cidr: 10.20.0.0/16
    subnets:
      x: {{ cidr: 10.20.1.0/24, az: b }}
      y: {{ cidr: 10.20.2.0/24, az: c }}
    endpoints: [s3, kms, sagemaker.runtime]
    flow_logs:
      kms_key: phi
      retention_days: 90
security_groups:
  inference:
    network: main
    description: SageMaker endpoint instances
    ingress:
      - {{ port: 443, from: api }}
    egress:
      - {{ port: 443, cidr: 10.20.0.0/16 }}
      - {{ port: 443, prefix_list: s3 }}
  api:
    network: main
    description: API service tasks
    egress:
      - {{ ports: [8000, 8080], to: inference }}
sagemaker:
  models:
    m:
      name: {env}-model
      image: 763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-inference:2.1-gpu-py310
      model_data: "s3://{env}-models/model.tar.gz"
      role: exec
      vpc:
        network: main
        security_groups: [inference]
"#
    )
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], k: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(k))
        .and_then(|t| t.value())
}

fn f(name: &str, v: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .values(v)
        .build()
}

/// The VPC tagged `address` of `env`.
async fn vpc_at(
    ec2: &aws_sdk_ec2::Client,
    env: &str,
    address: &str,
) -> Option<aws_sdk_ec2::types::Vpc> {
    ec2.describe_vpcs()
        .filters(f("tag:novactl:environment", env))
        .filters(f("tag:novactl:address", address))
        .send()
        .await
        .unwrap()
        .vpcs()
        .first()
        .cloned()
}

/// `destroy --force`, then neither the VPC at `address`, nor a group of `env`, nor the flow
/// logs' group `log_group` is left in `region`.
async fn destroyed(
    emu: &Emulator,
    p: &Project,
    region: &str,
    env: &str,
    address: &str,
    log_group: &str,
) {
    let spec_path = p.spec.to_str().unwrap();
    novactl(
        Some(emu),
        &[
            "destroy",
            "-e",
            spec_path,
            "--auto-approve",
            "--force",
            "-q",
        ],
    )
    .expect_code(0);
    let ec2 = emu.ec2(region).await;
    assert!(vpc_at(&ec2, env, address).await.is_none());
    let left = ec2
        .describe_security_groups()
        .filters(f("tag:novactl:environment", env))
        .send()
        .await
        .unwrap();
    assert!(left.security_groups().is_empty(), "{left:?}");
    let left = emu
        .logs(region)
        .await
        .describe_log_groups()
        .log_group_name_prefix(log_group)
        .send()
        .await
        .unwrap();
    assert!(left.log_groups().is_empty());
}

#[tokio::test]
async fn network_lifecycle() {
    let emu = Emulator::start();
    let env = unique("net");
    let p = Project::new(&spec(&env));
    let spec_path = p.spec.to_str().unwrap();

    // Plan from empty: ids not made yet are "(known after apply)" in the model's VPC config.
    let plan = novactl(Some(&emu), &["plan", "-e", spec_path]).expect_code(0);
    assert!(plan.stdout.contains("+ network.main"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("+ security_group.api"),
        "{}",
        plan.stdout
    );
    let model_block = plan
        .stdout
        .split("+ sagemaker_model.m")
        .nth(1)
        .unwrap_or_default();
    assert!(
        model_block.contains("(known after apply)"),
        "{}",
        plan.stdout
    );
    // The S3 prefix-list peer, by its service.
    assert!(plan.stdout.contains("pl:s3"), "{}", plan.stdout);

    novactl(
        Some(&emu),
        &["apply", "-e", spec_path, "--auto-approve", "-q"],
    )
    .expect_code(0);

    // Read back through the SDK.
    let ec2 = emu.ec2(REGION).await;
    let vpc = vpc_at(&ec2, &env, "network.main")
        .await
        .expect("the VPC exists");
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    assert_eq!(vpc.cidr_block(), Some("10.20.0.0/16"));
    assert_eq!(tag(vpc.tags(), "Project"), Some("NOVAMIND"));
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(attr.clone())
            .send()
            .await
            .unwrap();
        let on = a
            .enable_dns_support()
            .or(a.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attr:?}");
    }
    let subnets = ec2
        .describe_subnets()
        .filters(f("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let mut subnet_ids = Vec::new();
    let mut got: Vec<(String, String, bool)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            subnet_ids.push(s.subnet_id().unwrap().to_string());
            assert_eq!(tag(s.tags(), "novactl:address"), Some("network.main"));
            (
                s.cidr_block().unwrap().to_string(),
                s.availability_zone().unwrap().to_string(),
                s.map_public_ip_on_launch().unwrap_or(true),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("10.20.1.0/24".into(), format!("{REGION}b"), false),
            ("10.20.2.0/24".into(), format!("{REGION}c"), false),
        ]
    );
    // Each subnet has its own route table, with no route but the local one and the S3
    // gateway endpoint's.
    let tables = ec2
        .describe_route_tables()
        .filters(f("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let mut private_tables = Vec::new();
    for s in &subnet_ids {
        let t = tables
            .route_tables()
            .iter()
            .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(s)))
            .expect("the subnet has its own route table");
        assert!(tag(t.tags(), "novactl:part")
            .unwrap()
            .starts_with("route-table:"));
        for r in t.routes() {
            let fine = r.gateway_id() == Some("local")
                || r.destination_prefix_list_id().is_some()
                || r.gateway_id().is_some_and(|g| g.starts_with("vpce-"));
            assert!(fine, "unexpected route {r:?}");
        }
        private_tables.push(t.route_table_id().unwrap().to_string());
    }
    // The NACL of the private subnets.
    let acls = ec2
        .describe_network_acls()
        .filters(f("vpc-id", &vpc_id))
        .filters(f("tag:novactl:part", "nacl"))
        .send()
        .await
        .unwrap();
    let acl = acls.network_acls().first().expect("the private NACL");
    let mut assoc: Vec<&str> = acl
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    assoc.sort();
    let mut want_assoc: Vec<&str> = subnet_ids.iter().map(String::as_str).collect();
    want_assoc.sort();
    assert_eq!(assoc, want_assoc);
    // (egress, number, action, protocol, ports, cidr)
    type Entry = (bool, i32, String, String, Option<(i32, i32)>, String);
    let mut entries: Vec<Entry> = acl
        .entries()
        .iter()
        .filter(|e| e.rule_number() != Some(32767))
        .map(|e| {
            (
                e.egress().unwrap(),
                e.rule_number().unwrap(),
                e.rule_action().unwrap().as_str().to_string(),
                e.protocol().unwrap().to_string(),
                e.port_range()
                    .filter(|_| e.protocol() == Some("6"))
                    .map(|r| (r.from().unwrap(), r.to().unwrap())),
                e.cidr_block().unwrap().to_string(),
            )
        })
        .collect();
    entries.sort();
    let any = "0.0.0.0/0".to_string();
    assert_eq!(
        entries,
        vec![
            (
                false,
                100,
                "allow".into(),
                "-1".into(),
                None,
                "10.20.0.0/16".into()
            ),
            // Return traffic (S3's answers through the gateway endpoint), around 3389.
            (
                false,
                110,
                "allow".into(),
                "6".into(),
                Some((1024, 3388)),
                any.clone()
            ),
            (
                false,
                120,
                "allow".into(),
                "6".into(),
                Some((3390, 65535)),
                any.clone()
            ),
            (false, 200, "deny".into(), "-1".into(), None, any.clone()),
            (
                true,
                100,
                "allow".into(),
                "-1".into(),
                None,
                "10.20.0.0/16".into()
            ),
            (
                true,
                110,
                "allow".into(),
                "6".into(),
                Some((443, 443)),
                any.clone()
            ),
            (true, 200, "deny".into(), "-1".into(), None, any.clone()),
        ]
    );
    // Prowler's NACL checks (any port, 22, 3389 from 0.0.0.0/0), evaluated as it does: the
    // first ingress entry for 0.0.0.0/0 in rule order that matches the port decides.
    for port in [22, 3389] {
        let first = entries
            .iter()
            .filter(|e| !e.0 && e.5 == any)
            .find(|e| e.3 == "-1" || e.4.is_some_and(|(a, b)| (a..=b).contains(&port)))
            .unwrap();
        assert_eq!(first.2, "deny", "port {port} from anywhere: {first:?}");
    }
    assert!(!entries
        .iter()
        .any(|e| !e.0 && e.5 == any && e.3 == "-1" && e.2 == "allow"));
    // The VPC's default NACL (no subnet uses it) keeps only AWS's fixed `*` denies.
    let default_acl = ec2
        .describe_network_acls()
        .filters(f("vpc-id", &vpc_id))
        .filters(f("default", "true"))
        .send()
        .await
        .unwrap();
    let default_acl = default_acl
        .network_acls()
        .first()
        .expect("the default NACL");
    let default_acl_id = default_acl.network_acl_id().unwrap().to_string();
    assert!(
        default_acl
            .entries()
            .iter()
            .all(|e| e.rule_number() == Some(32767)
                && e.rule_action().map(|a| a.as_str()) == Some("deny")),
        "{:?}",
        default_acl.entries()
    );
    // Endpoints: S3 gateway on the private route tables with the bucket-limited policy;
    // interface endpoints with private DNS behind the endpoint group (443 from the VPC only).
    let eps = ec2
        .describe_vpc_endpoints()
        .filters(f("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let eps: Vec<_> = eps
        .vpc_endpoints()
        .iter()
        .filter(|e| e.state().map(|s| s.as_str().to_lowercase()) != Some("deleted".into()))
        .cloned()
        .collect();
    assert_eq!(eps.len(), 3, "{eps:?}");
    let s3 = eps
        .iter()
        .find(|e| e.service_name() == Some(&format!("com.amazonaws.{REGION}.s3")))
        .expect("the S3 gateway endpoint");
    let mut rts = s3.route_table_ids().to_vec();
    rts.sort();
    private_tables.sort();
    assert_eq!(rts, private_tables);
    let policy: serde_json::Value = serde_json::from_str(s3.policy_document().unwrap()).unwrap();
    let text = policy.to_string();
    assert!(
        text.contains(&format!("arn:aws:s3:::{env}-models/*")),
        "{text}"
    );
    // No `ecr.dkr` endpoint, no image pulls from the VPC: no ECR-layer statement.
    assert!(!text.contains("starport-layer-bucket"), "{text}");
    // The environment's buckets for this account's callers only.
    let buckets = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["Sid"] == "EnvironmentBuckets")
        .expect("the bucket statement");
    assert!(this_account_only(buckets), "{text}");
    let sgs = ec2
        .describe_security_groups()
        .filters(f("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let group = |name: &str| {
        sgs.security_groups()
            .iter()
            .find(|g| g.group_name() == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("group {name}"))
    };
    let endpoint_sg = group(&format!("{env}-main-endpoints"));
    let ingress = endpoint_sg.ip_permissions();
    assert_eq!(ingress.len(), 1);
    assert_eq!(ingress[0].from_port(), Some(443));
    assert_eq!(ingress[0].ip_ranges()[0].cidr_ip(), Some("10.20.0.0/16"));
    assert!(endpoint_sg.ip_permissions_egress().is_empty());
    for svc in ["kms", "sagemaker.runtime"] {
        let e = eps
            .iter()
            .find(|e| e.service_name() == Some(&format!("com.amazonaws.{REGION}.{svc}")))
            .unwrap_or_else(|| panic!("endpoint {svc}"));
        assert_eq!(e.private_dns_enabled(), Some(true), "{svc}");
        let mut sn = e.subnet_ids().to_vec();
        sn.sort();
        assert_eq!(sn, want_assoc, "{svc}");
        let groups: Vec<_> = e.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, [endpoint_sg.group_id().unwrap()], "{svc}");
        // Its policy is set (not AWS's full-access default): this account's callers only.
        let p: serde_json::Value = serde_json::from_str(e.policy_document().unwrap()).unwrap();
        let st = &p["Statement"][0];
        assert_eq!(p["Statement"].as_array().map(Vec::len), Some(1), "{p}");
        assert_eq!(st["Principal"], "*", "{p}");
        assert!(this_account_only(st), "{p}");
    }
    // The default group has no rule.
    let default = group("default");
    assert!(default.ip_permissions().is_empty());
    assert!(default.ip_permissions_egress().is_empty());
    // The spec's groups: rules naming each other by id, AWS's egress-all rule gone.
    let inference = group(&format!("{env}-inference"));
    let api = group(&format!("{env}-api"));
    assert_eq!(
        inference.ip_permissions()[0].user_id_group_pairs()[0].group_id(),
        api.group_id()
    );
    // Egress 443 to the VPC and to the region's S3 prefix list (by its id).
    let s3_list = ec2
        .describe_prefix_lists()
        .filters(f("prefix-list-name", &format!("com.amazonaws.{REGION}.s3")))
        .send()
        .await
        .unwrap()
        .prefix_lists()[0]
        .prefix_list_id()
        .unwrap()
        .to_string();
    let egress_peers = |g: &aws_sdk_ec2::types::SecurityGroup| {
        let mut v: Vec<(Option<i32>, Option<i32>, String)> = Vec::new();
        for p in g.ip_permissions_egress() {
            let ports = (p.from_port(), p.to_port());
            for r in p.ip_ranges() {
                v.push((ports.0, ports.1, r.cidr_ip().unwrap().to_string()));
            }
            for l in p.prefix_list_ids() {
                v.push((ports.0, ports.1, l.prefix_list_id().unwrap().to_string()));
            }
        }
        v.sort();
        v
    };
    let mut want_egress = vec![
        (Some(443), Some(443), "10.20.0.0/16".to_string()),
        (Some(443), Some(443), s3_list.clone()),
    ];
    want_egress.sort();
    assert_eq!(egress_peers(&inference), want_egress);
    let api_out = &api.ip_permissions_egress();
    assert_eq!(api_out.len(), 1);
    assert_eq!(
        (api_out[0].from_port(), api_out[0].to_port()),
        (Some(8000), Some(8080))
    );
    assert_eq!(
        api_out[0].user_id_group_pairs()[0].group_id(),
        inference.group_id()
    );
    // Flow logs: ALL traffic to the encrypted group, with the role novactl made.
    let logs = ec2
        .describe_flow_logs()
        .filter(f("resource-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let fl = logs.flow_logs().first().expect("a flow log");
    assert_eq!(fl.traffic_type().map(|t| t.as_str()), Some("ALL"));
    let group_name = fl.log_group_name().unwrap().to_string();
    let role_arn = fl.deliver_logs_permission_arn().unwrap().to_string();
    let lg = emu
        .logs(REGION)
        .await
        .describe_log_groups()
        .log_group_name_prefix(&group_name)
        .send()
        .await
        .unwrap();
    let lg = &lg.log_groups()[0];
    assert_eq!(lg.retention_in_days(), Some(90));
    let key = common::kms_key(&emu, &format!("alias/{env}-phi"))
        .await
        .unwrap();
    assert_eq!(lg.kms_key_id(), key.arn());
    let role_name = role_arn.rsplit('/').next().unwrap();
    let role = emu
        .iam()
        .await
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .unwrap();
    let trust = urlencoding_decode(role.role().unwrap().assume_role_policy_document().unwrap());
    assert!(trust.contains("vpc-flow-logs.amazonaws.com"), "{trust}");
    assert!(trust.contains("aws:SourceAccount"), "{trust}");
    // The model runs in the network's subnets behind the named group.
    let sm = emu.sagemaker(REGION).await;
    let models = sm.list_models().send().await.unwrap();
    let m = models
        .models()
        .iter()
        .find(|m| m.model_name().unwrap().starts_with(&format!("{env}-model")))
        .expect("the model");
    let d = sm
        .describe_model()
        .model_name(m.model_name().unwrap())
        .send()
        .await
        .unwrap();
    let vc = d.vpc_config().expect("a VPC config");
    let mut msn = vc.subnets().to_vec();
    msn.sort();
    assert_eq!(msn, want_assoc);
    assert_eq!(vc.security_group_ids(), [inference.group_id().unwrap()]);

    // Converged.
    assert_no_changes(&emu, spec_path);

    // Six hand changes: an endpoint deleted, an endpoint's policy opened to everyone, the
    // inference group opened to the internet, flow logs off, a route to an internet gateway,
    // the default NACL's allow-all entry put back.
    let kms_ep = eps
        .iter()
        .find(|e| e.service_name() == Some(&format!("com.amazonaws.{REGION}.kms")))
        .unwrap();
    ec2.delete_vpc_endpoints()
        .vpc_endpoint_ids(kms_ep.vpc_endpoint_id().unwrap())
        .send()
        .await
        .unwrap();
    let runtime_ep = eps
        .iter()
        .find(|e| e.service_name() == Some(&format!("com.amazonaws.{REGION}.sagemaker.runtime")))
        .unwrap();
    let open_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    ec2.modify_vpc_endpoint()
        .vpc_endpoint_id(runtime_ep.vpc_endpoint_id().unwrap())
        .policy_document(open_policy)
        .send()
        .await
        .unwrap();
    ec2.create_network_acl_entry()
        .network_acl_id(&default_acl_id)
        .egress(false)
        .rule_number(100)
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .protocol("-1")
        .cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(inference.group_id().unwrap())
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    // ... and its egress to S3's prefix list revoked.
    ec2.revoke_security_group_egress()
        .group_id(inference.group_id().unwrap())
        .ip_permissions(common::https_to_prefix_list(&s3_list))
        .send()
        .await
        .unwrap();
    ec2.delete_flow_logs()
        .flow_log_ids(fl.flow_log_id().unwrap())
        .send()
        .await
        .unwrap();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw_id = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw_id)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&private_tables[0])
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw_id)
        .send()
        .await
        .unwrap();

    let plan = plan_json(&emu, &p);
    let c = changes(&plan);
    let net = c
        .iter()
        .find(|c| c.0 == "network.main")
        .unwrap_or_else(|| panic!("{c:?}"));
    assert_eq!(net.1, "update");
    let paths = net.2.join(" ");
    assert!(paths.contains("endpoints.kms"), "{paths}");
    assert!(paths.contains("flow_logs"), "{paths}");
    assert!(paths.contains("routes"), "{paths}");
    assert!(paths.contains("default_network_acl"), "{paths}");
    assert!(
        paths.contains("endpoints.sagemaker.runtime.policy"),
        "{paths}"
    );
    let sg = c
        .iter()
        .find(|c| c.0 == "security_group.inference")
        .unwrap_or_else(|| panic!("{c:?}"));
    assert_eq!(sg.1, "update");
    let mut sg_paths = sg.2.clone();
    sg_paths.sort();
    assert_eq!(sg_paths, ["egress", "ingress"]);
    // Nothing else moved.
    assert_eq!(c.len(), 2, "{c:?}");

    novactl(
        Some(&emu),
        &["apply", "-e", spec_path, "--auto-approve", "-q"],
    )
    .expect_code(0);
    assert_no_changes(&emu, spec_path);
    let inference_now = ec2
        .describe_security_groups()
        .group_ids(inference.group_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(inference_now.security_groups()[0].ip_permissions().len(), 1);
    assert_eq!(
        egress_peers(&inference_now.security_groups()[0]),
        want_egress
    );
    let t = ec2
        .describe_route_tables()
        .route_table_ids(&private_tables[0])
        .send()
        .await
        .unwrap();
    assert!(t.route_tables()[0]
        .routes()
        .iter()
        .all(|r| r.gateway_id() != Some(igw_id.as_str())));
    let default_now = ec2
        .describe_network_acls()
        .network_acl_ids(&default_acl_id)
        .send()
        .await
        .unwrap();
    assert!(default_now.network_acls()[0]
        .entries()
        .iter()
        .all(|e| e.rule_number() == Some(32767)));
    let runtime_now = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(runtime_ep.vpc_endpoint_id().unwrap())
        .send()
        .await
        .unwrap();
    let restored = runtime_now.vpc_endpoints()[0].policy_document().unwrap();
    assert!(restored.contains("aws:PrincipalAccount"), "{restored}");
    // The IGW is not ours: detach it so that the VPC can go.
    ec2.detach_internet_gateway()
        .internet_gateway_id(&igw_id)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();

    // Destroy leaves nothing of the network.
    destroyed(&emu, &p, REGION, &env, "network.main", &group_name).await;
    let left = ec2
        .describe_subnets()
        .filters(f("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    assert!(left.subnets().is_empty());
    assert!(emu
        .iam()
        .await
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .is_err());
}

/// The statement admits callers of the emulator's account only (`aws:PrincipalAccount`, a
/// string or a list of one).
fn this_account_only(st: &serde_json::Value) -> bool {
    let v = &st["Condition"]["StringEquals"]["aws:PrincipalAccount"];
    *v == ACCOUNT || *v == serde_json::json!([ACCOUNT])
}

/// IAM hands policy documents back URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn open_ingress_is_a_spec_error_unless_waived() {
    let env = unique("netbad");
    let open = spec(&env).replace(
        "      - { port: 443, from: api }",
        "      - { port: 443, from: api }\n      - { port: 443, cidr: 0.0.0.0/0 }",
    );
    let p = Project::new(&open);
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(
        r.stderr
            .contains("security_groups.inference.ingress.1.cidr"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(":35:"), "{}", r.stderr);
    assert!(r.stderr.contains("NOVA-NET-001"), "{}", r.stderr);
    let waived = format!(
        "{open}check:\n  waive:\n    - {{ rule: NOVA-NET-001, address: security_group.inference, reason: public health check }}\n"
    );
    p.write_spec(&waived);
    novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(0);

    // An unknown network or group is named with a suggestion.
    p.write_spec(&spec(&env).replace(
        "        network: main\n        security_groups",
        "        network: mian\n        security_groups",
    ));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(
        r.stderr.contains("sagemaker.models.m.vpc.network"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean `main`"), "{}", r.stderr);
    p.write_spec(&spec(&env).replace(
        "security_groups: [inference]",
        "security_groups: [inferense]",
    ));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("vpc.security_groups.0"), "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean `inference`"),
        "{}",
        r.stderr
    );

    // A prefix list that is neither a gateway service nor an id, at its line; two peers at once.
    p.write_spec(&spec(&env).replace("prefix_list: s3", "prefix_list: s4"));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(
        r.stderr
            .contains("security_groups.inference.egress.1.prefix_list"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(":37:"), "{}", r.stderr);
    assert!(r.stderr.contains("s3, dynamodb"), "{}", r.stderr);
    p.write_spec(&spec(&env).replace("prefix_list: s3", "prefix_list: s3, cidr: 10.20.0.0/16"));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("exactly one of"), "{}", r.stderr);
    p.write_spec(&spec(&env).replace("prefix_list: s3", "prefix_list: pl-63a5400a"));
    novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(0);
}

const DR: &str = "us-west-2";

/// `spec(env)` with an endpoint serving the model and a DR stack that replicates the network.
fn dr_spec(env: &str) -> String {
    // With image pulls from inside the VPC (`ecr.dkr`) in both regions.
    let base = spec(env).replace(
        "endpoints: [s3, kms, sagemaker.runtime]",
        "endpoints: [s3, kms, sagemaker.runtime, ecr.dkr]",
    );
    format!(
        r#"{}  endpoints:
    e:
      name: {env}-endpoint
      model: m
      instance_type: ml.m5.large
      instance_count: 1
      kms_key: phi
      timeout_minutes: 1
dr:
  region: {DR}
  replicate:
    kms: [phi]
    s3: [models]
    sagemaker_endpoints: [e]
    networks: [main]
"#,
        base
    )
}

#[tokio::test]
async fn dr_twin_network_lifecycle() {
    let emu = Emulator::start();
    let env = unique("netdr");
    let p = Project::new(&dr_spec(&env));
    let spec_path = p.spec.to_str().unwrap();

    let plan = novactl(Some(&emu), &["plan", "-e", spec_path]).expect_code(0);
    for a in [
        "+ dr.network.main",
        "+ dr.security_group.inference",
        "+ dr.security_group.api",
    ] {
        assert!(plan.stdout.contains(a), "{a}: {}", plan.stdout);
    }
    // The primary subnets are in b and c: the twin's take the DR region's first two zones.
    assert!(
        plan.stdout.contains(&format!("{DR} zone 1")),
        "{}",
        plan.stdout
    );
    novactl(
        Some(&emu),
        &["apply", "-e", spec_path, "--auto-approve", "-q"],
    )
    .expect_code(0);

    // The twin, read back in the DR region.
    let ec2 = emu.ec2(DR).await;
    let vpc = vpc_at(&ec2, &env, "dr.network.main")
        .await
        .expect("the twin VPC in the DR region");
    assert_eq!(vpc.cidr_block(), Some("10.20.0.0/16"));
    assert_eq!(tag(vpc.tags(), "Name"), Some(&*format!("{env}-main-{DR}")));
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    assert!(
        vpc_at(&emu.ec2(REGION).await, &env, "network.main")
            .await
            .is_some_and(|v| v.vpc_id() != Some(&vpc_id)),
        "the primary network is its own VPC in {REGION}"
    );
    let zones = ec2.describe_availability_zones().send().await.unwrap();
    let mut zone_names: Vec<&str> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name())
        .collect();
    zone_names.sort();
    let subnets = ec2
        .describe_subnets()
        .filters(f("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let mut by_part: Vec<(String, String, String)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            (
                tag(s.tags(), "novactl:part").unwrap().to_string(),
                s.availability_zone().unwrap().to_string(),
                s.subnet_id().unwrap().to_string(),
            )
        })
        .collect();
    by_part.sort();
    assert_eq!(
        by_part
            .iter()
            .map(|(p, z, _)| (p.as_str(), z.as_str()))
            .collect::<Vec<_>>(),
        [("subnet:x", zone_names[0]), ("subnet:y", zone_names[1])]
    );
    let mut twin_subnets: Vec<String> = by_part.into_iter().map(|(_, _, id)| id).collect();
    twin_subnets.sort();
    // Flow logs with the DR key.
    let fl = ec2
        .describe_flow_logs()
        .filter(f("resource-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let fl = fl.flow_logs().first().expect("the twin's flow log");
    let group_name = fl.log_group_name().unwrap().to_string();
    assert_eq!(
        group_name,
        format!("/novactl/vpc-flow-logs/{env}-main-{DR}")
    );
    let lg = emu
        .logs(DR)
        .await
        .describe_log_groups()
        .log_group_name_prefix(&group_name)
        .send()
        .await
        .unwrap();
    let dr_key = emu
        .kms(DR)
        .await
        .describe_key()
        .key_id(format!("alias/{env}-phi"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lg.log_groups()[0].kms_key_id(),
        dr_key.key_metadata().unwrap().arn()
    );
    // The S3 gateway endpoint's policy names the twin bucket, not the primary.
    let eps = ec2
        .describe_vpc_endpoints()
        .filters(f("vpc-id", &vpc_id))
        .filters(f("service-name", &format!("com.amazonaws.{DR}.s3")))
        .send()
        .await
        .unwrap();
    let policy = eps.vpc_endpoints()[0]
        .policy_document()
        .unwrap()
        .to_string();
    let policy = urlencoding_decode(&policy);
    assert!(
        policy.contains(&format!("arn:aws:s3:::{env}-models-{DR}")),
        "{policy}"
    );
    assert!(
        !policy.contains(&format!("arn:aws:s3:::{env}-models\"")),
        "{policy}"
    );
    // The twin has `ecr.dkr`: reads of its own region's ECR layer bucket, nothing else's.
    assert!(
        policy.contains(&format!("arn:aws:s3:::prod-{DR}-starport-layer-bucket/*")),
        "{policy}"
    );
    assert!(
        !policy.contains(&format!("prod-{REGION}-starport")),
        "{policy}"
    );
    // The twin groups, and the DR model in the twin's subnets behind the twin group.
    let groups = ec2
        .describe_security_groups()
        .filters(f("vpc-id", &vpc_id))
        .filters(f("tag:novactl:address", "dr.security_group.inference"))
        .send()
        .await
        .unwrap();
    let inference = groups
        .security_groups()
        .first()
        .expect("the twin inference group");
    let sm = emu.sagemaker(DR).await;
    let models = sm.list_models().send().await.unwrap();
    let m = models.models().first().expect("the DR model");
    let d = sm
        .describe_model()
        .model_name(m.model_name().unwrap())
        .send()
        .await
        .unwrap();
    let vc = d.vpc_config().expect("the DR model's VPC config");
    let mut msn = vc.subnets().to_vec();
    msn.sort();
    assert_eq!(msn, twin_subnets);
    assert_eq!(vc.security_group_ids(), [inference.group_id().unwrap()]);

    assert_no_changes(&emu, spec_path);

    // A hand change in the DR region (the twin's flow logs off) is drift on the twin alone.
    ec2.delete_flow_logs()
        .flow_log_ids(fl.flow_log_id().unwrap())
        .send()
        .await
        .unwrap();
    let c = changes(&plan_json(&emu, &p));
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].0.as_str(), c[0].1.as_str()),
        ("dr.network.main", "update")
    );
    assert!(c[0].2.join(" ").contains("flow_logs"), "{c:?}");
    novactl(
        Some(&emu),
        &["apply", "-e", spec_path, "--auto-approve", "-q"],
    )
    .expect_code(0);
    assert_no_changes(&emu, spec_path);
    let again = ec2
        .describe_flow_logs()
        .filter(f("resource-id", &vpc_id))
        .send()
        .await
        .unwrap();
    assert_eq!(again.flow_logs().len(), 1, "the twin's flow log is back");

    destroyed(&emu, &p, DR, &env, "dr.network.main", &group_name).await;
}

#[test]
fn dr_network_errors_name_the_key() {
    let env = unique("netdrbad");
    let p = Project::new(&dr_spec(&env).replace("networks: [main]", "networks: [mian]"));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("dr.replicate.networks.0"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `main`"), "{}", r.stderr);
    // The model's network must have a twin (or dr.vpc be given)...
    p.write_spec(&dr_spec(&env).replace("    networks: [main]\n", ""));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(
        r.stderr.contains("dr.replicate.sagemaker_endpoints.0")
            && r.stderr.contains("dr.replicate.networks"),
        "{}",
        r.stderr
    );
    // ...but not both.
    p.write_spec(&format!(
        "{}  vpc:\n    security_groups: [sg-0fedcba9876543210]\n    subnets: [subnet-0cccccccccccccccc]\n",
        dr_spec(&env)
    ));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("dr.vpc"), "{}", r.stderr);
    assert!(r.stderr.contains("not both"), "{}", r.stderr);
    // The flow logs' key must have a twin.
    p.write_spec(&dr_spec(&env).replace(
        "    kms: [phi]\n    s3: [models]\n    sagemaker_endpoints: [e]\n",
        "",
    ));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("dr.replicate.networks.0"), "{}", r.stderr);
    assert!(r.stderr.contains("flow logs"), "{}", r.stderr);
}
