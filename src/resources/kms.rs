//! `kms.*`: a customer-managed key with alias, description, rotation, key policy and tags.
//!
//! # Crash safety
//! CreateKey returns an AWS-assigned id, and the alias is what finds the key again. A run that
//! dies between CreateKey and CreateAlias would leave a key nobody can find, and the next run
//! would make a second one. So the key is tagged with its address *in* CreateKey, and when the
//! alias is missing `observe` looks for a live key with that tag before reporting absence: the
//! plan is then an update (`alias`), not a create.

use async_trait::async_trait;
use aws_sdk_kms::types::{KeyMetadata, KeyState as KmsKeyState, Tag};
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    desired_tags, from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Reconciler, TAG_ADDRESS,
    TAG_ENVIRONMENT,
};
use crate::aws::{ok_if_gone, Attempts, AwsError};
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::cache::cached_tags;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::kit::tags::{owner_of, tags_json, tags_map, KmsTags, Tags};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `kms` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("kms", "kms", |s, n| s.kms.get(n).and_then(|r| r.protect))
    .scheduled_deletion()
    .tagged_as(&["kms:key"])
    .late_outputs(&["arn", "id"]);

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]).
/// Key ids are assigned by AWS, so key actions cannot name the key in advance.
pub const PERMISSIONS: &[Perm] = &[
    Perm {
        call: "kms:CreateKey",
        actions: &["kms:CreateKey"],
        resources: &["*"],
        // CreateKey with tags: the new key's tags are checked as TagResource on it.
        implied: &[Implied {
            action: "kms:TagResource",
            resources: &[KEYS],
            condition: None,
        }],
    },
    perm("kms:ListKeys", &["kms:ListKeys"], &["*"]),
    perm("kms:ListAliases", &["kms:ListAliases"], &["*"]),
    perm("kms:DescribeKey", &["kms:DescribeKey"], &[KEYS]),
    perm("kms:GetKeyPolicy", &["kms:GetKeyPolicy"], &[KEYS]),
    perm("kms:PutKeyPolicy", &["kms:PutKeyPolicy"], &[KEYS]),
    perm(
        "kms:GetKeyRotationStatus",
        &["kms:GetKeyRotationStatus"],
        &[KEYS],
    ),
    perm("kms:EnableKeyRotation", &["kms:EnableKeyRotation"], &[KEYS]),
    perm(
        "kms:DisableKeyRotation",
        &["kms:DisableKeyRotation"],
        &[KEYS],
    ),
    perm("kms:EnableKey", &["kms:EnableKey"], &[KEYS]),
    perm("kms:CancelKeyDeletion", &["kms:CancelKeyDeletion"], &[KEYS]),
    perm(
        "kms:ScheduleKeyDeletion",
        &["kms:ScheduleKeyDeletion"],
        &[KEYS],
    ),
    perm("kms:ListResourceTags", &["kms:ListResourceTags"], &[KEYS]),
    perm("kms:TagResource", &["kms:TagResource"], &[KEYS]),
    perm("kms:UntagResource", &["kms:UntagResource"], &[KEYS]),
    perm(
        "kms:UpdateKeyDescription",
        &["kms:UpdateKeyDescription"],
        &[KEYS],
    ),
    perm("kms:CreateAlias", &["kms:CreateAlias"], &[KEYS, ALIAS]),
    perm("kms:DeleteAlias", &["kms:DeleteAlias"], &[KEYS, ALIAS]),
];
const KEYS: &str = "arn:aws:kms:{region}:{account}:key/*";
const ALIAS: &str = "arn:aws:kms:{region}:{account}:{id}";

pub struct Kms;

/// Deletion window for a key that left the spec (the contract's default).
const DEFAULT_WINDOW: u32 = 30;

