//! What the EC2 kinds (`network`, `security_group`) share: tags in EC2's shape (set at create
//! through `TagSpecifications`, synchronised with CreateTags/DeleteTags), security-group rules
//! as a set, and deletes that an ENI (SageMaker's) still holds, waited for with the kit's
//! [`Waiter`] and the ENIs named when they stay.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_sdk_ec2::Client;
use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kit::tags::Tags;
use crate::resources::kit::wait::{Probe, Wait, Waiter};
use crate::resources::Ctx;

/// The EC2 calls of this module, on resources of any EC2 type the kinds make.
pub const EC2_SHARED: &[Perm] = &[
    perm(
        "ec2:CreateTags",
        &["ec2:CreateTags"],
        &["arn:aws:ec2:{region}:{account}:*/*"],
    ),
    perm(
        "ec2:DeleteTags",
        &["ec2:DeleteTags"],
        &["arn:aws:ec2:{region}:{account}:*/*"],
    ),
    perm(
        "ec2:DescribeNetworkInterfaces",
        &["ec2:DescribeNetworkInterfaces"],
        &["*"],
    ),
    perm(
        "ec2:DescribeSecurityGroups",
        &["ec2:DescribeSecurityGroups"],
        &["*"],
    ),
    perm(
        "ec2:AuthorizeSecurityGroupIngress",
        &["ec2:AuthorizeSecurityGroupIngress"],
        &[SG],
    ),
    perm(
        "ec2:AuthorizeSecurityGroupEgress",
        &["ec2:AuthorizeSecurityGroupEgress"],
        &[SG],
    ),
    perm(
        "ec2:RevokeSecurityGroupIngress",
        &["ec2:RevokeSecurityGroupIngress"],
        &[SG],
    ),
    perm(
        "ec2:RevokeSecurityGroupEgress",
        &["ec2:RevokeSecurityGroupEgress"],
        &[SG],
    ),
];
const SG: &str = "arn:aws:ec2:{region}:{account}:security-group/*";

/// `Filter` of one name and value.
pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// A fresh idempotency token for an EC2 create that takes one (`ClientToken`): the SDK resends
/// a request whose answer was lost with the same token, and EC2 answers with the resource the
/// first attempt made instead of making a second.
pub fn client_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Tags in EC2's shape.
pub fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of a resource of `kind` as a `TagSpecification` (tagged as it is made).
pub fn tag_spec(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// EC2's tag list as a map.
pub fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Brings the tags of `id` from `live` to `want`; each call only when it has work.
pub async fn sync_tags(ec2: &Client, id: &str, live: &Tags, want: &Tags) -> Result<(), AwsError> {
    let add: Tags = want
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !add.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(&add)))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:CreateTags"))?;
    }
    let gone: Vec<Tag> = live
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(|k| Tag::builder().key(k).build())
        .collect();
    if !gone.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(gone))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DeleteTags"))?;
    }
    Ok(())
}

/// The AWS error code of an SDK error (EC2 has no typed errors: its codes are the contract,
/// `InvalidVpcID.NotFound`, `DependencyViolation`).
pub fn code_of<E: aws_sdk_ec2::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_ec2::error::SdkError<E, R>,
) -> &str {
    e.as_service_error().and_then(|se| se.code()).unwrap_or("")
}

/// One security-group rule: protocol (`tcp`, `udp`, `icmp`, `all`), ports (`443`, `8000-8080`,
/// or `all`) and the peer: a CIDR, `sg:<group name>` (another group, by its name in the
/// VPC, so that a rule can be planned before the group exists) or `pl:<prefix list id>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rule {
    pub protocol: String,
    pub ports: String,
    pub peer: String,
}

impl Rule {
    /// The rule AWS gives every new security group: all traffic out to anywhere (IPv4; the
    /// VPCs novactl makes have no IPv6 block).
    pub fn aws_default_egress() -> Rule {
        Rule::new("-1", -1, -1, "0.0.0.0/0".into())
    }

    pub fn new(protocol: &str, from: i32, to: i32, peer: String) -> Rule {
        let protocol = match protocol {
            "-1" | "all" => "all",
            p => p,
        }
        .to_string();
        let ports = if protocol == "all" || (from == -1 && to == -1) || (from == 0 && to == 65535) {
            "all".to_string()
        } else if from == to {
            from.to_string()
        } else {
            format!("{from}-{to}")
        };
        Rule {
            protocol,
            ports,
            peer,
        }
    }

    fn port_range(&self) -> (i32, i32) {
        if self.ports == "all" {
            return if self.protocol == "all" || self.protocol == "icmp" {
                (-1, -1)
            } else {
                (0, 65535)
            };
        }
        match self.ports.split_once('-') {
            Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
            None => {
                let p = self.ports.parse().unwrap_or(0);
                (p, p)
            }
        }
    }

