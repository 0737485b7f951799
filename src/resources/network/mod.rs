//! `network.*`: the private network the stack runs in, one resource per spec entry. It holds
//! (one room each):
//! * [`vpc`]: the VPC (CIDR, DNS support and hostnames on), the private subnets (no public IP
//!   on launch) each with its own route table (no route but the local one and the S3 gateway
//!   endpoint's), the network ACL of the private subnets (inbound and outbound only to and from
//!   the VPC's CIDR, the rest denied explicitly), the VPC's default NACL stripped of its
//!   allow-all entries (no subnet uses it; AWS's fixed `*` denies stay) and the VPC's default
//!   security group stripped of every rule;
//! * [`endpoints`]: the S3 gateway endpoint on the private route tables (its policy limited to
//!   this environment's buckets and the AWS-owned ECR layer bucket of the region) and interface
//!   endpoints with private DNS in the private subnets (one per AZ) behind the endpoint security
//!   group `<environment>-<name>-endpoints`, which admits TCP 443 from the VPC's CIDR only;
//!   every endpoint policy admits this account's callers only (`aws:PrincipalAccount`), but the
//!   ECR layer bucket's read (presigned by ECR's own account);
//! * [`flow_logs`]: VPC flow logs (ALL traffic) to a KMS-encrypted log group with the spec's
//!   retention, delivered by a role novactl makes (trusting `vpc-flow-logs.amazonaws.com` for
//!   this account only, allowed to write to that group only).
//!
//! Every EC2 resource carries the ownership tags of `network.<n>` plus `Name` and
//! `novactl:part` (which part of the network it is: `subnet:<s>`, `route-table:<s>`, `nacl`,
//! `endpoint-sg`, `endpoint:<service>`, `flow-log`); the VPC is found by its ownership tags,
//! else (a VPC made outside novactl, to adopt) by its CIDR, its parts by shape ([`adopt`]).
//! `novactl import network VPC_ID` prints such a VPC's entry ([`import`]).
//!
//! # State ([`NetworkState`])
//! The whole network is one resource with one attribute per part, so the plan names each
//! drift (a subnet's routes, an endpoint gone, the default group's rules, flow logs off) on
//! `network.<n>` and `update` converges only the parts that differ. The HIPAA gate reads the
//! same shape (see the field docs).

mod adopt;
mod endpoints;
mod flow_logs;
mod import;
mod prefix_lists;
pub mod security_group;
mod vpc;
pub mod zones;

pub(crate) use vpc::{parse_entry as parse_nacl_entry, Entry as NaclEntry};

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::permissions::Perm;
use crate::resources::kind::KindInfo;
use crate::resources::kit::ec2::Rule;
use crate::resources::kit::refs::kms_ref;
use crate::resources::kit::tags::Tags;
use crate::resources::{
    desired_tags, from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `network` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("network", "network", |s, n| {
    s.network.get(n).and_then(|r| r.protect)
})
.tagged_as(&["ec2:vpc"])
.late_outputs(&[
    "vpc_id",
    "subnet_ids",
    "route_table_ids",
    "endpoint_security_group_id",
])
.replace_on(&["cidr"]);

/// The tag that names the part of the network an EC2 resource is.
pub const TAG_PART: &str = "novactl:part";

pub struct Network;

/// A network's state, desired and observed alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkState {
    /// The VPC's IPv4 CIDR.
    pub cidr: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    /// The private subnets by spec name.
    pub subnets: BTreeMap<String, SubnetState>,
    /// The entries of the private subnets' NACL, as `<ingress|egress> <rule number>
    /// <allow|deny> <protocol> <ports> <cidr>`, sorted (AWS's fixed `*` entries left out);
    /// empty when the NACL does not exist.
    pub network_acl: Vec<String>,
    /// The entries of the VPC's default NACL (which no subnet of the network uses), in the
    /// same form: always empty when converged (its stock allow-all entries deleted).
    #[serde(default)]
    pub default_network_acl: Vec<String>,
    /// VPC endpoints by spec name (`s3`, `kms`, `sagemaker.runtime`...).
    pub endpoints: BTreeMap<String, EndpointState>,
    /// The rules of the endpoint security group (empty lists when it does not exist).
    pub endpoint_security_group: Rules,
    /// `None`: no flow log of ours on the VPC.
    pub flow_logs: Option<FlowLogState>,
    /// The rules of the VPC's default security group: always empty when converged.
    pub default_security_group: Rules,
    /// The VPC's tags.
    pub tags: Tags,
}