/// A key's state, desired and observed alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// `None` (observed): no alias names the key.
    pub alias: Option<String>,
    pub description: String,
    pub rotation: bool,
    /// KMS's key state (`Enabled`, `Disabled`, `PendingDeletion`, ...).
    pub key_state: String,
    /// The normalised key policy.
    pub policy: Option<Value>,
    pub tags: Tags,
    /// Desired only: the deletion window once the key leaves the spec.
    #[serde(
        rename = "_deletion_window_days",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deletion_window_days: Option<i32>,
}

/// A key's error code when it does not exist.
const NOT_FOUND: &str = "NotFoundException";

#[async_trait]
impl Reconciler for Kms {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, k) in &spec.spec.kms {
            let path = format!("kms.{name}");
            let alias = r.str(&format!("{path}.alias"), &k.alias)?;
            if !alias.starts_with("alias/") || alias.starts_with("alias/aws/") || alias.len() < 7 {
                return Err(spec.error(
                    &format!("{path}.alias"),
                    format!("`{alias}` is not a valid alias: it must start with `alias/` (and not `alias/aws/`)"),
                ));
            }
            if !(7..=30).contains(&k.deletion_window_days) {
                return Err(spec.error(
                    &format!("{path}.deletion_window_days"),
                    format!(
                        "{} is out of range: KMS accepts 7 to 30 days",
                        k.deletion_window_days
                    ),
                ));
            }
            let mut template_files = Vec::new();
            let mut deps = Vec::new();
            if let Some(p) = &k.policy {
                template_files.push(spec.template_path(p));
                deps.extend(r.file_refs(p));
            }
            deps.retain(|d| d != &path);
            out.push(Decl {
                address: path.clone(),
                kind: "kms",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: alias.clone(),
                identity_key: format!("{path}.alias"),
                deps,
                outputs: json!({
                    "alias": alias,
                    "alias_arn": format!("arn:aws:kms:{}:{}:{}", spec.spec.region,
                        crate::resources::kit::refs::account(r), alias),
                }),
                template_files,
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let k = &spec.spec.kms[&decl.name];
        let path = &decl.spec_path;
        let description = match &k.description {
            Some(d) => r.str(&format!("{path}.description"), d)?,
            None => format!("novactl {} {}", spec.spec.environment, decl.address),
        };
        let policy = match &k.policy {
            Some(p) => Some(crate::policy::normalize(
                &r.json_file(&format!("{path}.policy"), p)?,
            )),
            None => None,
        };
        let state = KeyState {
            alias: Some(decl.identity.clone()),
            description,
            rotation: k.rotation,
            key_state: "Enabled".into(),
            policy,
            tags: desired_tags(spec, &decl.address, &k.tags),
            deletion_window_days: Some(k.deletion_window_days as i32),
        };
        Ok(serde_json::to_value(state).expect("a key state serialises"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let kms = &cx.clients(&decl.region).kms;
        let described = kms.describe_key().key_id(&decl.identity).send().await;
        let (meta, alias) = match described {
            Ok(out) => match out.key_metadata {
                Some(m) => (m, Some(decl.identity.clone())),
                None => return Ok(Observed::absent(&decl.address)),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_not_found_exception()) =>
            {
                // The alias is gone: a key tagged with our address may still exist (a crash
                // between CreateKey and CreateAlias, or an alias deleted out of band).
                match find_tagged_key(cx, &decl.region, &decl.address).await? {
                    Some(m) => (m, None),
                    None => return Ok(Observed::absent(&decl.address)),
                }
            }
            Err(e) => return Err(AwsError::from_err("kms:DescribeKey", e)),
        };
        read_key(cx, &decl.region, &decl.address, meta, alias).await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: KeyState = from_desired(&decl.address, desired)?;
        let alias = d.alias.as_deref().unwrap_or(&decl.identity);
        let kms = &cx.clients(&decl.region).kms;
        let mut req = kms.create_key().description(&d.description);
        for (k, v) in &d.tags {
            req = req.tags(tag(k, v));
        }
        if let Some(p) = &d.policy {
            req = req.policy(p.to_string());
        }
        let tries = Attempts::default();
        let out = req
            .customize()
            .interceptor(tries.clone())
            .send()
            .await
            .map_err(AwsError::from_sdk("kms:CreateKey"))?;
        let meta = out.key_metadata.ok_or_else(|| {
            AwsError::local("kms:CreateKey", "EmptyResponse", "no key metadata returned")
        })?;
        crate::faults::point("kms.after_create_key", &decl.address)?;
        let key_id = meta.key_id().to_string();
        if tries.retried() {
            remove_copies(
                cx,
                &decl.region,
                &decl.address,
                &key_id,
                d.deletion_window_days.unwrap_or(DEFAULT_WINDOW as i32),
            )
            .await?;
        }
        if d.rotation {
            kms.enable_key_rotation()
                .key_id(&key_id)
                .send()
                .await
                .map_err(AwsError::from_sdk("kms:EnableKeyRotation"))?;
        }
        create_alias(cx, &decl.region, alias, &key_id).await?;
        crate::faults::point("kms.after_create_alias", &decl.address)?;
        Ok(outputs(&meta, alias))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: KeyState = from_desired(&decl.address, desired)?;
        let alias = d.alias.as_deref().unwrap_or(&decl.identity);
        let kms = &cx.clients(&decl.region).kms;
        let key_id = observed.physical_id.as_str();
        let live = observed.state.clone().unwrap_or_default();
        for attr in changed {
            match attr.as_str() {
                "key_state" => {
                    if live["key_state"] == "PendingDeletion" {
                        // No longer pending (a retry after a lost answer) is done.
                        ok_if_gone(
                            "kms:CancelKeyDeletion",
                            kms.cancel_key_deletion().key_id(key_id).send().await,
                            |se| se.is_kms_invalid_state_exception(),
                        )?;
                    }
                    kms.enable_key()
                        .key_id(key_id)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("kms:EnableKey"))?;
                }
                "alias" => create_alias(cx, &decl.region, alias, key_id).await?,
                "description" => {
                    kms.update_key_description()
                        .key_id(key_id)
                        .description(&d.description)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("kms:UpdateKeyDescription"))?;
                }
                "rotation" if d.rotation => {
                    kms.enable_key_rotation()
                        .key_id(key_id)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("kms:EnableKeyRotation"))?;
                }
                "rotation" => {
                    kms.disable_key_rotation()
                        .key_id(key_id)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("kms:DisableKeyRotation"))?;
                }
                "policy" => {
                    if let Some(p) = &d.policy {
                        kms.put_key_policy()
                            .key_id(key_id)
                            .policy_name("default")
                            .policy(p.to_string())
                            .send()
                            .await
                            .map_err(AwsError::from_sdk("kms:PutKeyPolicy"))?;
                    }
                }
                "tags" => {
                    crate::resources::kit::tags::sync(
                        &KmsTags {
                            client: kms,
                            key_id,
                        },
                        &live["tags"],
                        &tags_json(&d.tags),
                    )
                    .await?
                }
                _ => {}
            }
        }
        Ok(observed.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let kms = &cx.clients(t.region).kms;
        let window = t
            .desired
            .and_then(|d| d["_deletion_window_days"].as_i64())
            .unwrap_or(DEFAULT_WINDOW as i64) as i32;
        if let Some(alias) = t.observed.state.as_ref().and_then(|s| s["alias"].as_str()) {
            ok_if_gone(
                "kms:DeleteAlias",
                kms.delete_alias().alias_name(alias).send().await,
                |se| se.is_not_found_exception(),
            )?;
        }
        // Already pending deletion (as observed) is done; so is one that became so meanwhile.
        let state = t.observed.state.as_ref();
        if state.and_then(|s| s["key_state"].as_str()) == Some("PendingDeletion") {
            return Ok(());
        }
        schedule_deletion(cx, t.region, &t.observed.physical_id, window).await
    }

