//! The VPC endpoints of a `network.*` and the endpoint security group (see the module above).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{ResourceType, VpcEndpoint, VpcEndpointType};
use futures::FutureExt;
use serde_json::{json, Value};

use super::adopt::Claims;
use super::{part_tags, EndpointState, Names, NetworkState, Rules, TAG_PART};
use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kit::ec2::{
    client_token, create_group, ensure_group, filter, rules_of, sync_rules, tag_spec, Direction,
    NewGroup, Rule,
};
use crate::resources::kit::refs::{account, bucket_arn};
use crate::resources::{Ctx, Decl};
use crate::spec::model::Network;
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

const VPC: &str = "arn:aws:ec2:{region}:{account}:vpc/*";
const ENDPOINT: &str = "arn:aws:ec2:{region}:{account}:vpc-endpoint/*";
const SG: &str = "arn:aws:ec2:{region}:{account}:security-group/*";

/// The calls of this room.
pub const PERMISSIONS: &[Perm] = &[
    perm(
        "ec2:DescribeVpcEndpoints",
        &["ec2:DescribeVpcEndpoints"],
        &["*"],
    ),
    perm(
        "ec2:CreateVpcEndpoint",
        &["ec2:CreateVpcEndpoint", "ec2:CreateTags"],
        &[
            VPC,
            ENDPOINT,
            SG,
            "arn:aws:ec2:{region}:{account}:subnet/*",
            "arn:aws:ec2:{region}:{account}:route-table/*",
        ],
    ),
    perm(
        "ec2:ModifyVpcEndpoint",
        &["ec2:ModifyVpcEndpoint"],
        &[
            ENDPOINT,
            SG,
            "arn:aws:ec2:{region}:{account}:subnet/*",
            "arn:aws:ec2:{region}:{account}:route-table/*",
        ],
    ),
    perm(
        "ec2:DeleteVpcEndpoints",
        &["ec2:DeleteVpcEndpoints"],
        &[ENDPOINT],
    ),
    perm(
        "ec2:CreateSecurityGroup",
        &["ec2:CreateSecurityGroup", "ec2:CreateTags"],
        &[VPC, SG],
    ),
    perm(
        "ec2:DeleteSecurityGroup",
        &["ec2:DeleteSecurityGroup"],
        &[SG],
    ),
];

/// `com.amazonaws.<region>.<name>`.
fn service(region: &str, name: &str) -> String {
    format!("com.amazonaws.{region}.{name}")
}

/// The condition that limits an endpoint policy's statement to callers of this account
/// (`aws:PrincipalAccount`): a data perimeter, so that stolen credentials of another account
/// cannot move data through the VPC's endpoints.
fn this_account(acct: &str) -> Value {
    json!({ "StringEquals": { "aws:PrincipalAccount": acct } })
}

/// An interface endpoint's policy: every action of the service, for this account's callers
/// only (AWS's default is full access for anyone).
pub(super) fn interface_policy(acct: &str) -> Value {
    crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ThisAccountOnly",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": this_account(acct),
        }],
    }))
}

