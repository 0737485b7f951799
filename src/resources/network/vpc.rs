//! The VPC, its private subnets and their route tables, the private NACL and the default
//! security group of a `network.*` (see the module above).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, PortRange, ResourceType, RouteTable, RuleAction};

use super::adopt::Claims;
use super::{part_tags, Names, NetworkState, Rules, SubnetState, TAG_PART};
use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kit::all_settled;
use crate::resources::kit::ec2::{
    client_token, code_of, delete_when_free, filter, rules_of, sync_rules, sync_tags, tag_spec,
    tags_of, tolerate, Direction,
};
use crate::resources::kit::tags::{Tags, TAG_ADDRESS, TAG_ENVIRONMENT};
use crate::resources::Ctx;

const VPC: &str = "arn:aws:ec2:{region}:{account}:vpc/*";
const SUBNET: &str = "arn:aws:ec2:{region}:{account}:subnet/*";
const RT: &str = "arn:aws:ec2:{region}:{account}:route-table/*";
const NACL: &str = "arn:aws:ec2:{region}:{account}:network-acl/*";

/// The calls of this room.
pub const PERMISSIONS: &[Perm] = &[
    perm("ec2:DescribeVpcs", &["ec2:DescribeVpcs"], &["*"]),
    perm(
        "ec2:DescribeVpcAttribute",
        &["ec2:DescribeVpcAttribute"],
        &[VPC],
    ),
    perm("ec2:DescribeSubnets", &["ec2:DescribeSubnets"], &["*"]),
    // Destroy: an internet gateway attached by hand holds the VPC (refused before deleting).
    perm(
        "ec2:DescribeInternetGateways",
        &["ec2:DescribeInternetGateways"],
        &["*"],
    ),
    // `novactl import network` only: a VPC with a NAT gateway is refused.
    perm(
        "ec2:DescribeNatGateways",
        &["ec2:DescribeNatGateways"],
        &["*"],
    ),
    perm(
        "ec2:DescribeRouteTables",
        &["ec2:DescribeRouteTables"],
        &["*"],
    ),
    perm(
        "ec2:DescribeNetworkAcls",
        &["ec2:DescribeNetworkAcls"],
        &["*"],
    ),
    perm(
        "ec2:CreateVpc",
        &["ec2:CreateVpc", "ec2:CreateTags"],
        &[VPC],
    ),
    perm(
        "ec2:ModifyVpcAttribute",
        &["ec2:ModifyVpcAttribute"],
        &[VPC],
    ),
    perm("ec2:DeleteVpc", &["ec2:DeleteVpc"], &[VPC]),
    perm(
        "ec2:CreateSubnet",
        &["ec2:CreateSubnet", "ec2:CreateTags"],
        &[VPC, SUBNET],
    ),
    perm(
        "ec2:ModifySubnetAttribute",
        &["ec2:ModifySubnetAttribute"],
        &[SUBNET],
    ),
    perm("ec2:DeleteSubnet", &["ec2:DeleteSubnet"], &[SUBNET]),
    perm(
        "ec2:CreateRouteTable",
        &["ec2:CreateRouteTable", "ec2:CreateTags"],
        &[VPC, RT],
    ),
    perm(
        "ec2:AssociateRouteTable",
        &["ec2:AssociateRouteTable"],
        &[SUBNET, RT],
    ),
    perm(
        "ec2:ReplaceRouteTableAssociation",
        &["ec2:ReplaceRouteTableAssociation"],
        &[RT],
    ),
    perm("ec2:DeleteRoute", &["ec2:DeleteRoute"], &[RT]),
    perm(
        "ec2:DisassociateRouteTable",
        &["ec2:DisassociateRouteTable"],
        &[RT],
    ),
    perm("ec2:DeleteRouteTable", &["ec2:DeleteRouteTable"], &[RT]),
    perm(
        "ec2:CreateNetworkAcl",
        &["ec2:CreateNetworkAcl", "ec2:CreateTags"],
        &[VPC, NACL],
    ),
    perm(
        "ec2:CreateNetworkAclEntry",
        &["ec2:CreateNetworkAclEntry"],
        &[NACL],
    ),
    perm(
        "ec2:ReplaceNetworkAclEntry",
        &["ec2:ReplaceNetworkAclEntry"],
        &[NACL],
    ),
    perm(
        "ec2:DeleteNetworkAclEntry",
        &["ec2:DeleteNetworkAclEntry"],
        &[NACL],
    ),
    perm(
        "ec2:ReplaceNetworkAclAssociation",
        &["ec2:ReplaceNetworkAclAssociation"],
        &[NACL],
    ),
    perm("ec2:DeleteNetworkAcl", &["ec2:DeleteNetworkAcl"], &[NACL]),
];

/// What EC2 answers to a resent association replace: the first attempt replaced the id.
const ASSOC_GONE: &str = "InvalidAssociationID.NotFound";
/// What EC2 answers to a resent NACL entry delete: the first attempt deleted it.
const ENTRY_GONE: &str = "InvalidNetworkAclEntry.NotFound";

