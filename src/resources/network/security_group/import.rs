//! `novactl import security_groups SG_ID`: a live security group as a spec entry. Its VPC
//! becomes a reference to the spec's `network` entry whose VPC it is, and each rule
//! `{port | ports, protocol, from | to | cidr | prefix_list}` with a peer group named by its
//! spec entry (import that one first; a rule naming the group itself names the imported
//! entry) and a prefix list by its gateway service (`s3`, `dynamodb`) or its id. AWS's
//! allow-all egress rule is listed when the group has it (the kind revokes what the spec does
//! not list). The group's name must be `<environment>-<logical name>` (EC2 cannot rename a
//! group, and novactl names its groups so): any other name is refused.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{group_name, names_by_id};
use crate::aws::AwsError;
use crate::resources::kit::ec2::{filter, rules_of, tags_of, Rule};
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::network::vpc::find_vpc;
use crate::resources::{tags_json, Ctx};

pub(super) async fn import_group(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let ec2 = &cx.clients(req.region).ec2;
    let out = ec2
        .describe_security_groups()
        .filters(filter("group-id", req.id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    let g = out
        .security_groups()
        .iter()
        .find(|g| g.group_id() == Some(req.id))
        .ok_or_else(|| import::not_found("security group", req.id))?;
    let live_name = g.group_name().unwrap_or_default().to_string();
    let refused = |code: &str, why: String| {
        AwsError::local(
            "novactl:import",
            code,
            format!("security group {} ({live_name}): {why}", req.id),
        )
    };
    // The logical name: the group's name is `<environment>-<name>`.
    let env = &req.spec.spec.environment;
    let name = live_name
        .strip_prefix(&format!("{env}-"))
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(String::from)
        .ok_or_else(|| {
            refused(
                "NameNotAdoptable",
                format!(
                    "novactl names a group `{env}-<logical name>` (lower-case letters, digits, \
                     `_`) and EC2 cannot rename one, so this group cannot be adopted; make the \
                     spec's group and move what uses this one to it"
                ),
            )
        })?;
    debug_assert_eq!(group_name(req.spec, &name), live_name);
    // Its network: the spec's network whose VPC it is.
    let vpc = g.vpc_id().unwrap_or_default();
    let mut network = None;
    for d in req
        .decls
        .iter()
        .filter(|d| d.kind == "network" && d.region == req.region)
    {
        if find_vpc(cx, req.region, &d.address)
            .await?
            .is_some_and(|v| v.id == vpc)
        {
            network = Some(d.name.clone());
            break;
        }
    }
    let network = network
        .ok_or_else(|| import::dependency_not_in_spec(&format!("its VPC {vpc}"), "network", vpc))?;
    // Peer groups by name, then by spec entry.
    let peers: BTreeMap<String, String> = if g
        .ip_permissions()
        .iter()
        .chain(g.ip_permissions_egress())
        .any(|p| !p.user_id_group_pairs().is_empty())
    {
        let all = ec2
            .describe_security_groups()
            .filters(filter("vpc-id", vpc))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
        names_by_id(all.security_groups())
    } else {
        BTreeMap::new()
    };
    // Prefix lists: a gateway service's list by its service (`s3`), any other by its id.
    let lists = if g
        .ip_permissions()
        .iter()
        .chain(g.ip_permissions_egress())
        .any(|p| !p.prefix_list_ids().is_empty())
    {
        super::super::prefix_lists::gateway_lists(cx, req.region).await?
    } else {
        BTreeMap::new()
    };
    let mut entry = Map::new();
    let mut comments = Vec::new();
    entry.insert("network".into(), json!(network));
    entry.insert(
        "description".into(),
        json!(g.description().unwrap_or_default()),
    );
    for (key, ingress, perms) in [
        ("ingress", true, g.ip_permissions()),
        ("egress", false, g.ip_permissions_egress()),
    ] {
        let mut rules = Vec::new();
        for r in rules_of(perms, &peers) {
            rules.push(spec_rule(
                req,
                &r,
                ingress,
                &live_name,
                &name,
                (&peers, &lists),
                &refused,
            )?);
            if !ingress && r.protocol == "all" && r.peer == "0.0.0.0/0" {
                comments.push(
                    "egress to 0.0.0.0/0 on all protocols is AWS's default rule: leave it \
                     out and apply revokes it"
                        .into(),
                );
            }
            if ingress && (r.peer == "0.0.0.0/0" || r.peer == "::/0") {
                comments.push(format!(
                    "ingress from {} is refused by validate unless `check.waive` holds rule \
                     {} for security_group.{name}",
                    r.peer,
                    super::OPEN_INGRESS_RULE
                ));
            }
        }
        if !rules.is_empty() {
            entry.insert(key.into(), Value::Array(rules));
        }
    }
    let tags = import::extra_tags(req.spec, &tags_json(tags_of(g.tags())));
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    comments.push(format!(
        "the group's name is {live_name}: keep the logical name `{name}` (another, with --as, \
         makes apply create a new group)"
    ));
    Ok(Imported {
        name,
        entry,
        files: Vec::new(),
        comments,
    })
}

/// One live rule as a spec rule.
fn spec_rule(
    req: &ImportRequest<'_>,
    r: &Rule,
    ingress: bool,
    live_name: &str,
    name: &str,
    // Peer group names and gateway prefix lists' services, by id.
    (peers, lists): (&BTreeMap<String, String>, &BTreeMap<String, String>),
    refused: &dyn Fn(&str, String) -> AwsError,
) -> Result<Value, AwsError> {
    let mut out = Map::new();
    let proto = r.protocol.as_str();
    if !["tcp", "udp", "icmp", "all"].contains(&proto) {
        return Err(refused(
            "RuleNotExpressible",
            format!("a rule of protocol {proto}: the spec's protocols are tcp, udp, icmp, all"),
        ));
    }
    match r.ports.split_once('-') {
        _ if r.ports == "all" && (proto == "tcp" || proto == "udp") => {
            out.insert("ports".into(), json!([0, 65535]));
        }
        _ if r.ports == "all" => {}
        Some((a, b)) => {
            let (a, b) = (a.parse::<i32>(), b.parse::<i32>());
            let (Ok(a), Ok(b)) = (a, b) else {
                return Err(refused(
                    "RuleNotExpressible",
                    format!("a rule of ports {}", r.ports),
                ));
            };
            out.insert("ports".into(), json!([a, b]));
        }
        None => {
            let Ok(p) = r.ports.parse::<i32>() else {
                return Err(refused(
                    "RuleNotExpressible",
                    format!("a rule of ports {}", r.ports),
                ));
            };
            out.insert("port".into(), json!(p));
        }
    }
    if proto != "tcp" {
        out.insert("protocol".into(), json!(proto));
    }
    let side = if ingress { "from" } else { "to" };
    if let Some(peer) = r.peer.strip_prefix("sg:") {
        let spec_name = if peer == live_name {
            Some(name.to_string())
        } else {
            import::spec_name_of(req, "security_group", peer)
        };
        let spec_name = spec_name.ok_or_else(|| {
            let id = peers
                .iter()
                .find(|(_, n)| n.as_str() == peer)
                .map_or(peer, |(id, _)| id.as_str());
            import::dependency_not_in_spec(
                &format!(
                    "its {} rule's peer group {peer}",
                    if ingress { "ingress" } else { "egress" }
                ),
                "security_groups",
                id,
            )
        })?;
        out.insert(side.into(), json!(spec_name));
    } else if let Some(list) = r.peer.strip_prefix("pl:") {
        let value = lists.get(list).map_or(list, String::as_str);
        out.insert("prefix_list".into(), json!(value));
    } else if r.peer.contains('/') {
        out.insert("cidr".into(), json!(r.peer));
    } else {
        return Err(refused(
            "RuleNotExpressible",
            format!(
                "a rule with peer {} (a group of another account): the spec's peers are its \
                 groups, CIDR blocks and prefix lists",
                r.peer
            ),
        ));
    }
    Ok(Value::Object(out))
}