/// One private subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubnetState {
    pub cidr: String,
    /// The full AZ name (`us-east-1a`).
    pub az: String,
    pub map_public_ip_on_launch: bool,
    /// Routes of the subnet's route table other than the local route and the S3 gateway
    /// endpoint's, as `<destination> -> <target>`: empty when converged (no internet route).
    pub routes: Vec<String>,
    /// Is the subnet associated with its own route table (`own`) or another (its id, or
    /// `main`)?
    pub route_table: String,
    /// Is the subnet associated with the network's private NACL (`private`) or another (its id)?
    pub network_acl: String,
}

/// One VPC endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointState {
    /// `com.amazonaws.<region>.<name>`.
    pub service: String,
    /// `Gateway` or `Interface`.
    pub kind: String,
    pub private_dns: bool,
    /// Where it is attached: subnet names whose route table (gateway) or subnet (interface)
    /// it is in, sorted.
    pub attached_to: Vec<String>,
    /// Interface endpoints: the endpoint security group is the only group (`true`).
    pub endpoint_security_group: bool,
    /// The endpoint policy, normalised: the S3 gateway's limited to the environment's buckets,
    /// an interface endpoint's to every action; both for this account's callers only
    /// (`aws:PrincipalAccount`). `null` when AWS returns none.
    pub policy: Value,
}

/// A security group's rules, each a set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

/// The VPC's flow log, its log group and role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowLogState {
    /// `ALL`.
    pub traffic_type: String,
    /// The log group it delivers to.
    pub log_group: String,
    /// The ARN of the role it delivers with.
    pub deliver_role_arn: String,
    /// The log group's KMS key ARN; empty when it is not encrypted or does not exist.
    pub kms_key_id: String,
    /// The log group's retention (0: never expires; -1: the group does not exist).
    pub retention_days: i32,
    /// The role in the `iam` kind's shape; `{}` when it does not exist.
    pub role: Value,
}

/// Names of the parts, from the environment and the network's name.
pub(crate) struct Names {
    /// `<environment>-<network>`: the VPC's `Name`, the prefix of every part's.
    pub base: String,
}

impl Names {
    pub fn of(decl: &Decl) -> Names {
        Names {
            base: decl.identity.clone(),
        }
    }
    pub fn endpoint_sg(&self) -> String {
        format!("{}-endpoints", self.base)
    }
    pub fn log_group(&self) -> String {
        format!("/novactl/vpc-flow-logs/{}", self.base)
    }
    pub fn role(&self) -> String {
        let mut n = format!("{}-vpc-flow-logs", self.base);
        n.truncate(64);
        n
    }
}

/// The tags of a part: the network's, its `Name` and its [`TAG_PART`].
pub(crate) fn part_tags(tags: &Tags, name: &str, part: &str) -> Tags {
    let mut t = tags.clone();
    t.insert("Name".into(), name.into());
    t.insert(TAG_PART.into(), part.into());
    t
}

/// Every AWS call of the kind (its rooms', the shared EC2 calls and the flow-log role's).
const GROUPS: &[&[Perm]] = &[
    vpc::PERMISSIONS,
    endpoints::PERMISSIONS,
    flow_logs::PERMISSIONS,
    zones::PERMISSIONS,
    crate::resources::kit::ec2::EC2_SHARED,
    crate::resources::kit::log_group::LOG_GROUP_CALLS,
    crate::resources::kit::owned_role::OWNED_ROLE,
];