/// The subnet of `cidr` in `vpc` tagged as the network's subnet `name` (made by an attempt
/// whose answer was lost), if any.
async fn own_subnet(
    cx: &Ctx<'_>,
    region: &str,
    vpc: &str,
    cidr: &str,
    name: &str,
) -> Result<Option<String>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpc))
        .filters(filter("cidr-block", cidr))
        .filters(filter(
            &format!("tag:{TAG_PART}"),
            &format!("subnet:{name}"),
        ))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSubnets"))?;
    Ok(out
        .subnets()
        .first()
        .and_then(|s| s.subnet_id())
        .map(String::from))
}

/// The VPC of a network as found.
pub struct FoundVpc {
    pub id: String,
    pub cidr: String,
    pub tags: Tags,
}

/// Every VPC tagged with `address` in this environment.
async fn tagged_vpcs(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
) -> Result<Vec<aws_sdk_ec2::types::Vpc>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_vpcs()
        .filters(filter(&format!("tag:{TAG_ADDRESS}"), address))
        .filters(filter(&format!("tag:{TAG_ENVIRONMENT}"), cx.environment))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeVpcs"))?;
    Ok(out.vpcs().to_vec())
}

/// The VPC tagged with `address` in this environment (the oldest id when there are several).
pub async fn find_vpc(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
) -> Result<Option<FoundVpc>, AwsError> {
    let mut vpcs: Vec<FoundVpc> = tagged_vpcs(cx, region, address)
        .await?
        .iter()
        .map(|v| FoundVpc {
            id: v.vpc_id().unwrap_or_default().into(),
            cidr: v.cidr_block().unwrap_or_default().into(),
            tags: tags_of(v.tags()),
        })
        .collect();
    vpcs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(vpcs.into_iter().next())
}

pub async fn create_vpc(
    cx: &Ctx<'_>,
    region: &str,
    d: &NetworkState,
    _names: &Names,
) -> Result<String, AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let out = ec2
        .create_vpc()
        .cidr_block(&d.cidr)
        .tag_specifications(tag_spec(ResourceType::Vpc, &d.tags))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:CreateVpc"))?;
    let id = out
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_string();
    // CreateVpc takes no client token: an attempt whose answer was lost (the SDK sent it
    // again) left a second, empty VPC with the same ownership tags (the create only runs when
    // none was found). It goes, so that one VPC carries the address.
    let address = d.tags.get(TAG_ADDRESS).map(String::as_str).unwrap_or("");
    let twins = tagged_vpcs(cx, region, address).await?;
    for other in twins.iter().filter_map(|v| v.vpc_id()) {
        if other == id {
            continue;
        }
        match ec2.delete_vpc().vpc_id(other).send().await {
            Ok(_) => {}
            Err(e) if code_of(&e).ends_with("NotFound") => {}
            Err(e) => return Err(AwsError::from_err("ec2:DeleteVpc", e)),
        }
    }
    Ok(id)
}

/// Sets the VPC's DNS support and hostnames. A VPC just made (`fresh`) has DNS support on
/// already (AWS's default for every VPC), so only a spec that turns it off writes it.
pub async fn set_dns(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    fresh: bool,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let on = |b: bool| AttributeBooleanValue::builder().value(b).build();
    // One attribute per call (EC2's rule); support before hostnames.
    if !(fresh && d.dns_support) {
        ec2.modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_support(on(d.dns_support))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:ModifyVpcAttribute"))?;
    }
    ec2.modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_hostnames(on(d.dns_hostnames))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:ModifyVpcAttribute"))?;
    Ok(())
}

pub async fn sync_vpc_tags(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    want: &Tags,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let out = ec2
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeVpcs"))?;
    let live = out
        .vpcs()
        .first()
        .map(|v| tags_of(v.tags()))
        .unwrap_or_default();
    sync_tags(ec2, vpc_id, &live, want).await
}

/// The NACL entries a network of `cidr` wants: everything from and to the VPC; HTTPS out to
/// anywhere and its return traffic in; the rest denied explicitly (before AWS's own `*`
/// entries).
///
/// NACLs are stateless: the answers of S3 through the gateway endpoint come from S3's public
/// addresses, not from the VPC's CIDR, so without the return-traffic entries a model in these
/// subnets could not download its artifact. Outbound 443 to `0.0.0.0/0` reaches only what the
/// route tables allow (the VPC and the S3 gateway endpoint: there is no internet route), and
/// the security groups stay stateful and closed. The ephemeral range 1024-65535 is split
/// around 3389 (RDP) so that no entry admits RDP from `0.0.0.0/0` (Prowler's
/// `ec2_networkacl_allow_ingress_tcp_port_3389`; 22 is below 1024 and no entry admits every
/// port, `..._any_port`): the deny at 200 catches it.
pub fn nacl_entries(cidr: &str) -> Vec<String> {
    let mut v = vec![
        format!("egress 100 allow all all {cidr}"),
        "egress 110 allow tcp 443 0.0.0.0/0".to_string(),
        "egress 200 deny all all 0.0.0.0/0".to_string(),
        format!("ingress 100 allow all all {cidr}"),
        "ingress 110 allow tcp 1024-3388 0.0.0.0/0".to_string(),
        "ingress 120 allow tcp 3390-65535 0.0.0.0/0".to_string(),
        "ingress 200 deny all all 0.0.0.0/0".to_string(),
    ];
    v.sort();
    v
}

