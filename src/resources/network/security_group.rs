//! `security_group.*`: a security group in a spec network, named `<environment>-<name>`, its
//! ingress and egress rules diffed as sets (only the difference is authorised or revoked; the
//! allow-all egress rule AWS adds to a new group is removed unless the spec lists it).
//!
//! # Groups that name each other
//! A rule names another group of the spec by its group name (`sg:<environment>-<peer>` in the
//! state), not by its id, so a group depends only on its network and two groups may name each
//! other (api -> inference, inference <- api). A create or update that needs a peer that does
//! not exist yet makes it, empty, with the peer's name, description and tags (the desired
//! state's `_peers` setting); the peer's own create then finds it, as its own, and adds its
//! rules. A delete first revokes the rules of other groups in the VPC that name this one.
//!
//! # Adoption
//! A group is found by its ownership tags; when none carries them, by its name
//! (`<environment>-<name>`, one group of that name in the account's VPCs), as a foreign group
//! that `apply --adopt security_group.<n>` takes over (`novactl import security_groups SG_ID`
//! prints its entry, see [`import`]).
//!
//! # Prefix lists
//! A rule's peer may be an AWS prefix list (`prefix_list: s3`, or a `pl-…` id): the S3 gateway
//! endpoint's traffic goes to S3's prefix list, not to the VPC's CIDR. A gateway service is
//! `pl:<service>` in the state, resolved to the region's list id when rules are written and
//! read back as the service (see `prefix_lists.rs`).
//!
//! # Open ingress
//! An ingress rule from `0.0.0.0/0` or `::/0` is a spec error at its line unless the spec's
//! `check.waive` holds rule `NOVA-NET-001` for the group's address (the HIPAA gate then
//! reports the finding as waived).

mod import;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::prefix_lists;
use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::ec2::{
    create_group, ensure_group, filter, in_vpc, rules_of, sync_rules, sync_tags, tags_of,
    Direction, NewGroup, Rule, EC2_SHARED,
};
use crate::resources::kit::tags::{owner_of, Tags, TAG_ADDRESS, TAG_ENVIRONMENT};
use crate::resources::{
    desired_tags, from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Owner, Reconciler,
};
use crate::spec::model::SgRule;
use crate::spec::render::{Renderer, UNKNOWN};
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `security_group` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("security_group", "security_groups", |s, n| {
    s.security_groups.get(n).and_then(|r| r.protect)
})
.tagged_as(&["ec2:security-group"])
.late_outputs(&["id"])
.replace_on(&["vpc_id", "description"]);

/// The rule id of an open ingress waiver.
pub const OPEN_INGRESS_RULE: &str = "NOVA-NET-001";

const SG: &str = "arn:aws:ec2:{region}:{account}:security-group/*";

/// The calls of this kind besides the shared EC2 ones.
pub const PERMISSIONS: &[Perm] = &[
    perm(
        "ec2:CreateSecurityGroup",
        &["ec2:CreateSecurityGroup", "ec2:CreateTags"],
        &["arn:aws:ec2:{region}:{account}:vpc/*", SG],
    ),
    perm(
        "ec2:DeleteSecurityGroup",
        &["ec2:DeleteSecurityGroup"],
        &[SG],
    ),
];

pub struct SecurityGroupKind;

/// A group's state, desired and observed alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupState {
    /// `<environment>-<name>`.
    pub group_name: String,
    /// The VPC of the spec network it lives in.
    pub vpc_id: String,
    pub description: String,
    /// Rules (a set, sorted); a peer group is `sg:<group name>`.
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    pub tags: Tags,
    /// Setting (not diffed): the groups the rules name, to make them first if they do not
    /// exist yet (group name -> description, tags).
    #[serde(default, rename = "_peers", skip_serializing_if = "BTreeMap::is_empty")]
    pub peers: BTreeMap<String, Peer>,
}

/// A peer group as its own spec entry describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    pub description: String,
    pub tags: Tags,
}

fn group_name(spec: &LoadedSpec, name: &str) -> String {
    format!("{}-{name}", spec.spec.environment)
}

fn is_waived(spec: &LoadedSpec, address: &str) -> bool {
    spec.spec.check.as_ref().is_some_and(|c| {
        c.waive
            .iter()
            .any(|w| w.rule == OPEN_INGRESS_RULE && w.address == address)
    })
}

