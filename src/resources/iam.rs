//! `iam.*`: an IAM role with its trust policy (service principals), inline policies rendered
//! from template files, an optional description and tags.
//!
//! # Expected flow
//! `observe` reads the role (GetRole), its tags and every inline policy; `create` makes the
//! role with its trust policy and ownership tags in one call, then puts the inline policies;
//! `update` writes only the attributes the engine found changed.
//!
//! # Guarantees
//! * The role carries its ownership tags from CreateRole on, so a run that dies before the
//!   inline policies were put is found again as ours: the next plan is an update
//!   (`inline_policies`), not a create or a conflict.
//! * Policy documents are compared as normalised JSON ([`crate::policy`]): IAM hands them
//!   back URL-encoded and re-serialised.
//! * Inline policies are owned in full: one added out of band is deleted by `update`.
//!
//! # Caveats
//! * IAM is global. Roles are read and written through the primary region's client, and
//!   `discover` answers only for the primary region so a DR region does not list them twice.
//! * Managed-policy attachments and instance profiles are not managed; `delete` removes them
//!   because IAM refuses to delete a role that still has them.
//! * A `description` left out of the spec is not managed (desired `null`).

use std::collections::HashMap;

mod import;

use async_trait::async_trait;
use aws_sdk_iam::types::{Role, Tag};
use aws_smithy_runtime_api::client::result::SdkError;
use futures::future::try_join_all;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    desired_tags, from_desired, tags_json, Ctx, Decl, DeleteTarget, Observed, Owner, Reconciler,
};
use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::plan::diff;
use crate::resources::kind::KindInfo;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::refs::role_arn;
use crate::resources::kit::tags::{owner_of, tags_map, IamRoleTags, Tags};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `iam` (see [`KindInfo`]).
pub const INFO: KindInfo =
    KindInfo::new("iam", "iam", |s, n| s.iam.get(n).and_then(|r| r.protect)).global_names();

/// The calls that make, read, repair and delete one role, whose ARN is `$role` (a template,
/// see `ops::permissions::expand`): the `iam` kind's roles, and the roles other kinds own
/// ([`OWNED_ROLE`]).
macro_rules! role_calls {
    ($role:expr) => {
        &[
            perm("iam:GetRole", &["iam:GetRole"], &[$role]),
            perm(
                "iam:CreateRole",
                &["iam:CreateRole", "iam:TagRole"],
                &[$role],
            ),
            perm("iam:UpdateRole", &["iam:UpdateRole"], &[$role]),
            perm(
                "iam:UpdateAssumeRolePolicy",
                &["iam:UpdateAssumeRolePolicy"],
                &[$role],
            ),
            perm("iam:DeleteRole", &["iam:DeleteRole"], &[$role]),
            perm("iam:TagRole", &["iam:TagRole"], &[$role]),
            perm("iam:UntagRole", &["iam:UntagRole"], &[$role]),
            perm("iam:ListRolePolicies", &["iam:ListRolePolicies"], &[$role]),
            perm("iam:GetRolePolicy", &["iam:GetRolePolicy"], &[$role]),
            perm("iam:PutRolePolicy", &["iam:PutRolePolicy"], &[$role]),
            perm("iam:DeleteRolePolicy", &["iam:DeleteRolePolicy"], &[$role]),
            perm(
                "iam:ListAttachedRolePolicies",
                &["iam:ListAttachedRolePolicies"],
                &[$role],
            ),
            perm("iam:DetachRolePolicy", &["iam:DetachRolePolicy"], &[$role]),
            perm(
                "iam:ListInstanceProfilesForRole",
                &["iam:ListInstanceProfilesForRole"],
                &[$role],
            ),
        ]
    };
}
pub(crate) use role_calls;

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]):
/// these and [`ROLE_CALLS`]. Discovery lists the account's roles and reads the tags of those
/// the spec does not name.
pub const PERMISSIONS: &[Perm] = &[
    perm("iam:ListRoles", &["iam:ListRoles"], &["*"]),
    perm(
        "iam:ListRoleTags",
        &["iam:ListRoleTags"],
        &["arn:aws:iam::{account}:role/*"],
    ),
    perm(
        "iam:RemoveRoleFromInstanceProfile",
        &["iam:RemoveRoleFromInstanceProfile"],
        &["arn:aws:iam::{account}:instance-profile/*"],
    ),
];
/// The calls on the kind's own roles.
pub const ROLE_CALLS: &[Perm] = role_calls!("arn:aws:iam::{account}:role/{id}");

pub struct Iam;