/// One NACL entry from its text (see [`nacl_entries`]); the HIPAA gate reads it too.
pub(crate) struct Entry {
    pub egress: bool,
    pub number: i32,
    pub allow: bool,
    /// The EC2 protocol number (`-1`: all).
    pub protocol: String,
    /// `None`: every port.
    pub ports: Option<(i32, i32)>,
    pub cidr: String,
}

pub(crate) fn parse_entry(s: &str) -> Option<Entry> {
    let p: Vec<&str> = s.split(' ').collect();
    let [dir, n, action, proto, ports, cidr] = p[..] else {
        return None;
    };
    let ports = match ports.split_once('-') {
        _ if ports == "all" => None,
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => Some((ports.parse().ok()?, ports.parse().ok()?)),
    };
    Some(Entry {
        egress: dir == "egress",
        number: n.parse().ok()?,
        allow: action == "allow",
        protocol: match proto {
            "all" => "-1".into(),
            "tcp" => "6".into(),
            "udp" => "17".into(),
            "icmp" => "1".into(),
            p => p.into(),
        },
        ports,
        cidr: cidr.into(),
    })
}

fn protocol_name(p: &str) -> &str {
    match p {
        "-1" => "all",
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        p => p,
    }
}

/// What [`read_parts`] found; the converge steps keep it up to date with what they write, so
/// that one read (none for a VPC just made) serves every step.
#[derive(Default, Clone)]
pub struct Parts {
    pub subnets: BTreeMap<String, SubnetState>,
    pub subnet_ids: BTreeMap<String, String>,
    pub route_table_ids: BTreeMap<String, String>,
    /// The private NACL's id ("" when missing) and entries.
    pub nacl_id: String,
    /// The VPC's default NACL (where a subnet goes back to before the private one is deleted).
    pub default_nacl_id: String,
    pub nacl: Vec<String>,
    /// The default NACL's entries (its fixed `*` entries left out), sorted.
    pub default_nacl: Vec<String>,
    /// Per subnet id: its NACL association id.
    pub nacl_assoc: BTreeMap<String, String>,
    pub default_sg: Rules,
    pub default_sg_id: String,
    /// Route tables by id (all of the VPC's).
    pub tables: Vec<RouteTable>,
}