/// The rule at `key` as a [`Rule`], checked.
fn rule_of(
    spec: &LoadedSpec,
    key: &str,
    r: &SgRule,
    ingress: bool,
    network: &str,
) -> Result<Rule, SpecError> {
    let err = |k: &str, m: String| spec.error(&format!("{key}{k}"), m);
    let protocol = r.protocol.as_str();
    if !["tcp", "udp", "icmp", "all"].contains(&protocol) {
        return Err(err(
            ".protocol",
            format!("`{protocol}` is not a protocol: tcp, udp, icmp or all"),
        ));
    }
    let (from, to) = match (&r.port, &r.ports) {
        (Some(_), Some(_)) => {
            return Err(err("", "give `port` or `ports`, not both".into()));
        }
        (Some(p), None) => (*p, *p),
        (None, Some(p)) => match p[..] {
            [a, b] if a <= b => (a, b),
            _ => {
                return Err(err(
                    ".ports",
                    "`ports` is `[from, to]` with from <= to".into(),
                ))
            }
        },
        (None, None) if protocol == "all" || protocol == "icmp" => (-1, -1),
        (None, None) => {
            return Err(err(
                "",
                format!("a {protocol} rule needs `port` or `ports`"),
            ))
        }
    };
    if protocol != "all" && protocol != "icmp" && !(0..=65535).contains(&from)
        || !(0..=65535).contains(&to) && from != -1
    {
        return Err(err("", format!("ports {from}-{to} are outside 0..65535")));
    }
    let (group_key, group, wrong) = if ingress {
        ("from", &r.from, &r.to)
    } else {
        ("to", &r.to, &r.from)
    };
    if wrong.is_some() {
        let k = if ingress { "to" } else { "from" };
        return Err(err(
            &format!(".{k}"),
            format!(
                "an {} rule names its peer with `{group_key}`",
                if ingress { "ingress" } else { "egress" }
            ),
        ));
    }
    if let Some(pl) = &r.prefix_list {
        if group.is_some() || r.cidr.is_some() {
            return Err(err(
                "",
                format!("a rule needs exactly one of `{group_key}` (a security group of the spec), `cidr` or `prefix_list`"),
            ));
        }
        let peer = super::prefix_lists::peer_of(pl).map_err(|m| err(".prefix_list", m))?;
        return Ok(Rule::new(protocol, from, to, peer));
    }
    let peer = match (group, &r.cidr) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(err(
                "",
                format!("a rule needs exactly one of `{group_key}` (a security group of the spec), `cidr` or `prefix_list`"),
            ))
        }
        (Some(g), None) => {
            let Some(p) = spec.spec.security_groups.get(g) else {
                return Err(err(
                    &format!(".{group_key}"),
                    format!(
                        "`{g}` is not a group of the spec's `security_groups`{}",
                        crate::suggest::did_you_mean(
                            g,
                            spec.spec.security_groups.keys().map(String::as_str)
                        )
                    ),
                ));
            };
            if p.network != network {
                return Err(err(
                    &format!(".{group_key}"),
                    format!(
                        "`{g}` is in network `{}`, this group in `{network}`: a rule names groups of its own VPC",
                        p.network
                    ),
                ));
            }
            format!("sg:{}", group_name(spec, g))
        }
        (None, Some(c)) => {
            let v6 = c.contains(':');
            let ok = if v6 {
                c.split_once('/').is_some_and(|(ip, l)| {
                    ip.parse::<std::net::Ipv6Addr>().is_ok() && l.parse::<u8>().is_ok_and(|l| l <= 128)
                })
            } else {
                super::parse_cidr(c).is_some()
            };
            if !ok {
                return Err(err(
                    ".cidr",
                    format!("`{c}` is not a CIDR block with its host bits zero (e.g. 10.0.0.0/16)"),
                ));
            }
            c.clone()
        }
    };
    Ok(Rule::new(protocol, from, to, peer))
}

