//! Adopting a network made outside novactl (`apply --adopt network.<n>`, after
//! `novactl import network VPC_ID`).
//!
//! Every part of a network is found by its [`TAG_PART`] tag, which a hand-made VPC does not
//! have. When no VPC carries the address's ownership tags, the VPC to adopt is the one VPC of
//! the spec's CIDR without a `novactl:address` tag (not the account's default VPC) whose `Name`
//! is the network's (`<environment>-<n>`) or that holds a subnet of each of the spec's subnet
//! CIDRs (so that an unrelated VPC that happens to use the same CIDR is not taken for it); two
//! such VPCs: none is taken, and the plan creates a new one. Its parts are then found by shape
//! ([`claims_of`]):
//! * a subnet of the spec by its CIDR;
//! * its route table: the one it is explicitly associated with, when no other subnet is (the
//!   main table, or one shared, is never taken: apply gives the subnet its own);
//! * the private NACL: the one non-default NACL the spec's subnets are associated with;
//! * an endpoint by its service (`com.amazonaws.<region>.<name>`: `<name>` is its spec name);
//! * the endpoint security group by its name (`<environment>-<network>-endpoints`);
//! * the flow log, its log group and role by their names, as for a network of novactl's (a
//!   role of that name made by hand is taken over: its tags, trust and policy converged).
//!
//! Observe reads the VPC with those claims, as foreign (the plan shows a conflict until
//! `--adopt`, then an update naming each difference: routes deleted, public IPs on launch
//! turned off, NACL entries replaced, endpoints not in the spec deleted ...). The update first
//! tags every claimed part as novactl tags its own ([`claim`]), then converges every part.
//! What is outside the spec's shape (a subnet of another CIDR, a shared route table, the NAT
//! or internet gateway a route pointed to) is left as it is.

use std::collections::{BTreeMap, BTreeSet};

use super::vpc::FoundVpc;
use super::{part_tags, Names, NetworkState, TAG_PART};
use crate::aws::AwsError;
use crate::resources::kit::ec2::{filter, tags_of};
use crate::resources::kit::owned_role::{adopt_owned_role, owned_role_decl};
use crate::resources::kit::tags::{Tags, TAG_ADDRESS};
use crate::resources::Ctx;

/// Parts of a network found by shape: resource id -> its [`TAG_PART`] value.
pub type Claims = BTreeMap<String, String>;

/// The one VPC of `cidr` without novactl's address tag (not a default VPC) that is the
/// network's by shape: its `Name` is the network's (`name`), or it holds a subnet of each of
/// the CIDRs `subnets` (spec name -> CIDR). `None` when there is none or more than one.
pub async fn untagged_vpc(
    cx: &Ctx<'_>,
    region: &str,
    cidr: &str,
    name: &str,
    subnets: &BTreeMap<String, String>,
) -> Result<Option<FoundVpc>, AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let out = ec2
        .describe_vpcs()
        .filters(filter("cidr", cidr))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeVpcs"))?;
    let found: Vec<FoundVpc> = out
        .vpcs()
        .iter()
        .filter(|v| v.cidr_block() == Some(cidr) && v.is_default() != Some(true))
        .map(|v| FoundVpc {
            id: v.vpc_id().unwrap_or_default().into(),
            cidr: v.cidr_block().unwrap_or_default().into(),
            tags: tags_of(v.tags()),
        })
        .filter(|v| !v.tags.contains_key(TAG_ADDRESS))
        .collect();
    let mut shaped = Vec::new();
    for v in found {
        if v.tags.get("Name").map(String::as_str) != Some(name) {
            let out = ec2
                .describe_subnets()
                .filters(filter("vpc-id", &v.id))
                .send()
                .await
                .map_err(AwsError::from_sdk("ec2:DescribeSubnets"))?;
            let has: BTreeSet<&str> = out
                .subnets()
                .iter()
                .filter_map(|s| s.cidr_block())
                .collect();
            if subnets.is_empty() || !subnets.values().all(|c| has.contains(c.as_str())) {
                continue;
            }
        }
        shaped.push(v);
    }
    Ok(match <[FoundVpc; 1]>::try_from(shaped) {
        Ok([v]) => Some(v),
        Err(_) => None,
    })
}