/// A NACL's entries as text (see [`nacl_entries`]), AWS's fixed `*` entries (32767) left out,
/// sorted.
fn entries_of(a: &aws_sdk_ec2::types::NetworkAcl) -> Vec<String> {
    let mut v: Vec<String> = a
        .entries()
        .iter()
        .filter(|e| e.rule_number() != Some(32767))
        .map(|e| {
            let ports = match e.port_range() {
                Some(r) if r.from() == r.to() => format!("{}", r.from().unwrap_or(0)),
                Some(r) => format!("{}-{}", r.from().unwrap_or(0), r.to().unwrap_or(0)),
                None => "all".into(),
            };
            format!(
                "{} {} {} {} {} {}",
                if e.egress().unwrap_or(false) {
                    "egress"
                } else {
                    "ingress"
                },
                e.rule_number().unwrap_or(0),
                e.rule_action().map(|a| a.as_str()).unwrap_or("?"),
                protocol_name(e.protocol().unwrap_or("-1")),
                ports,
                e.cidr_block().or(e.ipv6_cidr_block()).unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}

fn part_of(tags: &[aws_sdk_ec2::types::Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(TAG_PART))
        .and_then(|t| t.value())
        .map(str::to_string)
}

/// The VPC's DNS settings (support, hostnames): two reads at once. Only the network's full
/// read needs them; the converge steps, which read the layout again after their writes, do not.
pub async fn read_dns(cx: &Ctx<'_>, region: &str, vpc_id: &str) -> Result<(bool, bool), AwsError> {
    use aws_sdk_ec2::types::VpcAttributeName;
    let ec2 = &cx.clients(region).ec2;
    let attr = |a: VpcAttributeName| async move {
        ec2.describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(a)
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DescribeVpcAttribute"))
    };
    let (support, hostnames) = tokio::join!(
        attr(VpcAttributeName::EnableDnsSupport),
        attr(VpcAttributeName::EnableDnsHostnames),
    );
    let dns_support = support?
        .enable_dns_support()
        .and_then(|v| v.value())
        .unwrap_or(false);
    let dns_hostnames = hostnames?
        .enable_dns_hostnames()
        .and_then(|v| v.value())
        .unwrap_or(false);
    Ok((dns_support, dns_hostnames))
}

/// Reads the VPC's subnets, route tables, NACLs and default group (one round trip: the reads
/// run at once). The DNS settings are [`read_dns`]'s.
pub async fn read_parts(cx: &Ctx<'_>, region: &str, vpc_id: &str) -> Result<Parts, AwsError> {
    read_parts_as(cx, region, vpc_id, &Claims::new()).await
}

/// [`read_parts`] of a VPC whose untagged pieces `claims` names (see `adopt.rs`): a piece's
/// part is its [`TAG_PART`] tag, else its claim.
pub async fn read_parts_as(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    claims: &Claims,
) -> Result<Parts, AwsError> {
    let part_of = |tags: &[aws_sdk_ec2::types::Tag], id: Option<&str>| {
        part_of(tags).or_else(|| id.and_then(|i| claims.get(i).cloned()))
    };
    let ec2 = &cx.clients(region).ec2;
    let in_vpc = || filter("vpc-id", vpc_id);
    let (subnets, tables, acls, sgs) = tokio::join!(
        async {
            ec2.describe_subnets()
                .filters(in_vpc())
                .send()
                .await
                .map_err(AwsError::from_sdk("ec2:DescribeSubnets"))
        },
        async {
            ec2.describe_route_tables()
                .filters(in_vpc())
                .send()
                .await
                .map_err(AwsError::from_sdk("ec2:DescribeRouteTables"))
        },
        vpc_acls(ec2, vpc_id),
        default_group(ec2, vpc_id),
    );
    let tables = tables?.route_tables().to_vec();
    let acls = acls_of(&acls?, &part_of);
    let mut out_subnets = BTreeMap::new();
    let mut subnet_ids = BTreeMap::new();
    let mut route_table_ids = BTreeMap::new();
    for t in &tables {
        if let Some(s) = part_of(t.tags(), t.route_table_id())
            .and_then(|p| p.strip_prefix("route-table:").map(String::from))
        {
            route_table_ids.insert(s, t.route_table_id().unwrap_or_default().to_string());
        }
    }
    for s in subnets?.subnets() {
        let Some(name) = part_of(s.tags(), s.subnet_id())
            .and_then(|p| p.strip_prefix("subnet:").map(String::from))
        else {
            continue;
        };
        let id = s.subnet_id().unwrap_or_default().to_string();
        let explicit = tables.iter().find(|t| {
            t.associations()
                .iter()
                .any(|a| a.subnet_id() == Some(id.as_str()))
        });
        let table = explicit.or_else(|| {
            tables
                .iter()
                .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
        });
        let route_table = match explicit {
            Some(t)
                if part_of(t.tags(), t.route_table_id()).as_deref()
                    == Some(&format!("route-table:{name}")) =>
            {
                "own".to_string()
            }
            Some(t) => t.route_table_id().unwrap_or_default().to_string(),
            None => "main".to_string(),
        };
        let routes = table.map(routes_of).unwrap_or_default();
        let network_acl = acls.of_subnet(&id);
        out_subnets.insert(
            name.clone(),
            SubnetState {
                cidr: s.cidr_block().unwrap_or_default().into(),
                az: s.availability_zone().unwrap_or_default().into(),
                map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
                routes,
                route_table,
                network_acl,
            },
        );
        subnet_ids.insert(name, id);
    }
    let (default_sg, default_sg_id) = default_sg_of(&sgs?);
    Ok(Parts {
        subnets: out_subnets,
        subnet_ids,
        route_table_ids,
        nacl_id: acls.nacl_id,
        default_nacl_id: acls.default_nacl_id,
        nacl: acls.nacl,
        default_nacl: acls.default_nacl,
        nacl_assoc: acls.nacl_assoc,
        default_sg,
        default_sg_id,
        tables,
    })
}

/// The default group's rules and id, from a DescribeSecurityGroups of it.
fn default_sg_of(groups: &[aws_sdk_ec2::types::SecurityGroup]) -> (Rules, String) {
    let default = groups.first();
    let none = BTreeMap::new();
    let rules = default
        .map(|g| Rules {
            ingress: rules_of(g.ip_permissions(), &none),
            egress: rules_of(g.ip_permissions_egress(), &none),
        })
        .unwrap_or_default();
    let id = default
        .and_then(|g| g.group_id())
        .unwrap_or_default()
        .to_string();
    (rules, id)
}

/// A piece's part (its [`TAG_PART`] tag, or its claim), from its tags and id.
type PartOf<'a> = dyn Fn(&[aws_sdk_ec2::types::Tag], Option<&str>) -> Option<String> + 'a;

/// The VPC's NACLs as the network sees them.
struct Acls {
    nacl_id: String,
    nacl: Vec<String>,
    default_nacl_id: String,
    default_nacl: Vec<String>,
    /// Per subnet id: its NACL's id and its association id.
    subnet_nacl: BTreeMap<String, String>,
    nacl_assoc: BTreeMap<String, String>,
}

impl Acls {
    /// A subnet's NACL as [`SubnetState::network_acl`] says it.
    fn of_subnet(&self, id: &str) -> String {
        match self.subnet_nacl.get(id) {
            Some(a) if *a == self.nacl_id && !self.nacl_id.is_empty() => "private".to_string(),
            Some(a) => a.clone(),
            None => String::new(),
        }
    }
}

fn acls_of(acls: &[aws_sdk_ec2::types::NetworkAcl], part_of: &PartOf) -> Acls {
    let private = acls
        .iter()
        .find(|a| part_of(a.tags(), a.network_acl_id()).as_deref() == Some("nacl"));
    let mut nacl: Vec<String> = private.map(entries_of).unwrap_or_default();
    nacl.sort();
    let nacl_id = private
        .and_then(|a| a.network_acl_id())
        .unwrap_or_default()
        .to_string();
    let default_nacl = acls.iter().find(|a| a.is_default() == Some(true));
    let default_nacl_id = default_nacl
        .and_then(|a| a.network_acl_id())
        .unwrap_or_default()
        .to_string();
    let default_nacl = default_nacl.map(entries_of).unwrap_or_default();
    let mut subnet_nacl = BTreeMap::new();
    let mut nacl_assoc = BTreeMap::new();
    for a in acls {
        for s in a.associations() {
            let sid = s.subnet_id().unwrap_or_default().to_string();
            subnet_nacl.insert(
                sid.clone(),
                a.network_acl_id().unwrap_or_default().to_string(),
            );
            nacl_assoc.insert(
                sid,
                s.network_acl_association_id()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    Acls {
        nacl_id,
        nacl,
        default_nacl_id,
        default_nacl,
        subnet_nacl,
        nacl_assoc,
    }
}

/// Reads again what making subnets changed in `live` without saying (each new subnet starts
/// in the default NACL, under an association id only a read tells), and, with `default_sg`,
/// the default security group (a VPC just made: its id and AWS's stock rules): one round trip.
pub async fn refresh_acls(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    live: &mut Parts,
    default_sg: bool,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let (acls, sgs) = tokio::join!(vpc_acls(ec2, vpc_id), async {
        if default_sg {
            default_group(ec2, vpc_id).await.map(Some)
        } else {
            Ok(None)
        }
    });
    let acls = acls_of(&acls?, &|tags, _| part_of(tags));
    for (name, id) in &live.subnet_ids {
        if let Some(s) = live.subnets.get_mut(name) {
            s.network_acl = acls.of_subnet(id);
        }
    }
    live.nacl_id = acls.nacl_id;
    live.nacl = acls.nacl;
    live.default_nacl_id = acls.default_nacl_id;
    live.default_nacl = acls.default_nacl;
    live.nacl_assoc = acls.nacl_assoc;
    if let Some(sgs) = sgs? {
        (live.default_sg, live.default_sg_id) = default_sg_of(&sgs);
    }
    Ok(())
}

/// The VPC's NACLs (DescribeNetworkAcls).
async fn vpc_acls(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
) -> Result<Vec<aws_sdk_ec2::types::NetworkAcl>, AwsError> {
    let out = ec2
        .describe_network_acls()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeNetworkAcls"))?;
    Ok(out.network_acls().to_vec())
}

/// The VPC's default security group, as a list of at most one (DescribeSecurityGroups).
async fn default_group(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, AwsError> {
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    Ok(out.security_groups().to_vec())
}

/// The routes of a table other than the local one and gateway endpoints' (`vpce-`, prefix
/// lists), as `<destination> -> <target>`.
fn routes_of(t: &RouteTable) -> Vec<String> {
    let mut v: Vec<String> = t
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .filter(|r| r.destination_prefix_list_id().is_none())
        .filter(|r| !r.gateway_id().is_some_and(|g| g.starts_with("vpce-")))
        .map(|r| {
            let dest = r
                .destination_cidr_block()
                .or(r.destination_ipv6_cidr_block())
                .unwrap_or_default();
            let target = r
                .gateway_id()
                .or(r.nat_gateway_id())
                .or(r.transit_gateway_id())
                .or(r.vpc_peering_connection_id())
                .or(r.network_interface_id())
                .or(r.instance_id())
                .unwrap_or("?");
            format!("{dest} -> {target}")
        })
        .collect();
    v.sort();
    v
}

/// Makes the private subnets and their route tables match `d` (missing ones created, a subnet
/// whose CIDR or AZ changed made again, extra routes deleted, associations fixed, subnets that
/// left the spec deleted). `live` is the VPC's layout, kept up to date with what this makes;
/// returns whether it made a subnet (whose NACL association only a read tells, see
/// [`refresh_acls`]).
pub async fn converge_subnets(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
    live: &mut Parts,
) -> Result<bool, AwsError> {
    // Subnets that left the spec, or must be made again.
    let mut deleted = false;
    for (name, id) in &live.subnet_ids {
        let keep = d.subnets.get(name).is_some_and(|w| {
            let l = &live.subnets[name];
            l.cidr == w.cidr && l.az == w.az
        });
        if !keep {
            delete_subnet(cx, region, &d.tags[TAG_ADDRESS], id).await?;
            if let Some(rt) = live.route_table_ids.get(name) {
                delete_route_table(cx, region, live, rt).await?;
            }
            deleted = true;
        }
    }
    // Read again only what the deletes changed (from empty nothing was).
    if deleted {
        *live = read_parts(cx, region, vpc_id).await?;
    }
    // Every subnet at once: each one's creates and association are its own.
    let view: &Parts = live;
    let made = all_settled(
        d.subnets
            .iter()
            .map(|(name, w)| converge_subnet(cx, region, vpc_id, d, names, view, name, w)),
    )
    .await?;
    let mut new_subnet = false;
    for (name, sid, rt, state) in made {
        new_subnet |= live.subnet_ids.get(&name) != Some(&sid);
        live.subnet_ids.insert(name.clone(), sid);
        live.route_table_ids.insert(name.clone(), rt);
        live.subnets.insert(name, state);
    }
    Ok(new_subnet)
}

/// One private subnet of [`converge_subnets`]: made when missing (with its route table, at
/// the same time), public IPs off, associated with its own table, extra routes deleted.
/// Returns its name, subnet id, route table id and state.
#[allow(clippy::too_many_arguments)]
async fn converge_subnet(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
    live: &Parts,
    name: &str,
    w: &SubnetState,
) -> Result<(String, String, String, SubnetState), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let subnet = async {
        // Public IPs on launch, as far as known (a subnet just made says it in the answer).
        if let Some(id) = live.subnet_ids.get(name) {
            let public = live.subnets.get(name).map(|l| l.map_public_ip_on_launch);
            return Ok((id.clone(), public));
        }
        let out = ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(&w.cidr)
            .availability_zone(&w.az)
            .tag_specifications(tag_spec(
                ResourceType::Subnet,
                &part_tags(
                    &d.tags,
                    &format!("{}-{name}", names.base),
                    &format!("subnet:{name}"),
                ),
            ))
            .send()
            .await;
        match out {
            Ok(o) => Ok((
                o.subnet()
                    .and_then(|s| s.subnet_id())
                    .unwrap_or_default()
                    .to_string(),
                o.subnet().and_then(|s| s.map_public_ip_on_launch()),
            )),
            // A resent create whose first answer was lost: the CIDR is taken by the subnet
            // that attempt made (tagged as this one).
            Err(e) if code_of(&e) == "InvalidSubnet.Conflict" => {
                match own_subnet(cx, region, vpc_id, &w.cidr, name).await? {
                    Some(id) => Ok((id, None)),
                    None => Err(AwsError::from_err("ec2:CreateSubnet", e)),
                }
            }
            Err(e) => Err(AwsError::from_err("ec2:CreateSubnet", e)),
        }
    };
    let table = async {
        if let Some(id) = live.route_table_ids.get(name) {
            return Ok(id.clone());
        }
        let out = ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .client_token(client_token())
            .tag_specifications(tag_spec(
                ResourceType::RouteTable,
                &part_tags(
                    &d.tags,
                    &format!("{}-{name}", names.base),
                    &format!("route-table:{name}"),
                ),
            ))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:CreateRouteTable"))?;
        Ok::<_, AwsError>(
            out.route_table()
                .and_then(|t| t.route_table_id())
                .unwrap_or_default()
                .to_string(),
        )
    };
    let (subnet, rt) = tokio::join!(subnet, table);
    let ((sid, public), rt) = (subnet?, rt?);
    if public != Some(false) {
        ec2.modify_subnet_attribute()
            .subnet_id(&sid)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:ModifySubnetAttribute"))?;
    }
    // Its association: with its own table.
    let current = live.tables.iter().find_map(|t| {
        t.associations()
            .iter()
            .find(|a| a.subnet_id() == Some(sid.as_str()))
            .map(|a| {
                (
                    t.route_table_id().unwrap_or_default().to_string(),
                    a.route_table_association_id()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
    });
    match current {
        Some((t, _)) if t == rt => {}
        Some((_, assoc)) => {
            ec2.replace_route_table_association()
                .association_id(assoc)
                .route_table_id(&rt)
                .send()
                .await
                .map_or_else(
                    // Resent: the first attempt replaced the association id.
                    |e| tolerate(e, "ec2:ReplaceRouteTableAssociation", ASSOC_GONE),
                    |_| Ok(()),
                )?;
        }
        None => {
            ec2.associate_route_table()
                .subnet_id(&sid)
                .route_table_id(&rt)
                .send()
                .await
                .map_or_else(
                    |e| tolerate(e, "ec2:AssociateRouteTable", "Resource.AlreadyAssociated"),
                    |_| Ok(()),
                )?;
        }
    }
    // Routes nobody asked for (an internet gateway's, added by hand).
    if let Some(t) = live
        .tables
        .iter()
        .find(|t| t.route_table_id() == Some(rt.as_str()))
    {
        for r in t.routes() {
            let extra = r.gateway_id() != Some("local")
                && r.destination_prefix_list_id().is_none()
                && !r.gateway_id().is_some_and(|g| g.starts_with("vpce-"));
            if !extra {
                continue;
            }
            let mut req = ec2.delete_route().route_table_id(&rt);
            if let Some(c) = r.destination_cidr_block() {
                req = req.destination_cidr_block(c);
            } else if let Some(c) = r.destination_ipv6_cidr_block() {
                req = req.destination_ipv6_cidr_block(c);
            }
            req.send().await.map_or_else(
                |e| tolerate(e, "ec2:DeleteRoute", "InvalidRoute.NotFound"),
                |_| Ok(()),
            )?;
        }
    }
    let network_acl = live
        .subnets
        .get(name)
        .map(|l| l.network_acl.clone())
        .unwrap_or_default();
    Ok((
        name.to_string(),
        sid,
        rt,
        SubnetState {
            cidr: w.cidr.clone(),
            az: w.az.clone(),
            map_public_ip_on_launch: false,
            routes: Vec::new(),
            route_table: "own".into(),
            network_acl,
        },
    ))
}

/// Makes the private NACL hold exactly the wanted entries and be the private subnets' NACL.
/// `live` is the VPC's layout (its NACL side current, see [`refresh_acls`]), kept up to date.
pub async fn converge_nacl(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
    live: &mut Parts,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let nacl_id = if live.nacl_id.is_empty() {
        let out = ec2
            .create_network_acl()
            .vpc_id(vpc_id)
            .client_token(client_token())
            .tag_specifications(tag_spec(
                ResourceType::NetworkAcl,
                &part_tags(&d.tags, &format!("{}-private", names.base), "nacl"),
            ))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:CreateNetworkAcl"))?;
        out.network_acl()
            .and_then(|a| a.network_acl_id())
            .unwrap_or_default()
            .to_string()
    } else {
        live.nacl_id.clone()
    };
    let want: Vec<Entry> = d
        .network_acl
        .iter()
        .filter_map(|s| parse_entry(s))
        .collect();
    let have: Vec<Entry> = live.nacl.iter().filter_map(|s| parse_entry(s)).collect();
    for h in &have {
        if !want
            .iter()
            .any(|w| w.egress == h.egress && w.number == h.number)
        {
            delete_entry(ec2, &nacl_id, h).await?;
        }
    }
    // The entries at once: each has its own rule number.
    let writes = d
        .network_acl
        .iter()
        .zip(&want)
        .filter(|(text, _)| !live.nacl.contains(text))
        .map(|(_, w)| {
            let exists = have
                .iter()
                .any(|h| h.egress == w.egress && h.number == w.number);
            write_entry(ec2, &nacl_id, w, exists)
        });
    all_settled(writes).await?;
    let mut entries = d.network_acl.clone();
    entries.sort();
    live.nacl = entries;
    live.nacl_id = nacl_id.clone();
    // The associations as read: writing entries does not move them. All at once.
    let moves =
        live.subnet_ids
            .iter()
            .filter(|(name, _)| {
                live.subnets.get(*name).map(|s| s.network_acl.as_str()) != Some("private")
            })
            .filter_map(|(name, id)| Some((name, id, live.nacl_assoc.get(id)?)))
            .map(|(name, id, assoc)| {
                let nacl_id = &nacl_id;
                async move {
                    let new_assoc = match ec2
                        .replace_network_acl_association()
                        .association_id(assoc)
                        .network_acl_id(nacl_id)
                        .send()
                        .await
                    {
                        Ok(o) => o.new_association_id().map(String::from),
                        Err(e) => tolerate(e, "ec2:ReplaceNetworkAclAssociation", ASSOC_GONE)
                            .map(|_| None)?,
                    };
                    Ok::<_, AwsError>((name.clone(), id.clone(), new_assoc))
                }
            });
    let moved = all_settled(moves).await?;
    for (name, id, new_assoc) in moved {
        if let Some(s) = live.subnets.get_mut(&name) {
            s.network_acl = "private".into();
        }
        match new_assoc {
            Some(a) => live.nacl_assoc.insert(id, a),
            // Resent: the new id is unknown until the next read.
            None => live.nacl_assoc.remove(&id),
        };
    }
    Ok(())
}

/// Deletes one NACL entry; one already gone (a resent delete) is done.
async fn delete_entry(ec2: &aws_sdk_ec2::Client, nacl_id: &str, e: &Entry) -> Result<(), AwsError> {
    ec2.delete_network_acl_entry()
        .network_acl_id(nacl_id)
        .egress(e.egress)
        .rule_number(e.number)
        .send()
        .await
        .map_or_else(
            |err| tolerate(err, "ec2:DeleteNetworkAclEntry", ENTRY_GONE),
            |_| Ok(()),
        )
}

/// Writes one wanted NACL entry: created, or replaced when its number is taken (`exists`, or
/// a resent create whose first answer was lost).
async fn write_entry(
    ec2: &aws_sdk_ec2::Client,
    nacl_id: &str,
    w: &Entry,
    exists: bool,
) -> Result<(), AwsError> {
    let action = if w.allow {
        RuleAction::Allow
    } else {
        RuleAction::Deny
    };
    let range = w
        .ports
        .map(|(a, b)| PortRange::builder().from(a).to(b).build());
    if !exists {
        let created = ec2
            .create_network_acl_entry()
            .network_acl_id(nacl_id)
            .egress(w.egress)
            .rule_number(w.number)
            .rule_action(action.clone())
            .protocol(&w.protocol)
            .cidr_block(&w.cidr)
            .set_port_range(range.clone())
            .send()
            .await;
        match created.map_err(AwsError::from_sdk("ec2:CreateNetworkAclEntry")) {
            Ok(_) => return Ok(()),
            // The SDK resent a create whose first answer was lost (or the entry appeared
            // meanwhile): the number is taken, so set it to what the spec wants.
            Err(e) if e.code == "NetworkAclEntryAlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    ec2.replace_network_acl_entry()
        .network_acl_id(nacl_id)
        .egress(w.egress)
        .rule_number(w.number)
        .rule_action(action)
        .protocol(&w.protocol)
        .cidr_block(&w.cidr)
        .set_port_range(range)
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:ReplaceNetworkAclEntry"))?;
    Ok(())
}

/// Deletes every entry of the VPC's default NACL but AWS's fixed `*` denies: no subnet of
/// the network uses it, and its stock allow-all entries (rule 100, in and out) are what
/// scanners flag (Prowler's `ec2_networkacl_allow_ingress_*`, CIS AWS Foundations 5.1).
/// `live` is the VPC's layout read after the steps that make subnets and NACLs.
pub async fn strip_default_nacl(cx: &Ctx<'_>, region: &str, live: &Parts) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    if live.default_nacl_id.is_empty() {
        return Ok(());
    }
    let deletes = live
        .default_nacl
        .iter()
        .filter_map(|s| parse_entry(s))
        .map(|e| async move { delete_entry(ec2, &live.default_nacl_id, &e).await });
    all_settled(deletes).await?;
    Ok(())
}

/// Revokes every rule of the VPC's default security group (as `live`, the VPC's layout, has it).
pub async fn strip_default_sg(cx: &Ctx<'_>, region: &str, live: &Parts) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    if live.default_sg_id.is_empty() {
        return Ok(());
    }
    // The default group's own id, for rules that name it.
    let ids = BTreeMap::from([(live.default_sg_id.clone(), live.default_sg_id.clone())]);
    let none: &[crate::resources::kit::ec2::Rule] = &[];
    let ingress = live.default_sg.ingress.clone();
    let egress = live.default_sg.egress.clone();
    sync_rules(
        ec2,
        &live.default_sg_id,
        Direction::Ingress,
        &ingress,
        none,
        &ids,
    )
    .await?;
    sync_rules(
        ec2,
        &live.default_sg_id,
        Direction::Egress,
        &egress,
        none,
        &ids,
    )
    .await
}

async fn delete_subnet(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    id: &str,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    delete_when_free(
        ec2,
        address,
        id,
        "ec2:DeleteSubnet",
        ("subnet-id", id),
        cx.progress,
        || async {
            ec2.delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map(drop)
                .map_err(AwsError::from_sdk("ec2:DeleteSubnet"))
        },
    )
    .await
}

/// Deletes a route table of ours after its subnet associations (read in `live`).
async fn delete_route_table(
    cx: &Ctx<'_>,
    region: &str,
    live: &Parts,
    id: &str,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let assocs = live
        .tables
        .iter()
        .filter(|t| t.route_table_id() == Some(id))
        .flat_map(|t| t.associations())
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| a.route_table_association_id());
    for a in assocs {
        match ec2
            .disassociate_route_table()
            .association_id(a)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_of(&e).ends_with("NotFound") => {}
            Err(e) => return Err(AwsError::from_err("ec2:DisassociateRouteTable", e)),
        }
    }
    match ec2.delete_route_table().route_table_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e).ends_with("NotFound") => Ok(()),
        Err(e) => Err(AwsError::from_err("ec2:DeleteRouteTable", e)),
    }
}

/// Deletes the subnets, route tables and NACL of the network, then the VPC (each delete an ENI
/// still holds is waited for, see [`delete_when_free`]).
pub async fn delete(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    vpc_id: &str,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let live = read_parts(cx, region, vpc_id).await?;
    for id in live.route_table_ids.values() {
        delete_route_table(cx, region, &live, id).await?;
    }
    // The subnets go back to the default NACL, so that the private one is free.
    for (name, id) in &live.subnet_ids {
        let assoc = live.nacl_assoc.get(id);
        if live.subnets[name].network_acl == "private" && !live.default_nacl_id.is_empty() {
            if let Some(a) = assoc {
                ec2.replace_network_acl_association()
                    .association_id(a)
                    .network_acl_id(&live.default_nacl_id)
                    .send()
                    .await
                    .map_or_else(
                        |e| tolerate(e, "ec2:ReplaceNetworkAclAssociation", ASSOC_GONE),
                        |_| Ok(()),
                    )?;
            }
        }
        delete_subnet(cx, region, address, id).await?;
    }
    if !live.nacl_id.is_empty() {
        match ec2
            .delete_network_acl()
            .network_acl_id(&live.nacl_id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_of(&e).ends_with("NotFound") => {}
            Err(e) => return Err(AwsError::from_err("ec2:DeleteNetworkAcl", e)),
        }
    }
    delete_when_free(
        ec2,
        address,
        vpc_id,
        "ec2:DeleteVpc",
        ("vpc-id", vpc_id),
        cx.progress,
        || async {
            ec2.delete_vpc()
                .vpc_id(vpc_id)
                .send()
                .await
                .map(drop)
                .map_err(AwsError::from_sdk("ec2:DeleteVpc"))
        },
    )
    .await
}
