//! `novactl import network VPC_ID`: a VPC made outside novactl as a `network:` entry — its
//! CIDR, its subnets (`{cidr, az}` by name), its endpoints by service, its flow logs — with a
//! comment for each thing `apply --adopt` will change (see `adopt.rs` for how its parts are
//! found). Refused: a default VPC, a CIDR the spec cannot hold, a VPC without subnets, and a
//! VPC with a NAT gateway (its subnet is public: the internet route update deletes is what
//! every workload behind the NAT uses).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{adopt, endpoints, parse_cidr, read_found, vpc::FoundVpc, Names, NetworkState};
use crate::aws::AwsError;
use crate::resources::kit::ec2::{filter, tags_of};
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::tags_json;
use crate::resources::Ctx;

fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Subnet names: each subnet's `Name` tag (after `<prefix>-`, when it has it) when every one
/// is a logical name and they differ; else by AZ letter (`a`, `b`, `a_2` ...), in CIDR order.
/// `subnets`: (cidr, az letter, Name tag).
fn subnet_names(subnets: &[(String, String, String)], prefixes: &[String]) -> Vec<String> {
    let from_tags: Vec<String> = subnets
        .iter()
        .map(|(_, _, n)| {
            prefixes
                .iter()
                .find_map(|p| n.strip_prefix(&format!("{p}-")))
                .unwrap_or(n)
                .to_string()
        })
        .collect();
    let mut unique = from_tags.clone();
    unique.sort();
    unique.dedup();
    if unique.len() == from_tags.len() && from_tags.iter().all(|n| is_name(n)) {
        return from_tags;
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    subnets
        .iter()
        .map(|(_, az, _)| {
            let n = seen.entry(az.as_str()).or_insert(0);
            *n += 1;
            if *n == 1 {
                az.clone()
            } else {
                format!("{az}_{n}")
            }
        })
        .collect()
}

pub(super) async fn import_network(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let ec2 = &cx.clients(req.region).ec2;
    let out = ec2
        .describe_vpcs()
        .filters(filter("vpc-id", req.id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeVpcs"))?;
    let v = out
        .vpcs()
        .iter()
        .find(|v| v.vpc_id() == Some(req.id))
        .ok_or_else(|| import::not_found("VPC", req.id))?;
    let refused = |why: String| {
        AwsError::local(
            "novactl:import",
            "NetworkNotAdoptable",
            format!("VPC {}: {why}", req.id),
        )
    };
    let cidr = v.cidr_block().unwrap_or_default().to_string();
    if v.is_default() == Some(true) {
        return Err(refused(
            "it is the region's default VPC (public subnets, an internet gateway other \
             workloads use): a network of novactl's is private; make one and move to it"
                .into(),
        ));
    }
    if !parse_cidr(&cidr).is_some_and(|c| (16..=28).contains(&c.1)) {
        return Err(refused(format!(
            "its CIDR {cidr} is not a /16 to /28 block, which a spec network needs"
        )));
    }
    let nats = ec2
        .describe_nat_gateways()
        .filter(filter("vpc-id", req.id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeNatGateways"))?;
    let live_nat = nats.nat_gateways().iter().find(|n| {
        !matches!(
            n.state().map(|s| s.as_str()),
            Some("deleted" | "deleting" | "failed")
        )
    });
    if let Some(n) = live_nat {
        return Err(refused(format!(
            "it holds NAT gateway {} in subnet {}: that subnet routes to the internet for every \
             workload behind the NAT, and a network of novactl's has no internet route (adopting \
             would cut them off); make a novactl network and move to it",
            n.nat_gateway_id().unwrap_or_default(),
            n.subnet_id().unwrap_or_default()
        )));
    }
    let tags = tags_of(v.tags());
    // The logical name: the VPC's `Name` after `<environment>-`, else derived.
    let env = &req.spec.spec.environment;
    let live_name = tags.get("Name").cloned().unwrap_or_default();
    let name = live_name
        .strip_prefix(&format!("{env}-"))
        .filter(|n| is_name(n))
        .map(String::from)
        .unwrap_or_else(|| {
            import::logical_name(if live_name.is_empty() {
                req.id
            } else {
                &live_name
            })
        });
    let names = Names {
        base: format!("{env}-{name}"),
    };
    // Subnets, in CIDR order.
    let out = ec2
        .describe_subnets()
        .filters(filter("vpc-id", req.id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSubnets"))?;
    let mut live: Vec<(String, String, String)> = out
        .subnets()
        .iter()
        .map(|s| {
            let az = s.availability_zone().unwrap_or_default();
            (
                s.cidr_block().unwrap_or_default().to_string(),
                az.strip_prefix(req.region).unwrap_or(az).to_string(),
                tags_of(s.tags()).get("Name").cloned().unwrap_or_default(),
            )
        })
        .collect();
    live.sort_by_key(|(c, _, _)| parse_cidr(c));
    if live.is_empty() {
        return Err(refused(
            "it has no subnet, and a spec network needs at least one".into(),
        ));
    }
    let subnet_names = subnet_names(&live, &[names.base.clone(), live_name.clone()]);
    let by_name: BTreeMap<String, String> = subnet_names
        .iter()
        .zip(&live)
        .map(|(n, (c, _, _))| (n.clone(), c.clone()))
        .collect();
    let claims = adopt::claims_of(cx, req.region, req.id, &by_name, &names).await?;
    let found = FoundVpc {
        id: req.id.to_string(),
        cidr: cidr.clone(),
        tags: tags.clone(),
    };
    let address = format!("network.{name}");
    let o = read_found(cx, req.region, &address, &names, found, &claims).await?;
    let state: NetworkState = serde_json::from_value(o.state.unwrap_or_default())
        .map_err(|e| AwsError::local("novactl:import", "Internal", e.to_string()))?;

    let mut entry = Map::new();
    let mut comments = Vec::new();
    entry.insert("cidr".into(), json!(cidr));
    let mut subnets = Map::new();
    for (n, (c, az, _)) in subnet_names.iter().zip(&live) {
        subnets.insert(n.clone(), json!({ "cidr": c, "az": az }));
    }
    entry.insert("subnets".into(), Value::Object(subnets));
    let mut eps: Vec<&String> = state.endpoints.keys().collect();
    eps.sort();
    if !eps.is_empty() {
        entry.insert("endpoints".into(), json!(eps));
    }
    // Flow logs: the network's own (to its group), with the spec's key.
    match &state.flow_logs {
        Some(f) if !f.kms_key_id.is_empty() => {
            let key = import::spec_key_of(cx, req, &f.kms_key_id)
                .await?
                .ok_or_else(|| import::key_not_in_spec(&f.kms_key_id))?;
            let retention = if f.retention_days > 0 {
                f.retention_days
            } else {
                365
            };
            entry.insert(
                "flow_logs".into(),
                json!({ "kms_key": key, "retention_days": retention }),
            );
        }
        _ => comments.push(format!(
            "no flow log to {} encrypted with a spec key: add `flow_logs: {{ kms_key, \
             retention_days }}` (apply makes the group, role and flow log; other flow logs \
             stay), or validate refuses it unless `check.waive` holds NOVA-NET-002 for {address}",
            names.log_group()
        )),
    }
    let extra = import::extra_tags(req.spec, &tags_json(tags.clone()));
    let extra: Map<String, Value> = extra.into_iter().filter(|(k, _)| k != "Name").collect();
    if !extra.is_empty() {
        entry.insert("tags".into(), Value::Object(extra));
    }
    comments.extend(changes(&state, &cidr, &names, &live_name, cx.account_id));
    comments.push(format!(
        "keep the logical name `{name}` (the parts are named {}-...); apply --adopt {address} \
         takes over this VPC ({}), found by its CIDR",
        names.base, req.id
    ));
    Ok(Imported {
        name,
        entry,
        files: Vec::new(),
        comments,
    })
}

/// What `apply --adopt` changes in the network read as `s`, one line each.
fn changes(
    s: &NetworkState,
    cidr: &str,
    names: &Names,
    live_name: &str,
    account: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if live_name != names.base {
        out.push(format!("the VPC's Name tag becomes {}", names.base));
    }
    if !s.dns_support || !s.dns_hostnames {
        out.push("DNS support and hostnames are turned on".into());
    }
    for (n, sub) in &s.subnets {
        if sub.map_public_ip_on_launch {
            out.push(format!("subnet {n}: public IPs on launch are turned off"));
        }
        if sub.route_table != "own" {
            let which = if sub.route_table == "main" {
                "the main route table".to_string()
            } else {
                format!("route table {} (shared)", sub.route_table)
            };
            out.push(format!(
                "subnet {n}: uses {which}; apply gives it its own (the other is left)"
            ));
        } else if !sub.routes.is_empty() {
            out.push(format!(
                "subnet {n}: apply deletes the route(s) {} (a private subnet routes only in the \
                 VPC and to the S3 gateway endpoint)",
                sub.routes.join(", ")
            ));
        }
        if sub.network_acl != "private" {
            out.push(format!(
                "subnet {n}: moves to the network's private NACL {}-private",
                names.base
            ));
        }
    }
    let want = super::vpc::nacl_entries(cidr);
    let has_nacl = s.subnets.values().any(|x| x.network_acl == "private");
    if has_nacl && s.network_acl != want {
        out.push(
            "the private NACL's entries are replaced by novactl's (all to and from the VPC, \
             HTTPS out and its return, the rest denied)"
                .into(),
        );
    }
    if !s.default_network_acl.is_empty() {
        out.push("the default NACL's allow-all entries are deleted (no subnet uses it)".into());
    }
    let rules = s.default_security_group.ingress.len() + s.default_security_group.egress.len();
    if rules > 0 {
        out.push(format!(
            "the default security group's {rules} rule(s) are revoked"
        ));
    }
    let interface = endpoints::interface_policy(account);
    for (n, e) in &s.endpoints {
        if e.kind == "Gateway" {
            out.push(format!(
                "endpoint {n}: its policy becomes novactl's (this environment's buckets, this \
                 account's callers) and it is attached to the subnets' own route tables"
            ));
            continue;
        }
        if e.policy != interface {
            out.push(format!(
                "endpoint {n}: its policy is rewritten to admit this account's callers only"
            ));
        }
        if !e.endpoint_security_group {
            out.push(format!(
                "endpoint {n}: its security groups are replaced by {}",
                names.endpoint_sg()
            ));
        }
        if !e.private_dns {
            out.push(format!("endpoint {n}: private DNS is turned on"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(cidr: &str, az: &str, name: &str) -> (String, String, String) {
        (cidr.into(), az.into(), name.into())
    }

    #[test]
    fn subnets_are_named_by_tag_or_by_zone() {
        let prefixes = ["dev-main".to_string()];
        let tagged = [
            sub("10.0.1.0/24", "a", "dev-main-app"),
            sub("10.0.2.0/24", "b", "db"),
        ];
        assert_eq!(subnet_names(&tagged, &prefixes), ["app", "db"]);
        // One name is not a logical name: every subnet is named by its zone.
        let odd = [
            sub("10.0.1.0/24", "a", "App Tier"),
            sub("10.0.2.0/24", "a", "db"),
            sub("10.0.3.0/24", "b", ""),
        ];
        assert_eq!(subnet_names(&odd, &prefixes), ["a", "a_2", "b"]);
        // Two subnets of one name.
        let twice = [sub("10.0.1.0/24", "a", "x"), sub("10.0.2.0/24", "b", "x")];
        assert_eq!(subnet_names(&twice, &prefixes), ["a", "b"]);
    }
}