    fn deleted_text(&self, spec: &LoadedSpec, decl: Option<&Decl>) -> String {
        let days = decl
            .and_then(|d| spec.spec.kms.get(&d.name))
            .map_or(DEFAULT_WINDOW, |k| k.deletion_window_days);
        format!("scheduled for deletion in {days} days (CancelKeyDeletion recovers it until then)")
    }

    async fn import(&self, cx: &Ctx<'_>, req: &ImportRequest<'_>) -> Result<Imported, AwsError> {
        import_key(cx, req).await
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(cx, "kms", region, found, &[NOT_FOUND], |f| async move {
            let Some(meta) = live_key(cx, region, f.name()).await? else {
                return Ok(None);
            };
            let alias = key_aliases(cx, region, Some(meta.key_id()))
                .await?
                .into_iter()
                .next()
                .map(|(_, a)| a);
            read_key(cx, region, &f.address, meta, alias)
                .await
                .map(Some)
        })
        .await
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        // Keys behind the spec's aliases are read by observe; only the others are candidates.
        let aliases = key_aliases(cx, region, None).await?;
        let skip: Vec<&str> = aliases
            .iter()
            .filter(|(_, alias)| cx.in_spec("kms", region, alias))
            .map(|(key, _)| key.as_str())
            .collect();
        let tagged = tagged_keys(cx, region, &skip).await?;
        let aliases = &aliases;
        read_tagged(cx, "kms", tagged, &[], |key_id, address| async move {
            let Some(meta) = live_key(cx, region, &key_id).await? else {
                return Ok(None);
            };
            let alias = aliases
                .iter()
                .find(|(k, _)| k == &key_id)
                .map(|(_, a)| a.clone());
            read_key(cx, region, &address, meta, alias).await.map(Some)
        })
        .await
    }
}

