//! The checks of the network rules (`NOVA-NET-*`), over a `network` resource's state
//! ([`crate::resources::network::NetworkState`], desired and observed alike) and a security
//! group's. Pure functions: the catalogue entries in [`super::rules`] call them.

use serde_json::Value;

use super::{Subject, Verdict, World};
use crate::resources::network::{parse_nacl_entry, NaclEntry};

/// A peer that is the whole internet.
pub fn anywhere(peer: &str) -> bool {
    peer == "0.0.0.0/0" || peer == "::/0"
}

/// Ports that must never be open to the internet (SSH, RDP).
const ADMIN_PORTS: &[i32] = &[22, 3389];

/// Ingress rules (in the `kit::ec2::Rule` shape) from anywhere, as `<protocol> <ports> <peer>`.
fn open_rules(rules: &Value) -> Vec<String> {
    rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["peer"].as_str().is_some_and(anywhere))
        .map(|r| {
            format!(
                "{} {} from {}",
                r["protocol"].as_str().unwrap_or_default(),
                r["ports"].as_str().unwrap_or_default(),
                r["peer"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// NOVA-NET-001: no ingress from the internet (a spec group's rules, or a network's endpoint
/// security group).
pub fn no_open_ingress(s: &Subject) -> Option<Verdict> {
    let (rules, key) = match s.kind.as_str() {
        "network" => (&s.state["endpoint_security_group"]["ingress"], ""),
        _ => (&s.state["ingress"], "ingress"),
    };
    let open = open_rules(rules);
    Some(Verdict::when(
        open.is_empty(),
        key,
        format!("ingress admits the internet: {}", open.join(", ")),
    ))
}

/// NOVA-NET-002: flow logs on, ALL traffic.
pub fn flow_logs_on(s: &Subject) -> Option<Verdict> {
    let f = &s.state["flow_logs"];
    Some(if f.is_null() {
        Verdict::fail(
            "",
            "the VPC has no flow logs (add `flow_logs: { kms_key: ... }` to the network)",
        )
    } else if f["traffic_type"] != "ALL" {
        Verdict::fail(
            "flow_logs",
            format!(
                "flow logs capture {} traffic, not ALL",
                f["traffic_type"].as_str().unwrap_or("no")
            ),
        )
    } else {
        Verdict::Pass
    })
}

/// NOVA-NET-003: the flow logs' log group exists and is encrypted with a customer key.
pub fn flow_logs_encrypted(s: &Subject) -> Option<Verdict> {
    let f = &s.state["flow_logs"];
    if f.is_null() {
        return None; // NOVA-NET-002's finding
    }
    let key = f["kms_key_id"].as_str().unwrap_or_default();
    let group = f["log_group"].as_str().unwrap_or_default();
    Some(if f["retention_days"] == -1 {
        Verdict::fail(
            "flow_logs",
            format!("the flow logs' log group {group} does not exist"),
        )
    } else if key.is_empty() || key.contains("alias/aws/") {
        Verdict::fail(
            "flow_logs.kms_key",
            format!("the flow logs' log group {group} is not encrypted with a customer KMS key"),
        )
    } else {
        Verdict::Pass
    })
}

fn covers(ports: Option<(i32, i32)>, port: i32) -> bool {
    ports.is_none_or(|(a, b)| a <= port && port <= b)
}

/// NACL ingress entries that admit the internet to every port or an admin port, taking the
/// evaluation order (lowest number first) into account.
pub fn nacl_open(entries: &[Value]) -> Vec<String> {
    let mut es: Vec<(NaclEntry, &str)> = entries
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|t| parse_nacl_entry(t).map(|e| (e, t)))
        .filter(|(e, _)| !e.egress && anywhere(&e.cidr))
        .collect();
    es.sort_by_key(|(e, _)| e.number);
    let mut out = Vec::new();
    // For "every port" and each admin port: the first entry that decides it.
    let probes: Vec<Option<i32>> = std::iter::once(None)
        .chain(ADMIN_PORTS.iter().map(|p| Some(*p)))
        .collect();
    for probe in probes {
        let first = es.iter().find(|(e, _)| match probe {
            None => e.ports.is_none(),
            Some(p) => covers(e.ports, p),
        });
        if let Some((e, text)) = first {
            if e.allow && !out.contains(&text.to_string()) {
                out.push(text.to_string());
            }
        }
    }
    out
}

/// NOVA-NET-004: the private subnets' NACL admits nothing from the internet on every port or
/// an admin port, every subnet uses it, and the VPC's default NACL (unused, but what a new
/// subnet gets) admits nothing from the internet either.
pub fn nacl_closed(s: &Subject) -> Option<Verdict> {
    let default: Vec<Value> = s.state["default_network_acl"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let open = nacl_open(&default);
    if !open.is_empty() {
        return Some(Verdict::fail(
            "",
            format!(
                "the VPC's default network ACL admits the internet: {}",
                open.join(", ")
            ),
        ));
    }
    let entries = s.state["network_acl"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return Some(Verdict::fail(
            "",
            "the private subnets' network ACL does not exist (the VPC's default NACL admits everything)",
        ));
    }
    let open = nacl_open(&entries);
    if !open.is_empty() {
        return Some(Verdict::fail(
            "",
            format!("the network ACL admits the internet: {}", open.join(", ")),
        ));
    }
    let other: Vec<String> = subnets(s)
        .filter(|(_, v)| v["network_acl"] != "private")
        .map(|(n, v)| {
            format!(
                "subnet {n} uses {}",
                v["network_acl"].as_str().unwrap_or("another NACL")
            )
        })
        .collect();
    Some(Verdict::when(
        other.is_empty(),
        "subnets",
        format!("not on the private NACL: {}", other.join(", ")),
    ))
}

fn subnets(s: &Subject) -> impl Iterator<Item = (&String, &Value)> {
    s.state["subnets"].as_object().into_iter().flatten()
}

/// NOVA-NET-005: each private subnet's route table is its own and routes nowhere but the VPC
/// and the gateway endpoints (no internet gateway, NAT, peering, transit gateway...).
pub fn private_routes(s: &Subject) -> Option<Verdict> {
    for (n, v) in subnets(s) {
        let routes: Vec<&str> = v["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !routes.is_empty() {
            return Some(Verdict::fail(
                &format!("subnets.{n}"),
                format!(
                    "private subnet {n} has a route out of the VPC: {}",
                    routes.join(", ")
                ),
            ));
        }
        if v["route_table"] != "own" {
            return Some(Verdict::fail(
                &format!("subnets.{n}"),
                format!(
                    "private subnet {n} uses route table {} instead of its own",
                    v["route_table"].as_str().unwrap_or("?")
                ),
            ));
        }
    }
    Some(Verdict::Pass)
}

/// NOVA-NET-006: no private subnet gives instances a public IP on launch.
pub fn no_public_ip(s: &Subject) -> Option<Verdict> {
    let on: Vec<&String> = subnets(s)
        .filter(|(_, v)| v["map_public_ip_on_launch"] != false)
        .map(|(n, _)| n)
        .collect();
    Some(match on.first() {
        Some(n) => Verdict::fail(
            &format!("subnets.{n}"),
            format!(
                "public IPs on launch: subnet(s) {}",
                on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ),
        None => Verdict::Pass,
    })
}

/// NOVA-NET-007: the VPC's default security group has no rule.
pub fn default_sg_closed(s: &Subject) -> Option<Verdict> {
    let d = &s.state["default_security_group"];
    let n = |k: &str| d[k].as_array().map_or(0, Vec::len);
    Some(Verdict::when(
        n("ingress") == 0 && n("egress") == 0,
        "",
        format!(
            "the default security group has {} ingress and {} egress rule(s)",
            n("ingress"),
            n("egress")
        ),
    ))
}

/// The endpoints the stack's traffic needs so that no call leaves the VPC: the S3 gateway
/// endpoint, and interface endpoints for the services whose clients the spec's kinds use.
pub fn needed_endpoints(w: &World<'_>) -> Vec<&'static str> {
    let spec = &w.spec.spec;
    let mut v = vec!["s3", "kms", "logs", "monitoring", "sts"];
    if !spec.sagemaker.models.is_empty() || !spec.sagemaker.endpoints.is_empty() {
        v.extend(["sagemaker.api", "sagemaker.runtime"]);
    }
    if spec
        .sagemaker
        .models
        .values()
        .any(|m| m.image.contains(".dkr.ecr."))
    {
        v.extend(["ecr.api", "ecr.dkr"]);
    }
    v
}

/// NOVA-NET-008: the endpoints the stack needs exist, interface ones with private DNS.
pub fn endpoints_present(s: &Subject, w: &World<'_>) -> Option<Verdict> {
    let eps = &s.state["endpoints"];
    let missing: Vec<&str> = needed_endpoints(w)
        .into_iter()
        .filter(|e| eps.get(*e).is_none())
        .collect();
    if !missing.is_empty() {
        return Some(Verdict::fail(
            "endpoints",
            format!(
                "no VPC endpoint for {}: calls to these services leave the VPC",
                missing.join(", ")
            ),
        ));
    }
    let no_dns: Vec<&String> = eps
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, e)| e["kind"] == "Interface" && e["private_dns"] != true)
        .map(|(n, _)| n)
        .collect();
    Some(Verdict::when(
        no_dns.is_empty(),
        "endpoints",
        format!(
            "private DNS is off on the {} endpoint(s): the services' public names resolve outside the VPC",
            no_dns.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nacl_order_decides() {
        let closed = [
            json!("ingress 100 allow all all 10.0.0.0/16"),
            json!("ingress 200 deny all all 0.0.0.0/0"),
            json!("ingress 300 allow tcp 22 0.0.0.0/0"),
        ];
        assert!(nacl_open(&closed).is_empty());
        let ssh = [
            json!("ingress 50 allow tcp 20-25 0.0.0.0/0"),
            json!("ingress 200 deny all all 0.0.0.0/0"),
        ];
        assert_eq!(
            nacl_open(&ssh),
            vec!["ingress 50 allow tcp 20-25 0.0.0.0/0"]
        );
        let https = [json!("ingress 50 allow tcp 443 0.0.0.0/0")];
        assert!(nacl_open(&https).is_empty());
        let all6 = [json!("ingress 10 allow all all ::/0")];
        assert_eq!(nacl_open(&all6).len(), 1);
        let egress = [json!("egress 10 allow all all 0.0.0.0/0")];
        assert!(nacl_open(&egress).is_empty());
    }

    #[test]
    fn the_default_nacl_open_to_the_internet_fails_nova_net_004() {
        let subject = |default: Value| Subject {
            address: "network.main".into(),
            kind: "network".into(),
            spec_path: "network.main".into(),
            region: "us-east-1".into(),
            arn: String::new(),
            state: json!({
                "network_acl": ["ingress 100 allow all all 10.0.0.0/16", "ingress 200 deny all all 0.0.0.0/0"],
                "default_network_acl": default,
                "subnets": { "a": { "network_acl": "private" } },
            }),
            desired: Value::Null,
        };
        assert!(matches!(
            nacl_closed(&subject(json!([]))),
            Some(Verdict::Pass)
        ));
        match nacl_closed(&subject(json!(["ingress 100 allow all all 0.0.0.0/0"]))) {
            Some(Verdict::Fail { message, .. }) => {
                assert!(message.contains("default network ACL"), "{message}");
                assert!(message.contains("ingress 100 allow all all 0.0.0.0/0"));
            }
            v => panic!("expected a failure, got {v:?}"),
        }
    }
}