/// The S3 gateway endpoint's policy: this environment's buckets (every `s3.*` entry), for this
/// account's callers only, and, when the network has the `ecr.dkr` endpoint (image pulls from
/// inside the VPC), the bucket ECR keeps image layers in for the region
/// (`prod-<region>-starport-layer-bucket`, read-only). The layer statement names no caller
/// account: ECR hands out layer URLs presigned by its own AWS-owned account, so a
/// `aws:PrincipalAccount` condition there would break image pulls (AWS's own data-perimeter
/// examples leave it unconditioned too). Without `ecr.dkr` nothing in the VPC pulls images
/// privately, and the statement would only widen the perimeter.
fn s3_policy(
    spec: &LoadedSpec,
    r: &Renderer,
    region: &str,
    ecr_pulls: bool,
) -> Result<Value, SpecError> {
    let mut buckets = Vec::new();
    // A DR twin's gateway serves its own region only: the twin buckets (their names from the
    // DR view of the context, where a bucket with a twin stands for it).
    let twin = crate::resources::dr::twin_view(r).is_some();
    for (n, b) in &spec.spec.s3 {
        let name = if twin {
            let twin_name = r
                .value("s3")
                .and_then(|s| s[n]["name"].as_str())
                .filter(|_| crate::resources::dr::has_twin_bucket(&spec.spec, n));
            match twin_name {
                Some(t) => t.to_string(),
                None => continue,
            }
        } else {
            r.str(&format!("s3.{n}.name"), &b.name)?
        };
        buckets.push(bucket_arn(&name));
        buckets.push(format!("{}/*", bucket_arn(&name)));
    }
    let mut statements = Vec::new();
    if !buckets.is_empty() {
        statements.push(json!({
            "Sid": "EnvironmentBuckets",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": buckets,
            "Condition": this_account(&account(r)),
        }));
    }
    if ecr_pulls {
        statements.push(json!({
            "Sid": "EcrImageLayers",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::prod-{region}-starport-layer-bucket/*"),
        }));
    }
    Ok(crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": statements,
    })))
}

/// The endpoints the spec asks for.
pub fn desired(
    spec: &LoadedSpec,
    r: &Renderer,
    decl: &Decl,
    n: &Network,
) -> Result<BTreeMap<String, EndpointState>, SpecError> {
    let mut out = BTreeMap::new();
    let all: Vec<String> = n.subnets.keys().cloned().collect();
    // Interface endpoints take one subnet per AZ: the first by name.
    let mut per_az: BTreeMap<&str, &str> = BTreeMap::new();
    for (s, sub) in &n.subnets {
        per_az.entry(sub.az.as_str()).or_insert(s.as_str());
    }
    let mut one_per_az: Vec<String> = per_az.values().map(|s| s.to_string()).collect();
    one_per_az.sort();
    for e in &n.endpoints {
        let gateway = e == "s3";
        out.insert(
            e.clone(),
            EndpointState {
                service: service(&decl.region, e),
                kind: if gateway { "Gateway" } else { "Interface" }.into(),
                private_dns: !gateway,
                attached_to: if gateway {
                    all.clone()
                } else {
                    one_per_az.clone()
                },
                endpoint_security_group: !gateway,
                policy: if gateway {
                    s3_policy(
                        spec,
                        r,
                        &decl.region,
                        n.endpoints.iter().any(|x| x == "ecr.dkr"),
                    )?
                } else {
                    interface_policy(&account(r))
                },
            },
        );
    }
    Ok(out)
}

/// The endpoint security group's rules: HTTPS from the VPC only, nothing out.
pub fn sg_rules(cidr: &str, _any: bool) -> Rules {
    Rules {
        ingress: vec![Rule::new("tcp", 443, 443, cidr.to_string())],
        egress: Vec::new(),
    }
}

/// The endpoint security group as read.
pub struct EndpointSg {
    pub id: String,
    pub rules: Rules,
}

fn part_of(tags: &[aws_sdk_ec2::types::Tag]) -> Option<&str> {
    tags.iter()
        .find(|t| t.key() == Some(TAG_PART))
        .and_then(|t| t.value())
}

/// Is the endpoint deleted, being deleted, failed or rejected?
pub(super) fn is_gone(e: &VpcEndpoint) -> bool {
    matches!(
        e.state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .as_deref(),
        Some("deleted" | "deleting" | "failed" | "rejected")
    )
}

/// The endpoints of ours in the VPC (by spec name), not deleted.
async fn live_endpoints(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    claims: &Claims,
) -> Result<BTreeMap<String, VpcEndpoint>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeVpcEndpoints"))?;
    Ok(out
        .vpc_endpoints()
        .iter()
        .filter(|e| !is_gone(e))
        .filter_map(|e| {
            let part = part_of(e.tags())
                .or_else(|| claims.get(e.vpc_endpoint_id()?).map(String::as_str))?;
            let name = part.strip_prefix("endpoint:")?.to_string();
            Some((name, e.clone()))
        })
        .collect())
}

async fn find_sg(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    names: &Names,
) -> Result<Option<EndpointSg>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", &names.endpoint_sg()))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    let none = BTreeMap::new();
    Ok(out.security_groups().first().map(|g| EndpointSg {
        id: g.group_id().unwrap_or_default().to_string(),
        rules: Rules {
            ingress: rules_of(g.ip_permissions(), &none),
            egress: rules_of(g.ip_permissions_egress(), &none),
        },
    }))
}

/// The endpoints (attachments as subnet and route-table ids: the caller names them) and the
/// endpoint security group.
pub async fn read(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    names: &Names,
    claims: &Claims,
) -> Result<(BTreeMap<String, EndpointState>, EndpointSg), AwsError> {
    let (eps, sg) = tokio::join!(
        live_endpoints(cx, region, vpc_id, claims),
        find_sg(cx, region, vpc_id, names)
    );
    let sg = sg?.unwrap_or(EndpointSg {
        id: String::new(),
        rules: Rules::default(),
    });
    let mut out = BTreeMap::new();
    for (name, e) in eps? {
        let gateway = e.vpc_endpoint_type() == Some(&VpcEndpointType::Gateway);
        let mut attached: Vec<String> = if gateway {
            e.route_table_ids().to_vec()
        } else {
            e.subnet_ids().to_vec()
        };
        attached.sort();
        let groups: Vec<&str> = e.groups().iter().filter_map(|g| g.group_id()).collect();
        out.insert(
            name,
            EndpointState {
                service: e.service_name().unwrap_or_default().to_string(),
                kind: if gateway { "Gateway" } else { "Interface" }.into(),
                // A gateway has no private DNS (moto says it has: its answer is not read).
                private_dns: !gateway && e.private_dns_enabled().unwrap_or(false),
                attached_to: attached,
                endpoint_security_group: !gateway && groups == [sg.id.as_str()],
                policy: e
                    .policy_document()
                    .and_then(|p| serde_json::from_str::<Value>(p).ok())
                    .map(|p| crate::policy::normalize(&p))
                    .unwrap_or(Value::Null),
            },
        );
    }
    Ok((out, sg))
}

/// Makes the endpoint security group exist with its rules; returns its id. In a VPC just made
/// (`fresh`) the group is created without looking first, and starts with AWS's one stock rule
/// (all traffic out); a create that fails (a resent call, a group made meanwhile) falls back to
/// finding it by name.
pub async fn converge_sg(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
    fresh: bool,
) -> Result<String, AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let tags = part_tags(&d.tags, &names.endpoint_sg(), "endpoint-sg");
    let name = names.endpoint_sg();
    let group = NewGroup {
        vpc: vpc_id,
        name: &name,
        description: "VPC interface endpoints: HTTPS from the VPC only (novactl)",
        tags: &tags,
    };
    let made = if fresh {
        create_group(cx, region, &group).await
    } else {
        None
    };
    let sg = match made {
        Some(id) => EndpointSg {
            id,
            rules: Rules {
                ingress: Vec::new(),
                egress: vec![Rule::aws_default_egress()],
            },
        },
        None => {
            // The group is made as the spec's groups are: a resent create finds it by name.
            let id = ensure_group(cx, region, &group).await?;
            find_sg(cx, region, vpc_id, names)
                .await?
                .unwrap_or(EndpointSg {
                    id,
                    rules: Rules::default(),
                })
        }
    };
    let want = &d.endpoint_security_group;
    let ids = BTreeMap::new();
    sync_rules(
        ec2,
        &sg.id,
        Direction::Ingress,
        &sg.rules.ingress,
        &want.ingress,
        &ids,
    )
    .await?;
    sync_rules(
        ec2,
        &sg.id,
        Direction::Egress,
        &sg.rules.egress,
        &want.egress,
        &ids,
    )
    .await?;
    Ok(sg.id)
}

/// Makes the endpoints match `d`: missing ones created, attachments, private DNS and policy
/// fixed, those that left the spec deleted. `parts` is the VPC's layout (subnet and route
/// table ids), `sg` the endpoint group's id; in a VPC just made (`fresh`) there is no endpoint
/// to read. The endpoints are made at once (each create carries its client token).
#[allow(clippy::too_many_arguments)]
pub async fn converge(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
    parts: &super::vpc::Parts,
    sg: &str,
    fresh: bool,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let live = if fresh {
        BTreeMap::new()
    } else {
        live_endpoints(cx, region, vpc_id, &Claims::new()).await?
    };
    let gone: Vec<String> = live
        .iter()
        .filter(|(n, _)| !d.endpoints.contains_key(*n))
        .filter_map(|(_, e)| e.vpc_endpoint_id().map(String::from))
        .collect();
    if !gone.is_empty() {
        ec2.delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(gone))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DeleteVpcEndpoints"))?;
    }
    let mut writes = Vec::new();
    for (name, w) in &d.endpoints {
        let gateway = w.kind == "Gateway";
        let ids_of = |names: &[String]| -> Vec<String> {
            let map = if gateway {
                &parts.route_table_ids
            } else {
                &parts.subnet_ids
            };
            names.iter().filter_map(|n| map.get(n).cloned()).collect()
        };
        let want_ids = ids_of(&w.attached_to);
        let policy = (!w.policy.is_null()).then(|| w.policy.to_string());
        match live.get(name) {
            None => {
                let mut req = ec2
                    .create_vpc_endpoint()
                    .vpc_id(vpc_id)
                    .client_token(client_token())
                    .service_name(&w.service)
                    .tag_specifications(tag_spec(
                        ResourceType::VpcEndpoint,
                        &part_tags(
                            &d.tags,
                            &format!("{}-{name}", names.base),
                            &format!("endpoint:{name}"),
                        ),
                    ));
                if gateway {
                    req = req
                        .vpc_endpoint_type(VpcEndpointType::Gateway)
                        .set_route_table_ids(Some(want_ids))
                        .set_policy_document(policy);
                } else {
                    req = req
                        .vpc_endpoint_type(VpcEndpointType::Interface)
                        .set_subnet_ids(Some(want_ids))
                        .security_group_ids(sg)
                        .private_dns_enabled(w.private_dns)
                        .set_policy_document(policy);
                }
                writes.push(queued(req.send(), "ec2:CreateVpcEndpoint"));
            }
            Some(e) => {
                let id = e.vpc_endpoint_id().unwrap_or_default();
                let have: Vec<String> = if gateway {
                    e.route_table_ids().to_vec()
                } else {
                    e.subnet_ids().to_vec()
                };
                let add: Vec<String> = want_ids
                    .iter()
                    .filter(|i| !have.contains(i))
                    .cloned()
                    .collect();
                let remove: Vec<String> = have
                    .iter()
                    .filter(|i| !want_ids.contains(i))
                    .cloned()
                    .collect();
                let mut req = ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
                if gateway {
                    req = req
                        .set_add_route_table_ids(Some(add).filter(|v| !v.is_empty()))
                        .set_remove_route_table_ids(Some(remove).filter(|v| !v.is_empty()))
                        .set_policy_document(policy);
                } else {
                    let groups: Vec<String> = e
                        .groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(String::from))
                        .filter(|g| g != sg)
                        .collect();
                    let sg_missing = !e.groups().iter().any(|g| g.group_id() == Some(sg));
                    req = req
                        .set_add_subnet_ids(Some(add).filter(|v| !v.is_empty()))
                        .set_remove_subnet_ids(Some(remove).filter(|v| !v.is_empty()))
                        .set_add_security_group_ids(
                            Some(vec![sg.to_string()]).filter(|_| sg_missing && !sg.is_empty()),
                        )
                        .set_remove_security_group_ids(Some(groups).filter(|v| !v.is_empty()))
                        .private_dns_enabled(w.private_dns)
                        .set_policy_document(policy);
                }
                writes.push(queued(req.send(), "ec2:ModifyVpcEndpoint"));
            }
        }
    }
    crate::resources::kit::all_settled(writes).await.map(drop)
}

/// An endpoint write to run with the others at once (see [`converge`]).
fn queued<T, E, R>(
    send: impl std::future::Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E, R>>>
        + Send
        + 'static,
    operation: &'static str,
) -> futures::future::BoxFuture<'static, Result<(), AwsError>>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    async move { send.await.map(drop).map_err(AwsError::from_sdk(operation)) }.boxed()
}

/// Deletes the network's endpoints and the endpoint security group.
pub async fn delete(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    vpc_id: &str,
) -> Result<(), AwsError> {
    let ec2 = &cx.clients(region).ec2;
    let live = live_endpoints(cx, region, vpc_id, &Claims::new()).await?;
    let ids: Vec<String> = live
        .values()
        .filter_map(|e| e.vpc_endpoint_id().map(String::from))
        .collect();
    if !ids.is_empty() {
        ec2.delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(ids))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DeleteVpcEndpoints"))?;
    }
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter(&format!("tag:{TAG_PART}"), "endpoint-sg"))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    for g in out.security_groups() {
        let id = g.group_id().unwrap_or_default();
        crate::resources::kit::ec2::delete_security_group(ec2, address, id, cx.progress).await?;
    }
    Ok(())
}