fn rules(spec: &LoadedSpec, name: &str) -> Result<(Vec<Rule>, Vec<Rule>), SpecError> {
    let g = &spec.spec.security_groups[name];
    let path = format!("security_groups.{name}");
    let address = format!("security_group.{name}");
    let mut ingress = Vec::new();
    for (i, r) in g.ingress.iter().enumerate() {
        let key = format!("{path}.ingress.{i}");
        let rule = rule_of(spec, &key, r, true, &g.network)?;
        if (rule.peer == "0.0.0.0/0" || rule.peer == "::/0") && !is_waived(spec, &address) {
            return Err(spec.error(
                &format!("{key}.cidr"),
                format!(
                    "ingress from {} opens the group to the internet; name the sources, or \
                     waive it: check.waive [{{ rule: {OPEN_INGRESS_RULE}, address: {address}, \
                     reason: ... }}]",
                    rule.peer
                ),
            ));
        }
        ingress.push(rule);
    }
    let mut egress = Vec::new();
    for (i, r) in g.egress.iter().enumerate() {
        egress.push(rule_of(
            spec,
            &format!("{path}.egress.{i}"),
            r,
            false,
            &g.network,
        )?);
    }
    ingress.sort();
    ingress.dedup();
    egress.sort();
    egress.dedup();
    Ok((ingress, egress))
}