/// A parsed IPv4 CIDR: network address and prefix length.
pub(crate) fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    let ip = u32::from(ip);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (ip & mask == ip).then_some((ip, len))
}

fn inside(inner: (u32, u8), outer: (u32, u8)) -> bool {
    let mask = if outer.1 == 0 {
        0
    } else {
        u32::MAX << (32 - outer.1)
    };
    inner.1 >= outer.1 && inner.0 & mask == outer.0
}

/// Checks one network entry of the spec (CIDRs, subnets, AZ letters, endpoints, flow logs).
fn check(spec: &LoadedSpec, name: &str) -> Result<Vec<String>, SpecError> {
    let n = &spec.spec.network[name];
    let path = format!("network.{name}");
    let Some(vpc) = parse_cidr(&n.cidr).filter(|c| (16..=28).contains(&c.1)) else {
        return Err(spec.error(
            &format!("{path}.cidr"),
            format!(
                "`{}` is not an IPv4 CIDR block from /16 to /28 with its host bits zero \
                 (e.g. 172.16.0.0/16)",
                n.cidr
            ),
        ));
    };
    if n.subnets.is_empty() {
        return Err(spec.error(
            &format!("{path}.subnets"),
            "a network needs at least one private subnet",
        ));
    }
    let mut seen: Vec<(u32, u8, &str)> = Vec::new();
    for (s, sub) in &n.subnets {
        let key = format!("{path}.subnets.{s}");
        let Some(c) = parse_cidr(&sub.cidr).filter(|c| (16..=28).contains(&c.1)) else {
            return Err(spec.error(
                &format!("{key}.cidr"),
                format!(
                    "`{}` is not an IPv4 CIDR block from /16 to /28 with its host bits zero",
                    sub.cidr
                ),
            ));
        };
        if !inside(c, vpc) {
            return Err(spec.error(
                &format!("{key}.cidr"),
                format!("{} is not inside the network's {}", sub.cidr, n.cidr),
            ));
        }
        if let Some((_, _, other)) = seen
            .iter()
            .find(|o| inside(c, (o.0, o.1)) || inside((o.0, o.1), c))
        {
            return Err(spec.error(
                &format!("{key}.cidr"),
                format!("{} overlaps subnet `{other}`", sub.cidr),
            ));
        }
        seen.push((c.0, c.1, s));
        if !(sub.az.len() == 1 && sub.az.chars().all(|c| c.is_ascii_lowercase())) {
            return Err(spec.error(
                &format!("{key}.az"),
                format!(
                    "`{}` is not an AZ letter: give the letter suffix of the region's zone \
                     (`a` is {}a)",
                    sub.az, spec.spec.region
                ),
            ));
        }
    }
    for (i, e) in n.endpoints.iter().enumerate() {
        let ok = !e.is_empty()
            && e.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if !ok {
            return Err(spec.error(
                &format!("{path}.endpoints.{i}"),
                format!(
                    "`{e}` is not a service name: `s3` (gateway) or an interface endpoint's \
                     name after `com.amazonaws.<region>.` (kms, sts, sagemaker.runtime...)"
                ),
            ));
        }
        if n.endpoints[..i].contains(e) {
            return Err(spec.error(
                &format!("{path}.endpoints.{i}"),
                format!("`{e}` is listed twice"),
            ));
        }
    }
    let mut deps = Vec::new();
    if let Some(f) = &n.flow_logs {
        deps.push(kms_ref(
            spec,
            &format!("{path}.flow_logs.kms_key"),
            &f.kms_key,
        )?);
        crate::resources::kit::log_group::check_retention(
            spec,
            &format!("{path}.flow_logs.retention_days"),
            f.retention_days,
        )?;
    }
    Ok(deps)
}