/// A role's state, desired and observed alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleState {
    pub name: String,
    /// Normalised; `null` when IAM handed none back.
    pub trust_policy: Value,
    /// Policy name -> normalised document, in the order they were rendered or listed.
    pub inline_policies: Map<String, Value>,
    /// `None` (desired): not managed.
    pub description: Option<String>,
    pub tags: Tags,
}

/// Concurrent ListRoleTags calls made by `discover`.
const DISCOVER_CONCURRENCY: usize = 16;

#[async_trait]
impl Reconciler for Iam {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS, ROLE_CALLS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let account = r.str("account_id", "{{ account_id }}")?;
        let mut out = Vec::new();
        for (name, role) in &spec.spec.iam {
            let path = format!("iam.{name}");
            let role_name = r.str(&format!("{path}.name"), &role.name)?;
            if let Err(why) = check_role_name(&role_name) {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!("`{role_name}` is not a valid IAM role name: {why}"),
                ));
            }
            if role.trust.is_empty() {
                return Err(spec.error(
                    &format!("{path}.trust"),
                    "must name at least one service principal (e.g. sagemaker.amazonaws.com)",
                ));
            }
            for (i, t) in role.trust.iter().enumerate() {
                let key = format!("{path}.trust.{i}");
                let principal = r.str(&key, t)?;
                if !is_service_principal(&principal) {
                    return Err(spec.error(
                        &key,
                        format!(
                            "`{principal}` is not a service principal: expected a name like \
                             `sagemaker.amazonaws.com`"
                        ),
                    ));
                }
            }
            let mut template_files = Vec::new();
            let mut deps = Vec::new();
            for (pname, rel) in &role.policies {
                let key = format!("{path}.policies.{pname}");
                if let Err(why) = check_policy_name(pname) {
                    return Err(spec.error(
                        &key,
                        format!("`{pname}` is not a valid inline policy name: {why}"),
                    ));
                }
                let file = spec.template_path(rel);
                if !file.is_file() {
                    return Err(spec.error(
                        &key,
                        format!("policy template file {} does not exist", file.display()),
                    ));
                }
                template_files.push(file);
                deps.extend(r.file_refs(rel));
            }
            deps.sort();
            deps.dedup();
            deps.retain(|d| d != &path);
            out.push(Decl {
                address: path.clone(),
                kind: "iam",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: role_name.clone(),
                identity_key: format!("{path}.name"),
                deps,
                outputs: json!({
                    "name": role_name,
                    "arn": role_arn(&account, &role_name),
                }),
                template_files,
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let role = &spec.spec.iam[&decl.name];
        let path = &decl.spec_path;
        let mut principals = Vec::new();
        for (i, t) in role.trust.iter().enumerate() {
            principals.push(r.str(&format!("{path}.trust.{i}"), t)?);
        }
        let account = r.str("account_id", "{{ account_id }}")?;
        let source_arn = match &role.source_arn {
            Some(a) => Some(r.str(&format!("{path}.source_arn"), a)?),
            None => None,
        };
        let mut inline_policies = Map::new();
        for (pname, rel) in &role.policies {
            let doc = r.json_file(&format!("{path}.policies.{pname}"), rel)?;
            inline_policies.insert(pname.clone(), crate::policy::normalize(&doc));
        }
        let description = match &role.description {
            Some(d) => Some(r.str(&format!("{path}.description"), d)?),
            None => None,
        };
        let state = RoleState {
            name: decl.identity.clone(),
            trust_policy: trust_policy(
                &principals,
                role.source_account.then_some(account.as_str()),
                source_arn.as_deref(),
            ),
            inline_policies,
            description,
            tags: desired_tags(spec, &decl.address, &role.tags),
        };
        Ok(serde_json::to_value(state).expect("a role state serialises"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        // GetRole first: a missing role needs no further read (an apply from empty makes one
        // call per role here), at the price of one round trip more for a live role.
        let Some(role) = get_role(cx, &decl.region, &decl.identity).await? else {
            return Ok(Observed::absent(&decl.address));
        };
        let inline = match inline_policies(cx, &decl.region, &decl.identity).await {
            Ok(v) => v,
            Err(Step::Gone) => return Ok(Observed::absent(&decl.address)),
            Err(Step::Failed(e)) => return Err(e),
        };
        let tags = (!role.tags().is_empty()).then(|| tags_of(role.tags()));
        Ok(
            read_role(cx, &decl.region, &decl.address, &role, tags, Some(inline))
                .await?
                .unwrap_or_else(|| Observed::absent(&decl.address)),
        )
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: RoleState = from_desired(&decl.address, desired)?;
        let iam = &cx.clients(&decl.region).iam;
        let mut req = iam
            .create_role()
            .role_name(&d.name)
            .assume_role_policy_document(d.trust_policy.to_string())
            .set_description(d.description.clone());
        for (k, v) in &d.tags {
            req = req.tags(tag(k, v)?);
        }
        let arn = match req.send().await {
            Ok(out) => out
                .role
                .map(|r| r.arn)
                .unwrap_or_else(|| role_arn(cx.account_id, &d.name)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_entity_already_exists_exception()) =>
            {
                // Ours from an earlier run (or a race with one): converge it. Anyone else's:
                // refuse, naming it.
                let observed = self.observe(cx, decl).await?;
                return match &observed.owner {
                    Owner::Ours if observed.state.is_some() => {
                        let changed = changed_keys(desired, observed.state.as_ref());
                        self.update(cx, decl, desired, &observed, &changed).await
                    }
                    Owner::Ours => Err(AwsError::local(
                        "iam:CreateRole",
                        "EntityAlreadyExists",
                        format!(
                            "role {} is reported to exist but cannot be read; try again",
                            d.name
                        ),
                    )),
                    Owner::Foreign { reason } => Err(AwsError::local(
                        "iam:CreateRole",
                        "EntityAlreadyExists",
                        format!(
                            "role {} already exists and is not this address's ({reason}); \
                             rename it in the spec or remove the existing role",
                            d.name
                        ),
                    )),
                };
            }
            Err(e) => return Err(AwsError::from_err("iam:CreateRole", e)),
        };
        crate::faults::point("iam.after_create_role", &decl.address)?;
        for (pname, doc) in &d.inline_policies {
            put_policy(cx, &decl.region, &d.name, pname, doc).await?;
        }
        Ok(json!({"name": d.name, "arn": arn}))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: RoleState = from_desired(&decl.address, desired)?;
        let iam = &cx.clients(&decl.region).iam;
        let role = if observed.physical_id.is_empty() {
            d.name.as_str()
        } else {
            observed.physical_id.as_str()
        };
        let live = observed.state.clone().unwrap_or_default();
        for attr in changed {
            match attr.as_str() {
                "trust_policy" => {
                    iam.update_assume_role_policy()
                        .role_name(role)
                        .policy_document(d.trust_policy.to_string())
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("iam:UpdateAssumeRolePolicy"))?;
                }
                "inline_policies" => {
                    let empty = Map::new();
                    let live_policies = live["inline_policies"].as_object().unwrap_or(&empty);
                    for (pname, doc) in &d.inline_policies {
                        if !live_policies
                            .get(pname)
                            .is_some_and(|l| diff::json_eq(l, doc))
                        {
                            put_policy(cx, &decl.region, role, pname, doc).await?;
                        }
                    }
                    for pname in live_policies.keys() {
                        if !d.inline_policies.contains_key(pname) {
                            delete_policy(cx, &decl.region, role, pname).await?;
                        }
                    }
                }
                "description" => {
                    if let Some(desc) = &d.description {
                        iam.update_role()
                            .role_name(role)
                            .description(desc)
                            .send()
                            .await
                            .map_err(AwsError::from_sdk("iam:UpdateRole"))?;
                    }
                }
                "tags" => {
                    crate::resources::kit::tags::sync(
                        &IamRoleTags { client: iam, role },
                        &live["tags"],
                        &tags_json(&d.tags),
                    )
                    .await?
                }
                // `name` is the identity: a different name is a different role.
                _ => {}
            }
        }
        if observed.outputs.get("arn").is_some() {
            Ok(observed.outputs.clone())
        } else {
            Ok(json!({"name": role, "arn": role_arn(cx.account_id, role)}))
        }
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let role = t.observed.physical_id.as_str();
        if role.is_empty() {
            return Ok(());
        }
        match delete_role(cx, t.region, role).await {
            Err(Step::Gone) => Ok(()),
            Err(Step::Failed(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    }

    /// Roles cannot be found through the tagging API: the candidates are the roles the state
    /// backend's inventory says novactl created. Each is read, and kept only while its tags
    /// still name it this environment's.
    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &super::kit::import::ImportRequest<'_>,
    ) -> Result<super::kit::import::Imported, AwsError> {
        import::import_role(cx, req).await
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(cx, "iam", region, found, &[], |f| async move {
            let Some(role) = get_role(cx, region, f.name()).await? else {
                return Ok(None);
            };
            let tags = if role.tags().is_empty() {
                match role_tags(cx, region, f.name()).await {
                    Ok(t) => t,
                    Err(Step::Gone) => return Ok(None),
                    Err(Step::Failed(e)) => return Err(e),
                }
            } else {
                tags_of(role.tags())
            };
            let Some(address) = super::ours_of_kind(&tags_json(&tags), cx.environment, "iam")
            else {
                return Ok(None);
            };
            read_role(cx, region, &address, &role, Some(tags), None).await
        })
        .await
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        if region != cx.aws.primary {
            return Ok(Vec::new());
        }
        let iam = &cx.clients(region).iam;
        let mut roles = Vec::new();
        let mut pages = iam.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("iam:ListRoles"))?;
            // The spec's own roles are read by observe.
            roles.extend(
                page.roles
                    .into_iter()
                    .filter(|r| !cx.in_spec("iam", region, &r.role_name)),
            );
        }
        let tagged: Vec<Option<(Role, Tags)>> = stream::iter(roles)
            .map(|role| async move {
                match role_tags(cx, region, &role.role_name).await {
                    Ok(tags) => Ok(Some((role, tags))),
                    // Deleted since ListRoles.
                    Err(Step::Gone) => Ok(None),
                    Err(Step::Failed(e)) => Err(e),
                }
            })
            .buffer_unordered(DISCOVER_CONCURRENCY)
            .try_collect()
            .await?;
        let listed: Vec<(String, Value)> = tagged
            .iter()
            .flatten()
            .map(|(role, tags)| (role.role_name.clone(), tags_json(tags)))
            .collect();
        let roles: HashMap<String, (Role, Tags)> = tagged
            .into_iter()
            .flatten()
            .map(|(role, tags)| (role.role_name.clone(), (role, tags)))
            .collect();
        let roles = &roles;
        read_tagged(cx, "iam", listed, &[], |name, address| async move {
            let (role, tags) = &roles[&name];
            read_role(cx, region, &address, role, Some(tags.clone()), None).await
        })
        .await
    }
}

/// Why a multi-call read or delete stopped early: the role vanished, or a real failure.
enum Step {
    Gone,
    Failed(AwsError),
}

impl From<AwsError> for Step {
    fn from(e: AwsError) -> Self {
        Step::Failed(e)
    }
}

/// A service error that the typed check `is_gone` classifies as NoSuchEntity.
fn no_such_entity<E, R>(e: &SdkError<E, R>, is_gone: impl Fn(&E) -> bool) -> bool {
    e.as_service_error().is_some_and(is_gone)
}

/// Maps an SDK result: NoSuchEntity (by the operation's typed check) to [`Step::Gone`].
macro_rules! step {
    ($op:literal, $call:expr) => {
        match $call {
            Ok(v) => Ok(v),
            Err(e) if no_such_entity(&e, |se| se.is_no_such_entity_exception()) => Err(Step::Gone),
            Err(e) => Err(Step::Failed(AwsError::from_err($op, e))),
        }
    };
}

/// IAM role names: 1 to 64 characters of letters, digits and `+=,.@_-`.
fn check_role_name(name: &str) -> Result<(), String> {
    check_iam_name(name, 64)
}

/// Inline policy names: 1 to 128 characters of letters, digits and `+=,.@_-`.
fn check_policy_name(name: &str) -> Result<(), String> {
    check_iam_name(name, 128)
}

fn check_iam_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!(
            "it must be 1 to {max} characters long (it is {})",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(format!(
            "`{c}` is not allowed (only letters, digits and + = , . @ _ -)"
        ));
    }
    Ok(())
}