#[async_trait]
impl Reconciler for SecurityGroupKind {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS, EC2_SHARED, super::prefix_lists::PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn decls(&self, spec: &LoadedSpec, _r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, g) in &spec.spec.security_groups {
            let path = format!("security_groups.{name}");
            if !spec.spec.network.contains_key(&g.network) {
                return Err(spec.error(
                    &format!("{path}.network"),
                    format!(
                        "`{}` is not a network of the spec's `network` section{}",
                        g.network,
                        crate::suggest::did_you_mean(
                            &g.network,
                            spec.spec.network.keys().map(String::as_str)
                        )
                    ),
                ));
            }
            if g.description.is_empty() || g.description.len() > 255 || !g.description.is_ascii() {
                return Err(spec.error(
                    &format!("{path}.description"),
                    "a description is 1 to 255 ASCII characters",
                ));
            }
            rules(spec, name)?;
            let gname = group_name(spec, name);
            out.push(Decl {
                address: format!("security_group.{name}"),
                kind: "security_group",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: gname.clone(),
                identity_key: path,
                deps: vec![format!("network.{}", g.network)],
                outputs: json!({ "name": gname }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let g = &spec.spec.security_groups[&decl.name];
        let (ingress, egress) = rules(spec, &decl.name)?;
        let vpc_id = r
            .value("network")
            .and_then(|n| n[&g.network]["vpc_id"].as_str())
            .unwrap_or(UNKNOWN)
            .to_string();
        let mut peers = BTreeMap::new();
        for rule in ingress.iter().chain(&egress) {
            let Some(p) = rule.peer.strip_prefix("sg:") else {
                continue;
            };
            let Some((logical, pg)) = spec
                .spec
                .security_groups
                .iter()
                .find(|(n, _)| group_name(spec, n) == p)
            else {
                continue;
            };
            peers.insert(
                p.to_string(),
                Peer {
                    description: pg.description.clone(),
                    tags: desired_tags(spec, &format!("security_group.{logical}"), &pg.tags),
                },
            );
        }
        let state = SecurityGroupState {
            group_name: decl.identity.clone(),
            vpc_id,
            description: g.description.clone(),
            ingress,
            egress,
            tags: desired_tags(spec, &decl.address, &g.tags),
            peers,
        };
        Ok(serde_json::to_value(state).expect("a group state serialises"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        if let Some(o) = read(cx, &decl.region, &decl.address).await? {
            return Ok(o);
        }
        // Not ours: a group of the spec's name (made outside novactl) is foreign.
        let out = cx
            .clients(&decl.region)
            .ec2
            .describe_security_groups()
            .filters(filter("group-name", &decl.identity))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
        match out.security_groups() {
            [g] => observed_of(cx, &decl.region, &decl.address, g).await,
            _ => Ok(Observed::absent(&decl.address)),
        }
    }

    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        import::import_group(cx, req).await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: SecurityGroupState = from_desired(&decl.address, desired)?;
        // Made without a read first: a new group holds AWS's one stock rule (all traffic out).
        // A create that fails (a peer's create made it already, see the module comment, or a
        // resent call) falls back to finding the group.
        let group = NewGroup {
            vpc: &d.vpc_id,
            name: &d.group_name,
            description: &d.description,
            tags: &d.tags,
        };
        let made = create_group(cx, &decl.region, &group).await;
        if let Some(id) = made {
            crate::faults::point("ec2.after_create_security_group", &decl.address)?;
            let fresh = SecurityGroupState {
                ingress: Vec::new(),
                egress: vec![Rule::aws_default_egress()],
                peers: BTreeMap::new(),
                ..d.clone()
            };
            let live = Observed {
                address: decl.address.clone(),
                physical_id: id.clone(),
                state: Some(serde_json::to_value(fresh).expect("a group state serialises")),
                owner: crate::resources::Owner::Ours,
                outputs: json!({ "name": d.group_name, "id": id }),
            };
            converge(cx, decl, &d, &live, &["ingress".into(), "egress".into()]).await?;
            return Ok(live.outputs);
        }
        let live = match read(cx, &decl.region, &decl.address).await? {
            Some(o) => o,
            None => {
                ensure_group(cx, &decl.region, &group).await?;
                crate::faults::point("ec2.after_create_security_group", &decl.address)?;
                read(cx, &decl.region, &decl.address)
                    .await?
                    .unwrap_or_else(|| Observed::absent(&decl.address))
            }
        };
        converge(cx, decl, &d, &live, &["ingress".into(), "egress".into()]).await?;
        Ok(json!({ "name": d.group_name, "id": live.physical_id }))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: SecurityGroupState = from_desired(&decl.address, desired)?;
        converge(cx, decl, &d, observed, changed).await?;
        Ok(observed.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let ec2 = &cx.clients(t.region).ec2;
        let id = t.observed.physical_id.as_str();
        if id.is_empty() {
            return Ok(());
        }
        let Some(vpc) = t.observed.state.as_ref().and_then(|s| s["vpc_id"].as_str()) else {
            return Ok(());
        };
        // Rules of other groups that name this one, then its own.
        let groups = in_vpc(cx, t.region, vpc).await?;
        let names = names_by_id(&groups);
        let ids = ids_by_name(&groups);
        let me = format!("sg:{}", names.get(id).cloned().unwrap_or_default());
        for g in &groups {
            let gid = g.group_id().unwrap_or_default();
            for (dir, perms) in [
                (Direction::Ingress, g.ip_permissions()),
                (Direction::Egress, g.ip_permissions_egress()),
            ] {
                let live = rules_of(perms, &names);
                let keep: Vec<Rule> = if gid == id {
                    Vec::new()
                } else {
                    live.iter().filter(|r| r.peer != me).cloned().collect()
                };
                if keep.len() != live.len() {
                    match sync_rules(ec2, gid, dir, &live, &keep, &ids).await {
                        // Another group deleted meanwhile (destroy deletes groups in
                        // parallel): its rules went with it.
                        Err(e) if gid != id && e.code == "InvalidGroup.NotFound" => {}
                        r => r?,
                    }
                }
            }
        }
        crate::resources::kit::ec2::delete_security_group(ec2, &t.observed.address, id, cx.progress)
            .await
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for f in found {
            let id = f.name().to_string();
            let g = cx
                .clients(region)
                .ec2
                .describe_security_groups()
                .group_ids(&id)
                .send()
                .await;
            let Ok(g) = g else { continue };
            let Some(g) = g.security_groups().first() else {
                continue;
            };
            // The spec's own groups are read by observe.
            if cx.in_spec("security_group", region, g.group_name().unwrap_or_default()) {
                continue;
            }
            out.push(observed_of(cx, region, &f.address, g).await?);
        }
        Ok(out)
    }
}

fn names_by_id(groups: &[SecurityGroup]) -> BTreeMap<String, String> {
    groups
        .iter()
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_string(),
                g.group_name().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn ids_by_name(groups: &[SecurityGroup]) -> BTreeMap<String, String> {
    names_by_id(groups)
        .into_iter()
        .map(|(i, n)| (n, i))
        .collect()
}

/// Makes the `changed` attributes of the group match `d`.
async fn converge(
    cx: &Ctx<'_>,
    decl: &Decl,
    d: &SecurityGroupState,
    live: &Observed,
    changed: &[String],
) -> Result<(), AwsError> {
    let region = decl.region.as_str();
    let ec2 = &cx.clients(region).ec2;
    let id = live.physical_id.as_str();
    let state: SecurityGroupState = match &live.state {
        Some(s) => from_desired(&decl.address, s)?,
        None => return Ok(()),
    };
    let has = |p: &str| changed.iter().any(|c| c == p);
    if has("ingress") || has("egress") {
        // Peers first: a rule needs its peer's id (no read when no rule names a group).
        let names_a_group = |r: &[Rule]| r.iter().any(|r| r.peer.starts_with("sg:"));
        let all = [&state.ingress, &state.egress, &d.ingress, &d.egress];
        let mut groups = if all.iter().any(|r| names_a_group(r)) || !d.peers.is_empty() {
            in_vpc(cx, region, &d.vpc_id).await?
        } else {
            Vec::new()
        };
        let mut made = false;
        for (p, peer) in &d.peers {
            if !groups.iter().any(|g| g.group_name() == Some(p.as_str())) {
                let g = NewGroup {
                    vpc: &d.vpc_id,
                    name: p,
                    description: &peer.description,
                    tags: &peer.tags,
                };
                ensure_group(cx, region, &g).await?;
                made = true;
            }
        }
        if made {
            groups = in_vpc(cx, region, &d.vpc_id).await?;
        }
        let ids = ids_by_name(&groups);
        // Prefix lists named by their service (`pl:s3`), live and desired, by their ids.
        let lists = if all.iter().any(|r| prefix_lists::names_a_service(r)) {
            prefix_lists::gateway_lists(cx, region).await?
        } else {
            BTreeMap::new()
        };
        let by_id = |r: &[Rule]| prefix_lists::resolve(region, r, &lists);
        for (attr, dir, live, want) in [
            ("ingress", Direction::Ingress, &state.ingress, &d.ingress),
            ("egress", Direction::Egress, &state.egress, &d.egress),
        ] {
            if has(attr) {
                sync_rules(ec2, id, dir, &by_id(live)?, &by_id(want)?, &ids).await?;
            }
        }
    }
    if has("tags") {
        sync_tags(ec2, id, &state.tags, &d.tags).await?;
    }
    Ok(())
}

/// The group tagged as `address` in this environment; `None` when there is none.
async fn read(cx: &Ctx<'_>, region: &str, address: &str) -> Result<Option<Observed>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_security_groups()
        .filters(filter(&format!("tag:{TAG_ADDRESS}"), address))
        .filters(filter(&format!("tag:{TAG_ENVIRONMENT}"), cx.environment))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
    let mut groups = out.security_groups().to_vec();
    groups.sort_by(|a, b| a.group_id().cmp(&b.group_id()));
    match groups.first() {
        Some(g) => Ok(Some(observed_of(cx, region, address, g).await?)),
        None => Ok(None),
    }
}

async fn observed_of(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    g: &SecurityGroup,
) -> Result<Observed, AwsError> {
    // The names of the groups its rules name.
    let peer_ids: Vec<String> = g
        .ip_permissions()
        .iter()
        .chain(g.ip_permissions_egress())
        .flat_map(|p| p.user_id_group_pairs())
        .filter_map(|p| p.group_id().map(String::from))
        .collect();
    let names = if peer_ids.is_empty() {
        BTreeMap::new()
    } else {
        let out = cx
            .clients(region)
            .ec2
            .describe_security_groups()
            .filters(filter("vpc-id", g.vpc_id().unwrap_or_default()))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DescribeSecurityGroups"))?;
        names_by_id(out.security_groups())
    };
    let mut ingress = rules_of(g.ip_permissions(), &names);
    let mut egress = rules_of(g.ip_permissions_egress(), &names);
    // A gateway service's prefix list reads as the service, as the spec names it.
    if ingress
        .iter()
        .chain(&egress)
        .any(|r| r.peer.starts_with("pl:"))
    {
        let lists = prefix_lists::gateway_lists(cx, region).await?;
        ingress = prefix_lists::named(ingress, &lists);
        egress = prefix_lists::named(egress, &lists);
    }
    let tags = tags_of(g.tags());
    let owner = owner_of(&tags, address, cx.environment);
    let id = g.group_id().unwrap_or_default().to_string();
    let name = g.group_name().unwrap_or_default().to_string();
    let state = SecurityGroupState {
        group_name: name.clone(),
        vpc_id: g.vpc_id().unwrap_or_default().to_string(),
        description: g.description().unwrap_or_default().to_string(),
        ingress,
        egress,
        tags,
        peers: BTreeMap::new(),
    };
    Ok(Observed {
        address: address.to_string(),
        physical_id: id.clone(),
        state: Some(serde_json::to_value(state).expect("a group state serialises")),
        owner: if matches!(owner, Owner::Ours) {
            Owner::Ours
        } else {
            owner
        },
        outputs: json!({ "name": name, "id": id }),
    })
}