/// The parts of `vpc_id` found by shape for the subnets `subnets` (spec name -> CIDR), in the
/// region `region` (see the module comment). Parts already tagged are left to their tags.
pub async fn claims_of(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    subnets: &BTreeMap<String, String>,
    names: &Names,
) -> Result<Claims, AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let in_vpc = || filter("vpc-id", vpc_id);
    let (live_subnets, tables, acls, endpoints, sgs) = tokio::join!(
        ec2.describe_subnets().filters(in_vpc()).send(),
        ec2.describe_route_tables().filters(in_vpc()).send(),
        ec2.describe_network_acls().filters(in_vpc()).send(),
        ec2.describe_vpc_endpoints().filters(in_vpc()).send(),
        ec2.describe_security_groups()
            .filters(in_vpc())
            .filters(filter("group-name", &names.endpoint_sg()))
            .send(),
    );
    let live_subnets = live_subnets.map_err(AwsError::from_sdk("ec2:DescribeSubnets"))?;
    let tables = tables.map_err(AwsError::from_sdk("ec2:DescribeRouteTables"))?;
    let acls = acls.map_err(AwsError::from_sdk("ec2:DescribeNetworkAcls"))?;
    let endpoints = endpoints.map_err(AwsError::from_sdk("ec2:DescribeVpcEndpoints"))?;
    let sgs = sgs.map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    let untagged =
        |tags: &[aws_sdk_ec2::types::Tag]| !tags.iter().any(|t| t.key() == Some(TAG_PART));
    let mut claims = Claims::new();
    // Subnets by CIDR.
    let mut ours: BTreeMap<String, String> = BTreeMap::new(); // subnet id -> spec name
    for s in live_subnets.subnets() {
        let (Some(id), Some(cidr)) = (s.subnet_id(), s.cidr_block()) else {
            continue;
        };
        if let Some((name, _)) = subnets.iter().find(|(_, c)| c.as_str() == cidr) {
            ours.insert(id.to_string(), name.clone());
            if untagged(s.tags()) {
                claims.insert(id.to_string(), format!("subnet:{name}"));
            }
        }
    }
    // Route tables: a subnet's own explicit table (not main, associated with it alone).
    for t in tables.route_tables() {
        let assoc: Vec<&str> = t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        let main = t.associations().iter().any(|a| a.main() == Some(true));
        if let ([sid], false, Some(id)) = (&assoc[..], main, t.route_table_id()) {
            if let (Some(name), true) = (ours.get(*sid), untagged(t.tags())) {
                claims.insert(id.to_string(), format!("route-table:{name}"));
            }
        }
    }
    // The private NACL: the one non-default NACL of the spec's subnets.
    let private: BTreeSet<&str> = acls
        .network_acls()
        .iter()
        .filter(|a| a.is_default() != Some(true))
        .filter(|a| {
            a.associations()
                .iter()
                .any(|s| s.subnet_id().is_some_and(|id| ours.contains_key(id)))
        })
        .filter_map(|a| a.network_acl_id())
        .collect();
    let tagged_nacl = acls.network_acls().iter().any(|a| !untagged(a.tags()));
    if let (Some(id), 1, false) = (private.first(), private.len(), tagged_nacl) {
        claims.insert(id.to_string(), "nacl".into());
    }
    // Endpoints by service.
    let prefix = format!("com.amazonaws.{region}.");
    for e in endpoints.vpc_endpoints() {
        let gone = super::endpoints::is_gone(e);
        let (Some(id), Some(service)) = (e.vpc_endpoint_id(), e.service_name()) else {
            continue;
        };
        if let (Some(name), false, true) = (service.strip_prefix(&prefix), gone, untagged(e.tags()))
        {
            claims.insert(id.to_string(), format!("endpoint:{name}"));
        }
    }
    if let Some(g) = sgs.security_groups().first().filter(|g| untagged(g.tags())) {
        if let Some(id) = g.group_id() {
            claims.insert(id.to_string(), "endpoint-sg".into());
        }
    }
    Ok(claims)
}