/// `sagemaker.amazonaws.com`, `logs.us-east-1.amazonaws.com`, `ecs-tasks.amazonaws.com`.
fn is_service_principal(p: &str) -> bool {
    let host = p
        .strip_suffix(".amazonaws.com")
        .or_else(|| p.strip_suffix(".amazonaws.com.cn"));
    host.is_some_and(|h| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    })
}

/// The trust policy letting `services` assume the role, normalised: only on behalf of
/// `account` (`aws:SourceAccount`) and, when given, of resources matching `source_arn`
/// (`aws:SourceArn`), which keeps a service from being used as a confused deputy.
fn trust_policy(services: &[String], account: Option<&str>, source_arn: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"Service": services},
        "Action": "sts:AssumeRole",
    });
    let mut condition = Map::new();
    if let Some(a) = account {
        condition.insert("StringEquals".into(), json!({"aws:SourceAccount": a}));
    }
    if let Some(arn) = source_arn {
        condition.insert("ArnLike".into(), json!({"aws:SourceArn": arn}));
    }
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [statement],
    }))
}

/// Top-level attributes of `desired` that differ from `live`, as the engine computes them.
fn changed_keys(desired: &Value, live: Option<&Value>) -> Vec<String> {
    let live = live.cloned().unwrap_or_default();
    diff::top_level(&diff::changes(&live, desired, &[]))
}