/// `novactl import kms ID`: the key `id` (key id, ARN or alias) as a spec entry.
async fn import_key(cx: &Ctx<'_>, req: &ImportRequest<'_>) -> Result<Imported, AwsError> {
    let kms = &cx.clients(req.region).kms;
    let meta = match kms.describe_key().key_id(req.id).send().await {
        Ok(o) => o.key_metadata,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(AwsError::from_err("kms:DescribeKey", e)),
    }
    .ok_or_else(|| import::not_found("KMS key", req.id))?;
    let key_id = meta.key_id().to_string();
    let alias = match req.id.strip_prefix("alias/") {
        Some(_) => req.id.to_string(),
        None => key_aliases(cx, req.region, Some(&key_id))
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .find(|a| !a.starts_with("alias/aws/"))
            .ok_or_else(|| {
                AwsError::local(
                    "novactl:import",
                    "NoAlias",
                    format!(
                        "KMS key {key_id} has no alias: the spec finds a key by its alias \
                         (create one, then import again)"
                    ),
                )
            })?,
    };
    let o = read_key(cx, req.region, "kms.imported", meta, Some(alias.clone())).await?;
    let k: KeyState = from_desired("kms.imported", &o.state.unwrap_or_default())?;
    let name = import::logical_name(&alias);
    let mut entry = serde_json::Map::new();
    entry.insert("alias".into(), json!(alias));
    entry.insert("description".into(), json!(k.description));
    entry.insert("rotation".into(), json!(k.rotation));
    let mut files = Vec::new();
    if let Some(p) = &k.policy {
        let text = serde_json::to_string_pretty(p).unwrap_or_default();
        files.push((
            "policy".into(),
            format!("kms-{name}-policy.json"),
            text + "\n",
        ));
    }
    let tags = import::extra_tags(req.spec, &tags_json(&k.tags));
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    Ok(Imported {
        name,
        entry,
        files,
        comments: Vec::new(),
    })
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder()
        .tag_key(k)
        .tag_value(v)
        .build()
        .expect("tag key and value are set")
}

fn outputs(meta: &KeyMetadata, alias: &str) -> Value {
    json!({
        "id": meta.key_id(),
        "arn": meta.arn().unwrap_or_default(),
        "alias": alias,
    })
}