/// What holds the VPC `vpc_id` that novactl did not make and does not delete (an internet
/// gateway attached, a subnet without a [`TAG_PART`] tag: things of an adopted VPC outside
/// the spec's shape), one phrase each; empty when the network's delete can free the VPC.
pub async fn held_by(cx: &Ctx<'_>, region: &str, vpc_id: &str) -> Result<Vec<String>, AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let (igws, subnets) = tokio::join!(
        ec2.describe_internet_gateways()
            .filters(filter("attachment.vpc-id", vpc_id))
            .send(),
        ec2.describe_subnets()
            .filters(filter("vpc-id", vpc_id))
            .send(),
    );
    let igws = igws.map_err(AwsError::from_sdk("ec2:DescribeInternetGateways"))?;
    let subnets = subnets.map_err(AwsError::from_sdk("ec2:DescribeSubnets"))?;
    let mut out: Vec<String> = igws
        .internet_gateways()
        .iter()
        .filter_map(|g| g.internet_gateway_id())
        .map(|id| format!("internet gateway {id} (attached)"))
        .collect();
    for s in subnets
        .subnets()
        .iter()
        .filter(|s| !s.tags().iter().any(|t| t.key() == Some(TAG_PART)))
    {
        out.push(format!(
            "subnet {} ({})",
            s.subnet_id().unwrap_or_default(),
            s.cidr_block().unwrap_or_default()
        ));
    }
    Ok(out)
}

/// The `Name` novactl gives the part `part` of the network `names`.
fn part_name(names: &Names, part: &str) -> String {
    match part.split_once(':') {
        Some((_, n)) => format!("{}-{n}", names.base),
        None if part == "nacl" => format!("{}-private", names.base),
        None if part == "endpoint-sg" => names.endpoint_sg(),
        None => format!("{}-{part}", names.base),
    }
}

/// Tags every part of `vpc_id` found by shape as novactl tags its own (ownership tags, `Name`,
/// [`TAG_PART`]), so that the update that follows converges them in place.
pub async fn claim(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
) -> Result<(), AwsError> {
    let subnets = d
        .subnets
        .iter()
        .map(|(n, s)| (n.clone(), s.cidr.clone()))
        .collect();
    let claims = claims_of(cx, region, vpc_id, &subnets, names).await?;
    let ec2 = &cx.clients(region).ec2;
    let tag = |id: &str, tags: Tags| {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(crate::resources::kit::ec2::ec2_tags(&tags)))
            .send()
    };
    for (id, part) in &claims {
        tag(id, part_tags(&d.tags, &part_name(names, part), part))
            .await
            .map_err(AwsError::from_sdk("ec2:CreateTags"))?;
    }
    // The flow logs' role, when one of its name was made by hand.
    if let Some(w) = &d.flow_logs {
        let rd = owned_role_decl(&d.tags[TAG_ADDRESS], region, &names.role());
        adopt_owned_role(cx, &rd, &w.role).await?;
    }
    // The VPC last: an adoption interrupted before this is taken up again by the next
    // `--adopt` (the VPC still foreign), never left as ours with parts untagged.
    tag(vpc_id, d.tags.clone())
        .await
        .map_err(AwsError::from_sdk("ec2:CreateTags"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_as_novactl_names_them() {
        let names = Names {
            base: "dev-main".into(),
        };
        assert_eq!(part_name(&names, "subnet:a"), "dev-main-a");
        assert_eq!(part_name(&names, "route-table:a"), "dev-main-a");
        assert_eq!(part_name(&names, "endpoint:kms"), "dev-main-kms");
        assert_eq!(part_name(&names, "nacl"), "dev-main-private");
        assert_eq!(part_name(&names, "endpoint-sg"), "dev-main-endpoints");
    }
}