#[async_trait]
impl Reconciler for Network {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        GROUPS
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn decls(&self, spec: &LoadedSpec, _r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, n) in &spec.spec.network {
            let deps = check(spec, name)?;
            let path = format!("network.{name}");
            out.push(Decl {
                address: path.clone(),
                kind: "network",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: format!("{}-{name}", spec.spec.environment),
                identity_key: path.clone(),
                deps,
                outputs: decl_outputs(n, &format!("{}-{name}", spec.spec.environment)),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let n = &spec.spec.network[&decl.name];
        let names = Names::of(decl);
        let mut tags = desired_tags(spec, &decl.address, &n.tags);
        tags.insert("Name".into(), names.base.clone());
        // A DR twin's subnets take the DR region's zones in order (see `zones`).
        let twin = crate::resources::dr::twin_view(r).is_some();
        let subnets = n
            .subnets
            .iter()
            .map(|(s, sub)| {
                (
                    s.clone(),
                    SubnetState {
                        cidr: sub.cidr.clone(),
                        az: if twin {
                            zones::ranked(&decl.region, zones::rank_in(n, &sub.az))
                        } else {
                            format!("{}{}", decl.region, sub.az)
                        },
                        map_public_ip_on_launch: false,
                        routes: Vec::new(),
                        route_table: "own".into(),
                        network_acl: "private".into(),
                    },
                )
            })
            .collect();
        let state = NetworkState {
            cidr: n.cidr.clone(),
            dns_support: true,
            dns_hostnames: true,
            subnets,
            network_acl: vpc::nacl_entries(&n.cidr),
            default_network_acl: Vec::new(),
            endpoints: endpoints::desired(spec, r, decl, n)?,
            endpoint_security_group: endpoints::sg_rules(&n.cidr, !n.endpoints.is_empty()),
            flow_logs: flow_logs::desired(spec, r, decl, n, &names, &tags)?,
            default_security_group: Rules::default(),
            tags,
        };
        Ok(serde_json::to_value(state).expect("a network state serialises"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let names = Names::of(decl);
        if let Some(o) = read(cx, &decl.region, &decl.address, &names).await? {
            return Ok(o);
        }
        // Not ours: the one untagged VPC of the spec's CIDR, read by shape, is foreign (see
        // `adopt.rs`).
        let cidr = decl.outputs["cidr"].as_str().unwrap_or_default();
        let subnets: BTreeMap<String, String> = decl.outputs["subnet_cidrs"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(n, c)| (n.clone(), c.as_str().unwrap_or_default().to_string()))
            .collect();
        let found = adopt::untagged_vpc(cx, &decl.region, cidr, &names.base, &subnets).await?;
        let Some(v) = found else {
            return Ok(Observed::absent(&decl.address));
        };
        let claims = adopt::claims_of(cx, &decl.region, &v.id, &subnets, &names).await?;
        read_found(cx, &decl.region, &decl.address, &names, v, &claims).await
    }

    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        import::import_network(cx, req).await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d = resolved(cx, decl, from_desired(&decl.address, desired)?).await?;
        let names = Names::of(decl);
        let vpc_id = vpc::create_vpc(cx, &decl.region, &d, &names).await?;
        crate::faults::point("ec2.after_create_vpc", &decl.address)?;
        // The VPC was just made: its parts converge from what the writes answer, with no read
        // of what cannot be there yet, and the outputs come from the same answers.
        let (live, endpoint_sg) =
            converge(cx, decl, &d, &vpc_id, &names, &all_parts(), true).await?;
        Ok(json!({
            "name": d.tags.get("Name").cloned().unwrap_or_else(|| names.base.clone()),
            "vpc_id": vpc_id,
            "cidr": d.cidr,
            "subnet_ids": live.subnet_ids.values().collect::<Vec<_>>(),
            "route_table_ids": live.route_table_ids.values().collect::<Vec<_>>(),
            "subnet_cidrs": d.subnets.iter().map(|(n, s)| (n.clone(), s.cidr.clone())).collect::<BTreeMap<_, _>>(),
            "endpoint_security_group_id": endpoint_sg.unwrap_or_default(),
            "log_group": names.log_group(),
            "role_name": names.role(),
        }))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d = resolved(cx, decl, from_desired(&decl.address, desired)?).await?;
        let names = Names::of(decl);
        let mut parts: Vec<String> = changed.to_vec();
        // Adopting a network made outside novactl: its parts found by shape are tagged as
        // ours first, then every part converges (see `adopt.rs`).
        if matches!(observed.owner, crate::resources::Owner::Foreign { .. }) {
            adopt::claim(cx, &decl.region, &observed.physical_id, &d, &names).await?;
            parts = all_parts();
        }
        // New or moved subnets: the NACL associations and the endpoints follow them.
        if parts.iter().any(|p| p == "subnets") {
            parts.extend(["network_acl".into(), "endpoints".into()]);
        }
        converge(cx, decl, &d, &observed.physical_id, &names, &parts, false).await?;
        let o = read(cx, &decl.region, &decl.address, &names).await?;
        Ok(o.map(|o| o.outputs).unwrap_or_default())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let vpc_id = &t.observed.physical_id;
        if vpc_id.is_empty() {
            return Ok(());
        }
        let base = t.observed.outputs["name"].as_str().unwrap_or_default();
        let names = Names { base: base.into() };
        // Flow logs and endpoints first, then what they sit in, the VPC last.
        flow_logs::delete(cx, t.region, &t.observed.address, vpc_id, &names).await?;
        endpoints::delete(cx, t.region, &t.observed.address, vpc_id).await?;
        vpc::delete(cx, t.region, &t.observed.address, vpc_id).await
    }

    async fn refuse_delete(
        &self,
        cx: &Ctx<'_>,
        t: &DeleteTarget<'_>,
    ) -> Result<Option<String>, AwsError> {
        let vpc_id = &t.observed.physical_id;
        if vpc_id.is_empty() {
            return Ok(None);
        }
        let held = adopt::held_by(cx, t.region, vpc_id).await?;
        Ok((!held.is_empty()).then(|| {
            format!(
                "VPC {vpc_id} holds what novactl did not make and does not delete: {}; detach \
                 or delete it, then destroy again",
                held.join(", ")
            )
        }))
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for f in found {
            let name = f
                .tags
                .as_ref()
                .and_then(|t| t["Name"].as_str())
                .unwrap_or_default()
                .to_string();
            // The spec's own network is read by observe.
            if cx.in_spec("network", region, &name) {
                continue;
            }
            let names = Names { base: name };
            if let Some(o) = read(cx, region, &f.address, &names).await? {
                out.push(o);
            }
        }
        Ok(out)
    }
}

/// The outputs known from the spec of a network whose parts are named after `base` (its
/// identity; a DR twin's is its own, see `dr::twin_decls`).
pub fn decl_outputs(n: &crate::spec::model::Network, base: &str) -> Value {
    let subnet_cidrs: BTreeMap<&String, &String> =
        n.subnets.iter().map(|(s, sub)| (s, &sub.cidr)).collect();
    if n.flow_logs.is_some() {
        let names = Names { base: base.into() };
        json!({
            "cidr": n.cidr,
            "subnet_cidrs": subnet_cidrs,
            "log_group": names.log_group(),
            "role_name": names.role(),
        })
    } else {
        json!({ "cidr": n.cidr, "subnet_cidrs": subnet_cidrs })
    }
}

/// Every part, in the order `converge` makes them.
fn all_parts() -> Vec<String> {
    [
        "dns_support",
        "dns_hostnames",
        "subnets",
        "network_acl",
        "default_network_acl",
        "endpoint_security_group",
        "endpoints",
        "flow_logs",
        "default_security_group",
        "tags",
    ]
    .map(String::from)
    .to_vec()
}

/// `d` with a DR twin's ranked zones resolved to the DR region's zone names.
async fn resolved(cx: &Ctx<'_>, decl: &Decl, d: NetworkState) -> Result<NetworkState, AwsError> {
    if !crate::resources::dr::is_twin(&decl.address) {
        return Ok(d);
    }
    let zones = zones::zones_of(cx, &decl.region).await?;
    zones::resolve(&decl.region, &zones, d)
}

/// Brings the `parts` of the network in `vpc_id` to `d`, each from whatever it finds: the VPC's
/// layout is read once (not at all when `fresh`, a VPC just made) and kept up to date with
/// what the steps write, so that no step reads it again. Returns the layout and the endpoint
/// group's id when it converged.
async fn converge(
    cx: &Ctx<'_>,
    decl: &Decl,
    d: &NetworkState,
    vpc_id: &str,
    names: &Names,
    parts: &[String],
    fresh: bool,
) -> Result<(vpc::Parts, Option<String>), AwsError> {
    let has = |p: &str| parts.iter().any(|x| x == p);
    let region = &decl.region;
    let layout = [
        "subnets",
        "network_acl",
        "endpoints",
        "default_network_acl",
        "default_security_group",
    ];
    // Three branches that do not touch each other's parts run at once: the VPC's layout
    // (subnets, route tables, then the NACL side read again), the endpoints' security group,
    // and the flow logs (their group and role need nothing of the layout); DNS besides.
    let layout_side = async {
        let mut live = if !fresh && layout.iter().any(|p| has(p)) {
            vpc::read_parts(cx, region, vpc_id).await?
        } else {
            vpc::Parts::default()
        };
        let mut new_subnets = false;
        if has("subnets") {
            new_subnets = vpc::converge_subnets(cx, region, vpc_id, d, names, &mut live).await?;
        }
        // New subnets sit in the default NACL under association ids only a read tells; a new
        // VPC's default group is known by a read too (one round trip for both).
        let acl_side = has("network_acl") || has("default_network_acl");
        if (new_subnets && acl_side) || fresh {
            vpc::refresh_acls(cx, region, vpc_id, &mut live, fresh).await?;
        }
        Ok::<_, AwsError>(live)
    };
    let dns = async {
        if has("dns_support") || has("dns_hostnames") {
            vpc::set_dns(cx, region, vpc_id, d, fresh).await?;
        }
        Ok::<_, AwsError>(())
    };
    let endpoint_group = async {
        if has("endpoint_security_group") || has("endpoints") {
            return endpoints::converge_sg(cx, region, vpc_id, d, names, fresh)
                .await
                .map(Some);
        }
        Ok(None)
    };
    let flow = async {
        if has("flow_logs") {
            flow_logs::converge(cx, decl, vpc_id, d, names, fresh).await?;
        }
        Ok::<_, AwsError>(())
    };
    // Joined, not raced: a failing branch lets the others finish their calls.
    let (live, dns, endpoint_sg, flow) = tokio::join!(layout_side, dns, endpoint_group, flow);
    let (mut live, endpoint_sg) = (live?, endpoint_sg?);
    dns?;
    flow?;
    // Then, at once: the private NACL (and the default NACL's entries once no subnet uses it),
    // the endpoints in the subnets behind their group, and the default group's rules.
    let view = live.clone();
    let nacl_side = async {
        if has("network_acl") {
            vpc::converge_nacl(cx, region, vpc_id, d, names, &mut live).await?;
        }
        if has("default_network_acl") {
            vpc::strip_default_nacl(cx, region, &live).await?;
        }
        Ok::<_, AwsError>(())
    };
    let endpoint_side = async {
        if has("endpoints") {
            let sg = endpoint_sg.as_deref().unwrap_or_default();
            endpoints::converge(cx, region, vpc_id, d, names, &view, sg, fresh).await?;
        }
        Ok::<_, AwsError>(())
    };
    let default_group = async {
        if has("default_security_group") {
            vpc::strip_default_sg(cx, region, &view).await?;
        }
        Ok::<_, AwsError>(())
    };
    let (nacl, eps, dsg) = tokio::join!(nacl_side, endpoint_side, default_group);
    nacl?;
    eps?;
    dsg?;
    // A VPC just made carries its tags from the create.
    if has("tags") && !fresh {
        vpc::sync_vpc_tags(cx, region, vpc_id, &d.tags).await?;
    }
    Ok((live, endpoint_sg))
}

/// The network whose VPC carries `address`'s ownership tags, read in full; `None` when there
/// is none.
async fn read(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    names: &Names,
) -> Result<Option<Observed>, AwsError> {
    let Some(v) = vpc::find_vpc(cx, region, address).await? else {
        return Ok(None);
    };
    read_found(cx, region, address, names, v, &adopt::Claims::new())
        .await
        .map(Some)
}

/// The network of the VPC `v`, its untagged parts named by `claims`.
async fn read_found(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    names: &Names,
    v: vpc::FoundVpc,
    claims: &adopt::Claims,
) -> Result<Observed, AwsError> {
    let (parts, dns, eps, flow) = tokio::join!(
        vpc::read_parts_as(cx, region, &v.id, claims),
        vpc::read_dns(cx, region, &v.id),
        endpoints::read(cx, region, &v.id, names, claims),
        flow_logs::read(cx, region, address, &v.id, names),
    );
    let mut parts = parts?;
    let (dns_support, dns_hostnames) = dns?;
    if crate::resources::dr::is_twin(address) {
        let zones = zones::zones_of(cx, region).await?;
        for s in parts.subnets.values_mut() {
            s.az = zones::rank_of(region, &zones, &s.az);
        }
    }
    let (mut eps, endpoint_sg) = eps?;
    // Attachments by subnet name (a gateway's route tables are its subnets' own).
    let by_id: BTreeMap<&String, &String> = parts
        .subnet_ids
        .iter()
        .chain(parts.route_table_ids.iter())
        .map(|(n, id)| (id, n))
        .collect();
    for e in eps.values_mut() {
        for a in e.attached_to.iter_mut() {
            if let Some(n) = by_id.get(a) {
                *a = (*n).clone();
            }
        }
        e.attached_to.sort();
    }
    let state = NetworkState {
        cidr: v.cidr.clone(),
        dns_support,
        dns_hostnames,
        subnets: parts.subnets.clone(),
        network_acl: parts.nacl.clone(),
        default_network_acl: parts.default_nacl.clone(),
        endpoints: eps,
        endpoint_security_group: endpoint_sg.rules.clone(),
        flow_logs: flow?,
        default_security_group: parts.default_sg.clone(),
        tags: v.tags.clone(),
    };
    let owner = crate::resources::kit::tags::owner_of(&v.tags, address, cx.environment);
    let outputs = json!({
        "name": v.tags.get("Name").cloned().unwrap_or_else(|| names.base.clone()),
        "vpc_id": v.id,
        "cidr": v.cidr,
        "subnet_ids": parts.subnet_ids.values().collect::<Vec<_>>(),
        "route_table_ids": parts.route_table_ids.values().collect::<Vec<_>>(),
        "subnet_cidrs": parts.subnets.iter().map(|(n, s)| (n.clone(), s.cidr.clone())).collect::<BTreeMap<_, _>>(),
        "endpoint_security_group_id": endpoint_sg.id,
        "log_group": names.log_group(),
        "role_name": names.role(),
    });
    Ok(Observed {
        address: address.to_string(),
        physical_id: v.id,
        state: Some(serde_json::to_value(state).expect("a network state serialises")),
        owner,
        outputs,
    })
}