async fn create_alias(
    cx: &Ctx<'_>,
    region: &str,
    alias: &str,
    key_id: &str,
) -> Result<(), AwsError> {
    let kms = &cx.clients(region).kms;
    match kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_already_exists_exception()) =>
        {
            // Already ours: an earlier attempt whose answer was lost made it.
            let target = kms
                .describe_key()
                .key_id(alias)
                .send()
                .await
                .map_err(AwsError::from_sdk("kms:DescribeKey"))?;
            if target.key_metadata().map(|m| m.key_id()) == Some(key_id) {
                return Ok(());
            }
            // The alias points at another key: refuse, naming the alias.
            Err(AwsError::local(
                "kms:CreateAlias",
                "AlreadyExistsException",
                format!("{alias} already names another key; remove it or choose another alias"),
            ))
        }
        Err(e) => Err(AwsError::from_err("kms:CreateAlias", e)),
    }
}

async fn read_key(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    meta: KeyMetadata,
    alias: Option<String>,
) -> Result<Observed, AwsError> {
    let kms = &cx.clients(region).kms;
    let key_id = meta.key_id().to_string();
    let (rotation, tags, policy) = tokio::try_join!(
        async {
            kms.get_key_rotation_status()
                .key_id(&key_id)
                .send()
                .await
                .map(|o| o.key_rotation_enabled)
                .map_err(AwsError::from_sdk("kms:GetKeyRotationStatus"))
        },
        async {
            match cached_tags(cx, region, meta.arn().unwrap_or_default()).await {
                Some(tags) => Ok(tags),
                None => key_tags(cx, region, &key_id).await,
            }
        },
        async {
            kms.get_key_policy()
                .key_id(&key_id)
                .policy_name("default")
                .send()
                .await
                .map(|o| o.policy.map(|p| crate::policy::parse_returned(&p)))
                .map_err(AwsError::from_sdk("kms:GetKeyPolicy"))
        },
    )?;
    let owner = owner_of(&tags, address, cx.environment);
    let state_name = meta
        .key_state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let alias_name = alias.clone().unwrap_or_default();
    Ok(Observed {
        address: address.to_string(),
        physical_id: key_id,
        state: Some(
            serde_json::to_value(KeyState {
                alias,
                description: meta.description().unwrap_or_default().to_string(),
                rotation,
                key_state: state_name,
                policy,
                tags,
                deletion_window_days: None,
            })
            .expect("a key state serialises"),
        ),
        owner,
        outputs: outputs(&meta, &alias_name),
    })
}

async fn key_tags(cx: &Ctx<'_>, region: &str, key_id: &str) -> Result<Tags, AwsError> {
    let mut tags = Vec::new();
    let mut pages = cx
        .clients(region)
        .kms
        .list_resource_tags()
        .key_id(key_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("kms:ListResourceTags"))?;
        tags.extend(
            page.tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), t.tag_value().to_string())),
        );
    }
    Ok(tags_map(tags))
}

/// The key `id` (DescribeKey), `None` when it is pending deletion.
async fn live_key(cx: &Ctx<'_>, region: &str, id: &str) -> Result<Option<KeyMetadata>, AwsError> {
    let meta = cx
        .clients(region)
        .kms
        .describe_key()
        .key_id(id)
        .send()
        .await
        .map_err(AwsError::from_sdk("kms:DescribeKey"))?
        .key_metadata;
    Ok(meta.filter(|m| !matches!(m.key_state(), Some(KmsKeyState::PendingDeletion))))
}

/// Schedules the key's deletion in `window` days; a key already gone or pending is done.
async fn schedule_deletion(
    cx: &Ctx<'_>,
    region: &str,
    key_id: &str,
    window: i32,
) -> Result<(), AwsError> {
    ok_if_gone(
        "kms:ScheduleKeyDeletion",
        cx.clients(region)
            .kms
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(window)
            .send()
            .await,
        |se| se.is_not_found_exception() || se.is_kms_invalid_state_exception(),
    )
}