fn tag(k: &str, v: &str) -> Result<Tag, AwsError> {
    Tag::builder()
        .key(k)
        .value(v)
        .build()
        .map_err(|e| AwsError::local("iam:Tag", "InvalidTag", format!("tag {k}={v}: {e}")))
}

fn tags_of(tags: &[Tag]) -> Tags {
    tags_map(tags.iter().map(|t| (t.key(), t.value())))
}

/// The role named `name`, `None` when there is none (GetRole).
async fn get_role(cx: &Ctx<'_>, region: &str, name: &str) -> Result<Option<Role>, AwsError> {
    match cx
        .clients(region)
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.role),
        Err(e) if no_such_entity(&e, |se| se.is_no_such_entity_exception()) => Ok(None),
        Err(e) => Err(AwsError::from_err("iam:GetRole", e)),
    }
}

/// The role's live state and outputs, given its GetRole/ListRoles entry (and its tags and
/// inline policies when already known). `None` when the role vanished while being read.
async fn read_role(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    role: &Role,
    tags: Option<Tags>,
    inline: Option<Map<String, Value>>,
) -> Result<Option<Observed>, AwsError> {
    let name = role.role_name();
    let read = tokio::try_join!(
        async {
            match tags {
                Some(t) => Ok(t),
                None => role_tags(cx, region, name).await,
            }
        },
        async {
            match inline {
                Some(v) => Ok(v),
                None => inline_policies(cx, region, name).await,
            }
        },
    );
    let (tags, inline) = match read {
        Ok(v) => v,
        Err(Step::Gone) => return Ok(None),
        Err(Step::Failed(e)) => return Err(e),
    };
    let owner = owner_of(&tags, address, cx.environment);
    let trust = role
        .assume_role_policy_document()
        .map(crate::policy::parse_returned);
    Ok(Some(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(
            serde_json::to_value(RoleState {
                name: name.to_string(),
                trust_policy: trust.unwrap_or(Value::Null),
                inline_policies: inline,
                description: role.description().map(str::to_string),
                tags,
            })
            .expect("a role state serialises"),
        ),
        owner,
        outputs: json!({"name": name, "arn": role.arn()}),
    }))
}