    /// The rule as EC2 takes it; `ids` maps peer group names to their ids.
    fn permission(&self, ids: &BTreeMap<String, String>) -> Result<IpPermission, String> {
        let (from, to) = self.port_range();
        let mut p = IpPermission::builder()
            .ip_protocol(if self.protocol == "all" {
                "-1"
            } else {
                &self.protocol
            })
            .from_port(from)
            .to_port(to);
        if let Some(name) = self.peer.strip_prefix("sg:") {
            let id = ids
                .get(name)
                .ok_or_else(|| format!("security group `{name}` does not exist in the VPC"))?;
            p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build());
        } else if let Some(list) = self.peer.strip_prefix("pl:") {
            p = p.prefix_list_ids(PrefixListId::builder().prefix_list_id(list).build());
        } else if self.peer.contains(':') {
            p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&self.peer).build());
        } else {
            p = p.ip_ranges(IpRange::builder().cidr_ip(&self.peer).build());
        }
        Ok(p.build())
    }
}

/// The rules of EC2 permissions, one per peer, sorted; group peers by name through `names`
/// (an id not in it stays as `sg:<id>`).
pub fn rules_of(perms: &[IpPermission], names: &BTreeMap<String, String>) -> Vec<Rule> {
    let mut out = Vec::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1");
        let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
        for r in p.ip_ranges() {
            out.push(Rule::new(
                proto,
                from,
                to,
                r.cidr_ip().unwrap_or_default().into(),
            ));
        }
        for r in p.ipv6_ranges() {
            out.push(Rule::new(
                proto,
                from,
                to,
                r.cidr_ipv6().unwrap_or_default().into(),
            ));
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap_or_default();
            let name = names.get(id).map(String::as_str).unwrap_or(id);
            out.push(Rule::new(proto, from, to, format!("sg:{name}")));
        }
        for l in p.prefix_list_ids() {
            out.push(Rule::new(
                proto,
                from,
                to,
                format!("pl:{}", l.prefix_list_id().unwrap_or_default()),
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `Ok` when the error is `code` (a rule already revoked or authorised, by a peer's delete or a
/// resent call), else the error.
pub fn tolerate<E, R>(
    e: aws_sdk_ec2::error::SdkError<E, R>,
    operation: &str,
    code: &str,
) -> Result<(), AwsError>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if code_of(&e) == code {
        Ok(())
    } else {
        Err(AwsError::from_err(operation, e))
    }
}

/// Which side of a group a rule set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// Makes the `dir` rules of group `id` go from `live` to `want`: revokes what is too much,
/// authorises what is missing, nothing else (the rules are a set).
pub async fn sync_rules(
    ec2: &Client,
    id: &str,
    dir: Direction,
    live: &[Rule],
    want: &[Rule],
    ids: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let local = |op: &str, m: String| AwsError::local(op, "InvalidGroup.NotFound", m);
    let revoke: Vec<IpPermission> = live
        .iter()
        .filter(|r| !want.contains(r))
        .filter_map(|r| r.permission(ids).ok())
        .collect();
    let mut add = Vec::new();
    for r in want.iter().filter(|r| !live.contains(r)) {
        let op = match dir {
            Direction::Ingress => "ec2:AuthorizeSecurityGroupIngress",
            Direction::Egress => "ec2:AuthorizeSecurityGroupEgress",
        };
        add.push(r.permission(ids).map_err(|m| local(op, m))?);
    }
    if !revoke.is_empty() {
        match dir {
            Direction::Ingress => ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(revoke))
                .send()
                .await
                .map_or_else(
                    |e| {
                        tolerate(
                            e,
                            "ec2:RevokeSecurityGroupIngress",
                            "InvalidPermission.NotFound",
                        )
                    },
                    |_| Ok(()),
                )?,
            Direction::Egress => ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(revoke))
                .send()
                .await
                .map_or_else(
                    |e| {
                        tolerate(
                            e,
                            "ec2:RevokeSecurityGroupEgress",
                            "InvalidPermission.NotFound",
                        )
                    },
                    |_| Ok(()),
                )?,
        }
    }
    if !add.is_empty() {
        match dir {
            Direction::Ingress => ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .map_or_else(
                    |e| {
                        tolerate(
                            e,
                            "ec2:AuthorizeSecurityGroupIngress",
                            "InvalidPermission.Duplicate",
                        )
                    },
                    |_| Ok(()),
                )?,
            Direction::Egress => ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .map_or_else(
                    |e| {
                        tolerate(
                            e,
                            "ec2:AuthorizeSecurityGroupEgress",
                            "InvalidPermission.Duplicate",
                        )
                    },
                    |_| Ok(()),
                )?,
        }
    }
    Ok(())
}

/// The ENIs (id and description) that use `filter` (`subnet-id`, `group-id`, `vpc-id`).
pub async fn enis(ec2: &Client, name: &str, value: &str) -> Result<Vec<String>, AwsError> {
    let out = ec2
        .describe_network_interfaces()
        .filters(filter(name, value))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeNetworkInterfaces"))?;
    Ok(out
        .network_interfaces()
        .iter()
        .map(|n| {
            format!(
                "{} ({})",
                n.network_interface_id().unwrap_or_default(),
                n.description().unwrap_or("no description")
            )
        })
        .collect())
}

/// How long a delete waits for the ENIs that hold a subnet, group or VPC (SageMaker releases an
/// endpoint's ENIs some minutes after the endpoint is gone). `NOVACTL_ENI_WAIT_SECONDS`
/// shortens it (tests).
pub fn eni_wait() -> Wait {
    let secs = std::env::var("NOVACTL_ENI_WAIT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20 * 60);
    Wait {
        budget: Duration::from_secs(secs),
        poll: Duration::from_secs(2),
        max_poll: Duration::from_secs(30),
    }
}

/// Runs `delete` until it no longer fails with `DependencyViolation` (an ENI still holds the
/// resource), within [`eni_wait`]; when the wait runs out, the error names the ENIs that
/// `eni_filter` finds. "Not found" is success.
pub async fn delete_when_free<F, Fut>(
    ec2: &Client,
    address: &str,
    id: &str,
    operation: &'static str,
    eni_filter: (&str, &str),
    progress: Option<&(dyn Fn(&str) + Sync)>,
    mut delete: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let wait = eni_wait();
    let on_status = |s: &str, _: Duration| {
        if let Some(p) = progress {
            p(s)
        }
    };
    let goal = format!("release {id} (held by a network interface)");
    let waiter = Waiter {
        operation,
        address,
        name: id,
        goal: &goal,
        wait: &wait,
        on_status: &on_status,
    };
    let done = waiter
        .until(|| {
            let attempt = delete();
            async move {
                match attempt.await {
                    Ok(()) => Ok(Probe::Done(())),
                    Err(e) if e.code.ends_with("NotFound") => Ok(Probe::Done(())),
                    Err(e) if e.code == "DependencyViolation" => {
                        Ok(Probe::Pending(format!("waiting for ENIs to release {id}")))
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await;
    match done {
        Err(mut e) if e.code == "Timeout" => {
            let held = enis(ec2, eni_filter.0, eni_filter.1).await?;
            if !held.is_empty() {
                e.message = format!("{}; still held by {}", e.message, held.join(", "));
            }
            e.code = "DependencyViolation".into();
            Err(e)
        }
        other => other,
    }
}

/// Deletes security group `id` once no ENI holds it (see [`delete_when_free`]).
pub async fn delete_security_group(
    ec2: &Client,
    address: &str,
    id: &str,
    progress: Option<&(dyn Fn(&str) + Sync)>,
) -> Result<(), AwsError> {
    delete_when_free(
        ec2,
        address,
        id,
        "ec2:DeleteSecurityGroup",
        ("group-id", id),
        progress,
        || async {
            ec2.delete_security_group()
                .group_id(id)
                .send()
                .await
                .map(drop)
                .map_err(AwsError::from_sdk("ec2:DeleteSecurityGroup"))
        },
    )
    .await
}

/// The security groups of `vpc`.
pub async fn in_vpc(
    cx: &Ctx<'_>,
    region: &str,
    vpc: &str,
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    Ok(out.security_groups().to_vec())
}

/// A security group to make: its VPC, name, description and tags.
pub struct NewGroup<'a> {
    pub vpc: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub tags: &'a Tags,
}

impl NewGroup<'_> {
    fn request(
        &self,
        ec2: &Client,
    ) -> aws_sdk_ec2::operation::create_security_group::builders::CreateSecurityGroupFluentBuilder
    {
        ec2.create_security_group()
            .group_name(self.name)
            .description(self.description)
            .vpc_id(self.vpc)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, self.tags))
    }
}

/// Creates the group `g` without looking first (a VPC just made holds none); `None` when the
/// create fails, for the caller to find the group instead ([`ensure_group`]: a resent create
/// whose first answer was lost fails as a duplicate).
pub async fn create_group(cx: &Ctx<'_>, region: &str, g: &NewGroup<'_>) -> Option<String> {
    let out = g.request(&cx.clients(region).ec2).send().await.ok()?;
    out.group_id().map(String::from)
}

/// Creates the group `g` unless it exists in its VPC; returns its id.
pub async fn ensure_group(
    cx: &Ctx<'_>,
    region: &str,
    g: &NewGroup<'_>,
) -> Result<String, AwsError> {
    let existing = |groups: Vec<aws_sdk_ec2::types::SecurityGroup>| {
        groups
            .iter()
            .find(|x| x.group_name() == Some(g.name))
            .and_then(|x| x.group_id().map(String::from))
    };
    let vpc = g.vpc;
    if let Some(id) = existing(in_vpc(cx, region, vpc).await?) {
        return Ok(id);
    }
    match g.request(&cx.clients(region).ec2).send().await {
        Ok(o) => Ok(o.group_id().unwrap_or_default().to_string()),
        // Made at the same moment by a peer's create (or a resent call).
        Err(e) => match existing(in_vpc(cx, region, vpc).await?) {
            Some(id) => Ok(id),
            None => Err(AwsError::from_err("ec2:CreateSecurityGroup", e)),
        },
    }
}