/// Every customer key in the region with its tags (keys that refuse ListResourceTags, such as
/// AWS-managed ones, are skipped).
async fn tagged_keys(
    cx: &Ctx<'_>,
    region: &str,
    skip: &[&str],
) -> Result<Vec<(String, Value)>, AwsError> {
    let kms = &cx.clients(region).kms;
    let mut ids = Vec::new();
    let mut pages = kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("kms:ListKeys"))?;
        ids.extend(
            page.keys()
                .iter()
                .filter_map(|k| k.key_id())
                .filter(|id| !skip.contains(id))
                .map(str::to_string),
        );
    }
    let tagged = try_join_all(ids.into_iter().map(|id| async move {
        match key_tags(cx, region, &id).await {
            Ok(t) => Ok(Some((id, tags_json(t)))),
            Err(e) if e.code == "AccessDeniedException" => Ok(None),
            Err(e) => Err(e),
        }
    }))
    .await?;
    Ok(tagged.into_iter().flatten().collect())
}

/// A live key tagged with `address` in this environment (its alias is missing). Found through
/// the tagging API (one paged call per region, shared with discovery), or with `--scan` by
/// reading the tags of every key in the region.
async fn find_tagged_key(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
) -> Result<Option<KeyMetadata>, AwsError> {
    Ok(keys_tagged_for(cx, region, address, false)
        .await?
        .into_iter()
        .next())
}

/// Live keys (not pending deletion) tagged with `address` in this environment; `fresh` reads
/// the tagging API now instead of the plan's discovery cache.
async fn keys_tagged_for(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    fresh: bool,
) -> Result<Vec<KeyMetadata>, AwsError> {
    let candidates: Vec<(String, Value)> = match cx.cache {
        Some(cache) if cache.scan => tagged_keys(cx, region, &[]).await?,
        Some(cache) if !fresh => keys_of(cache.tagged(cx, region).await?),
        _ => keys_of(crate::resources::kit::cache::tagged_resources(cx, region).await?),
    };
    let mut out = Vec::new();
    for (id, tags) in candidates {
        if tags.get(TAG_ADDRESS).and_then(Value::as_str) != Some(address)
            || tags.get(TAG_ENVIRONMENT).and_then(Value::as_str) != Some(cx.environment)
        {
            continue;
        }
        out.extend(live_key(cx, region, &id).await?);
    }
    Ok(out)
}

/// CreateKey is not idempotent: when the SDK sent it again because an answer was lost, the
/// lost attempt may have made a key too. Such a copy carries our address tag and no alias
/// (observe found no tagged key before this create); it is scheduled for deletion.
async fn remove_copies(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    kept: &str,
    window: i32,
) -> Result<(), AwsError> {
    for m in keys_tagged_for(cx, region, address, true).await? {
        if m.key_id() == kept {
            continue;
        }
        tracing::warn!(
            address,
            key = m.key_id(),
            kept,
            "CreateKey was sent again after a lost answer and made a second key; scheduling \
             the copy for deletion"
        );
        schedule_deletion(cx, region, m.key_id(), window).await?;
    }
    Ok(())
}

/// (key id, tags) of the KMS keys among tagging API results.
fn keys_of(tagged: Vec<(String, Value)>) -> Vec<(String, Value)> {
    tagged
        .into_iter()
        .filter(|(arn, _)| super::arn_type(arn) == "kms:key")
        .filter_map(|(arn, tags)| Some((arn.rsplit_once('/')?.1.to_string(), tags)))
        .collect()
}

/// (target key id, alias name) of the aliases of `key` (of every key when `None`).
async fn key_aliases(
    cx: &Ctx<'_>,
    region: &str,
    key: Option<&str>,
) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut pages = cx
        .clients(region)
        .kms
        .list_aliases()
        .set_key_id(key.map(str::to_string))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("kms:ListAliases"))?;
        out.extend(
            page.aliases().iter().filter_map(|a| {
                Some((a.target_key_id()?.to_string(), a.alias_name()?.to_string()))
            }),
        );
    }
    Ok(out)
}