async fn role_tags(cx: &Ctx<'_>, region: &str, role: &str) -> Result<Tags, Step> {
    let iam = &cx.clients(region).iam;
    let mut tags = Vec::new();
    let mut pages = iam.list_role_tags().role_name(role).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = step!("iam:ListRoleTags", page)?;
        tags.extend(page.tags);
    }
    Ok(tags_of(&tags))
}

/// Every inline policy of `role`, name -> normalised document (read concurrently).
async fn inline_policies(
    cx: &Ctx<'_>,
    region: &str,
    role: &str,
) -> Result<Map<String, Value>, Step> {
    let names = inline_policy_names(cx, region, role).await?;
    let iam = &cx.clients(region).iam;
    let docs = try_join_all(names.into_iter().map(|pname| async move {
        let out = step!(
            "iam:GetRolePolicy",
            iam.get_role_policy()
                .role_name(role)
                .policy_name(&pname)
                .send()
                .await
        )?;
        Ok::<_, Step>((pname, crate::policy::parse_returned(&out.policy_document)))
    }))
    .await?;
    Ok(docs.into_iter().collect())
}

async fn inline_policy_names(cx: &Ctx<'_>, region: &str, role: &str) -> Result<Vec<String>, Step> {
    let iam = &cx.clients(region).iam;
    let mut names = Vec::new();
    let mut pages = iam
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = step!("iam:ListRolePolicies", page)?;
        names.extend(page.policy_names);
    }
    Ok(names)
}

async fn put_policy(
    cx: &Ctx<'_>,
    region: &str,
    role: &str,
    pname: &str,
    doc: &Value,
) -> Result<(), AwsError> {
    cx.clients(region)
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name(pname)
        .policy_document(doc.to_string())
        .send()
        .await
        .map_err(AwsError::from_sdk("iam:PutRolePolicy"))?;
    Ok(())
}

async fn delete_policy(
    cx: &Ctx<'_>,
    region: &str,
    role: &str,
    pname: &str,
) -> Result<(), AwsError> {
    let out = cx
        .clients(region)
        .iam
        .delete_role_policy()
        .role_name(role)
        .policy_name(pname)
        .send()
        .await;
    match step!("iam:DeleteRolePolicy", out) {
        Ok(_) | Err(Step::Gone) => Ok(()),
        Err(Step::Failed(e)) => Err(e),
    }
}

/// Empties the role of what IAM refuses to delete it with, then deletes it. `Step::Gone` as
/// soon as any call finds the role missing.
/// The ARNs of the managed policies attached to `role`.
async fn attached_policies(cx: &Ctx<'_>, region: &str, role: &str) -> Result<Vec<String>, Step> {
    let iam = &cx.clients(region).iam;
    let mut attached = Vec::new();
    let mut pages = iam
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = step!("iam:ListAttachedRolePolicies", page)?;
        attached.extend(
            page.attached_policies
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.policy_arn),
        );
    }
    Ok(attached)
}

async fn delete_role(cx: &Ctx<'_>, region: &str, role: &str) -> Result<(), Step> {
    let iam = &cx.clients(region).iam;
    for pname in inline_policy_names(cx, region, role).await? {
        delete_policy(cx, region, role, &pname).await?;
    }

    for arn in attached_policies(cx, region, role).await? {
        let out = iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(&arn)
            .send()
            .await;
        // NoSuchEntity here may mean the policy was detached meanwhile: carry on.
        match step!("iam:DetachRolePolicy", out) {
            Ok(_) | Err(Step::Gone) => {}
            Err(e) => return Err(e),
        }
    }

    let mut profiles = Vec::new();
    let mut pages = iam
        .list_instance_profiles_for_role()
        .role_name(role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = step!("iam:ListInstanceProfilesForRole", page)?;
        profiles.extend(
            page.instance_profiles
                .into_iter()
                .map(|p| p.instance_profile_name),
        );
    }
    for profile in profiles {
        let out = iam
            .remove_role_from_instance_profile()
            .instance_profile_name(&profile)
            .role_name(role)
            .send()
            .await;
        match step!("iam:RemoveRoleFromInstanceProfile", out) {
            Ok(_) | Err(Step::Gone) => {}
            Err(e) => return Err(e),
        }
    }

    step!(
        "iam:DeleteRole",
        iam.delete_role().role_name(role).send().await
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn ctx() -> Value {
        json!({
            "environment": "test",
            "region": "us-east-1",
            "account_id": ACCOUNT,
            "vars": {},
            "kms": {"phi": {"arn": "arn:aws:kms:us-east-1:123456789012:key/k-1"}},
            "s3": {
                "models": {"name": "m", "arn": "arn:aws:s3:::m"},
                "logs": {"name": "l", "arn": "arn:aws:s3:::l"},
            },
        })
    }

    /// A project dir with `environments/test.yaml` = `yaml` and `policies/` holding `files`.
    fn project(yaml: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, LoadedSpec) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("environments")).unwrap();
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("policies").join(name), text).unwrap();
        }
        let path = dir.path().join("environments/test.yaml");
        std::fs::write(&path, yaml).unwrap();
        let spec = LoadedSpec::from_text(&path, yaml.to_string()).unwrap();
        (dir, spec)
    }

    const READ_MODELS: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Action": "s3:GetObject", "Resource": "{{ s3.models.arn }}/*"}}"#;

    #[test]
    fn decls_name_arn_deps_and_files() {
        let yaml = "environment: test\nregion: us-east-1\niam:\n  exec:\n    name: \"{{ environment }}-Exec\"\n    trust: [sagemaker.amazonaws.com]\n    policies:\n      read: ../policies/read.json.tera\n";
        let (_dir, spec) = project(yaml, &[("read.json.tera", READ_MODELS)]);
        let c = ctx();
        let r = Renderer::new(&spec, &c);
        let decls = Iam.decls(&spec, &r).unwrap();
        assert_eq!(decls.len(), 1);
        let d = &decls[0];
        assert_eq!(d.address, "iam.exec");
        assert_eq!(d.identity, "test-Exec");
        assert_eq!(d.identity_key, "iam.exec.name");
        assert_eq!(d.deps, vec!["s3.models".to_string()]);
        assert_eq!(
            d.outputs,
            json!({"name": "test-Exec", "arn": "arn:aws:iam::123456789012:role/test-Exec"})
        );
        assert_eq!(d.template_files.len(), 1);
        assert!(d.template_files[0].ends_with("read.json.tera"));
    }

    #[test]
    fn desired_renders_trust_and_inline_policies() {
        let yaml = "environment: test\nregion: us-east-1\ntags:\n  Project: x\niam:\n  exec:\n    name: Exec\n    trust: [sagemaker.amazonaws.com, ecs-tasks.amazonaws.com]\n    policies:\n      read: ../policies/read.json.tera\n";
        let (_dir, spec) = project(yaml, &[("read.json.tera", READ_MODELS)]);
        let c = ctx();
        let r = Renderer::new(&spec, &c);
        let decl = Iam.decls(&spec, &r).unwrap().remove(0);
        let d = Iam.desired(&spec, &decl, &r).unwrap();
        assert_eq!(d["name"], "Exec");
        assert_eq!(
            d["trust_policy"],
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": ["ecs-tasks.amazonaws.com", "sagemaker.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ["123456789012"]}}}]})
        );
        assert_eq!(
            d["inline_policies"],
            json!({"read": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::m/*"]}]}})
        );
        assert_eq!(d["description"], Value::Null);
        assert_eq!(
            d["tags"],
            json!({"Project": "x", "novactl:address": "iam.exec", "novactl:environment": "test"})
        );
        // What IAM hands back (URL-encoded, re-spelt) compares equal.
        let returned = urlencoding::encode(
            r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["sagemaker.amazonaws.com","ecs-tasks.amazonaws.com"]},"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}],"Version":"2012-10-17"}"#,
        );
        assert_eq!(crate::policy::parse_returned(&returned), d["trust_policy"]);
        // `source_account: false` drops the condition; `source_arn` adds an ArnLike.
        let yaml2 = yaml.replace(
            "    name: Exec\n",
            "    name: Exec\n    source_account: false\n    source_arn: \"arn:aws:sagemaker:{{ region }}:{{ account_id }}:*\"\n",
        );
        let (_dir2, spec2) = project(&yaml2, &[("read.json.tera", READ_MODELS)]);
        let r2 = Renderer::new(&spec2, &c);
        let decl2 = Iam.decls(&spec2, &r2).unwrap().remove(0);
        let d2 = Iam.desired(&spec2, &decl2, &r2).unwrap();
        assert_eq!(
            d2["trust_policy"]["Statement"][0]["Condition"],
            json!({"ArnLike": {"aws:SourceArn": ["arn:aws:sagemaker:us-east-1:123456789012:*"]}})
        );
        // And the desired document decodes for create/update.
        let typed: RoleState = from_desired(&decl.address, &d).unwrap();
        assert_eq!(typed.inline_policies.len(), 1);
    }

    #[test]
    fn spec_errors_name_key_and_line() {
        struct Case {
            reason: &'static str,
            yaml: &'static str,
            key: &'static str,
            line: usize,
            says: &'static str,
        }
        let head = "environment: test\nregion: us-east-1\niam:\n  exec:\n";
        let cases = [
            Case {
                reason: "a space in the role name",
                yaml: "    name: bad name\n    trust: [sagemaker.amazonaws.com]\n",
                key: "iam.exec.name",
                line: 5,
                says: "not allowed",
            },
            Case {
                reason: "a role name over 64 characters",
                yaml: "    name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n    trust: [sagemaker.amazonaws.com]\n",
                key: "iam.exec.name",
                line: 5,
                says: "1 to 64",
            },
            Case {
                reason: "no trusted principal",
                yaml: "    name: Exec\n    trust: []\n",
                key: "iam.exec.trust",
                line: 6,
                says: "at least one",
            },
            Case {
                reason: "an account ARN instead of a service principal",
                yaml: "    name: Exec\n    trust:\n      - sagemaker.amazonaws.com\n      - arn:aws:iam::123456789012:root\n",
                key: "iam.exec.trust.1",
                line: 8,
                says: "not a service principal",
            },
            Case {
                reason: "a policy template that does not exist",
                yaml: "    name: Exec\n    trust: [sagemaker.amazonaws.com]\n    policies:\n      read: ../policies/read.json.tera\n      write: ../policies/nope.json.tera\n",
                key: "iam.exec.policies.write",
                line: 9,
                says: "nope.json.tera does not exist",
            },
        ];
        for c in cases {
            let yaml = format!("{head}{}", c.yaml);
            let (_dir, spec) = project(&yaml, &[("read.json.tera", READ_MODELS)]);
            let ctx = ctx();
            let r = Renderer::new(&spec, &ctx);
            let err = Iam.decls(&spec, &r).expect_err(c.reason);
            assert_eq!(err.key, c.key, "{}: {err}", c.reason);
            assert_eq!(err.line, Some(c.line), "{}: {err}", c.reason);
            assert!(err.message.contains(c.says), "{}: {err}", c.reason);
        }
    }

    #[test]
    fn a_template_that_is_not_json_is_an_error_at_its_key() {
        let yaml = "environment: test\nregion: us-east-1\niam:\n  exec:\n    name: Exec\n    trust: [sagemaker.amazonaws.com]\n    policies:\n      read: ../policies/read.json.tera\n";
        let (_dir, spec) = project(yaml, &[("read.json.tera", "{\"Version\": {{ region }}}")]);
        let c = ctx();
        let r = Renderer::new(&spec, &c);
        let decl = Iam.decls(&spec, &r).unwrap().remove(0);
        let err = Iam.desired(&spec, &decl, &r).unwrap_err();
        assert_eq!(
            (err.key.as_str(), err.line),
            ("iam.exec.policies.read", Some(8))
        );
        assert!(err.message.contains("does not render to JSON"), "{err}");
    }

    #[test]
    fn repo_policy_templates_render_to_json() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // The spec sits at the repo root here, so templates are named `policies/...`.
        let spec_path = root.join("unit.yaml");
        let yaml = "environment: test\nregion: eu-west-1\nvars:\n  endpoint_name: ep\n";
        let spec = LoadedSpec::from_text(&spec_path, yaml.to_string()).unwrap();
        let mut c = ctx();
        c["region"] = json!("eu-west-1");
        c["vars"] = json!({"endpoint_name": "ep"});
        let r = Renderer::new(&spec, &c);
        let exec = r
            .json_file("x", "policies/sagemaker-execution.json.tera")
            .unwrap();
        let text = exec.to_string();
        assert!(
            text.contains("arn:aws:s3:::m/*") && text.contains("arn:aws:s3:::l"),
            "{text}"
        );
        assert!(text.contains("key/k-1"), "{text}");
        let api = r.json_file("x", "policies/api-service.json.tera").unwrap();
        assert!(
            api.to_string()
                .contains("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep"),
            "{api}"
        );
        let key = r.json_file("x", "policies/kms-phi.json.tera").unwrap();
        let text = key.to_string();
        assert!(text.contains("arn:aws:iam::123456789012:root"), "{text}");
        assert!(text.contains("logs.eu-west-1.amazonaws.com"), "{text}");
        assert!(
            crate::spec::render::refs_in(
                &std::fs::read_to_string(root.join("policies/kms-phi.json.tera")).unwrap()
            )
            .is_empty(),
            "the key policy must not refer to other resources (least of all the key itself)"
        );

        // Without `vars.endpoint_name` the endpoint defaults to the seed's.
        let spec = LoadedSpec::from_text(&spec_path, "environment: t\nregion: us-east-1\n".into())
            .unwrap();
        let mut c = ctx();
        c["vars"] = json!({});
        let r = Renderer::new(&spec, &c);
        let api = r.json_file("x", "policies/api-service.json.tera").unwrap();
        assert!(
            api.to_string().contains("endpoint/mentallama-endpoint"),
            "{api}"
        );
    }

    #[test]
    fn names_and_principals() {
        assert!(check_role_name("SageMakerExecutionRole").is_ok());
        assert!(check_role_name("a+=,.@_-9").is_ok());
        assert!(check_role_name("").is_err());
        assert!(check_role_name("role/x").is_err());
        assert!(check_role_name(&"a".repeat(64)).is_ok());
        assert!(check_role_name(&"a".repeat(65)).is_err());
        assert!(is_service_principal("sagemaker.amazonaws.com"));
        assert!(is_service_principal("logs.us-east-1.amazonaws.com"));
        assert!(is_service_principal("ecs-tasks.amazonaws.com"));
        assert!(!is_service_principal("amazonaws.com"));
        assert!(!is_service_principal(".amazonaws.com"));
        assert!(!is_service_principal("*"));
        assert!(!is_service_principal("Sagemaker.amazonaws.com"));
    }

    #[test]
    fn changed_keys_skip_unmanaged_and_private() {
        let desired = json!({"name": "r", "description": null, "_x": 1, "tags": {"a": "b"},
            "inline_policies": {}});
        let live = json!({"name": "r", "description": "d", "_x": 2, "tags": {"a": "c"},
            "inline_policies": {}});
        assert_eq!(
            changed_keys(&desired, Some(&live)),
            vec!["tags".to_string()]
        );
    }
}
