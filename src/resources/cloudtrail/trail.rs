//! `cloudtrail.<n>`: the trail. Bucket (an `s3.*` logical name), prefix, multi-region, log
//! file validation, KMS key, CloudWatch Logs integration (group + role from `log_group.<n>`),
//! data events as one event selector (ReadWriteType All, management events included), logging
//! on, tags. Stopped logging (`logging`) and replaced selectors (`event_selectors`) are drift
//! that update repairs. Selectors are read with GetEventSelectors: moto never updates
//! `HasCustomEventSelectors`.
//!
//! # Errors
//! A freshly created role can take seconds to be usable by CloudTrail on AWS
//! (InvalidCloudWatchLogsRoleArn / InsufficientEncryptionPolicy right after creation): create
//! and update retry those for up to [`IAM_PROPAGATION`], then report the last error.

pub(super) mod import;

use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{kms_key_arn, trail_arn};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::cache::cached_tags;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::refs::{account, kms_ref};
use crate::resources::kit::tags::{self, cloudtrail_tag, owner_of, tags_map, CloudTrailTags, Tags};
use crate::resources::{
    desired_tags, from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `cloudtrail` (see [`KindInfo`]).
pub const TRAIL_INFO: KindInfo =
    KindInfo::new("cloudtrail", "cloudtrail", super::protect).tagged_as(&["cloudtrail:trail"]);

/// Every AWS call the trail kind makes and what IAM must allow (see [`crate::permissions`]).
/// Handing CloudTrail the log group's role needs `iam:PassRole` on that role.
pub const TRAIL_PERMISSIONS: &[Perm] = &[
    perm("cloudtrail:ListTrails", &["cloudtrail:ListTrails"], &["*"]),
    perm(
        "cloudtrail:ListTags",
        &["cloudtrail:ListTags"],
        &["arn:aws:cloudtrail:{region}:{account}:trail/*"],
    ),
    perm("cloudtrail:GetTrail", &["cloudtrail:GetTrail"], &[TRAIL]),
    perm(
        "cloudtrail:GetTrailStatus",
        &["cloudtrail:GetTrailStatus"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:GetEventSelectors",
        &["cloudtrail:GetEventSelectors"],
        &[TRAIL],
    ),
    Perm {
        call: "cloudtrail:CreateTrail",
        actions: &["cloudtrail:CreateTrail", "cloudtrail:AddTags"],
        resources: &[TRAIL],
        implied: &[PASS_LOGS_ROLE],
    },
    Perm {
        call: "cloudtrail:UpdateTrail",
        actions: &["cloudtrail:UpdateTrail"],
        resources: &[TRAIL],
        implied: &[PASS_LOGS_ROLE],
    },
    perm(
        "cloudtrail:PutEventSelectors",
        &["cloudtrail:PutEventSelectors"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:StartLogging",
        &["cloudtrail:StartLogging"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:StopLogging",
        &["cloudtrail:StopLogging"],
        &[TRAIL],
    ),
    perm("cloudtrail:AddTags", &["cloudtrail:AddTags"], &[TRAIL]),
    perm(
        "cloudtrail:RemoveTags",
        &["cloudtrail:RemoveTags"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:DeleteTrail",
        &["cloudtrail:DeleteTrail"],
        &[TRAIL],
    ),
];
const TRAIL: &str = "arn:aws:cloudtrail:{region}:{account}:trail/{id}";
const PASS_LOGS_ROLE: Implied = Implied {
    action: "iam:PassRole",
    resources: &["{dep:log_group.role_arn}"],
    condition: Some((
        "StringEquals",
        "iam:PassedToService",
        "cloudtrail.amazonaws.com",
    )),
};

pub struct Trail;

/// How long create/update wait for a new role to become usable by CloudTrail.
pub const IAM_PROPAGATION: Duration = Duration::from_secs(60);

/// Data event names in the spec and the selector they stand for.
const DATA_EVENTS: &[(&str, &str, &str)] = &[
    ("s3", "AWS::S3::Object", "arn:aws:s3:::"),
    ("lambda", "AWS::Lambda::Function", "arn:aws:lambda"),
];

/// A trail's attributes, desired and observed.
#[derive(Serialize, Deserialize)]
pub struct TrailState {
    pub name: String,
    pub bucket: String,
    pub prefix: String,
    pub multi_region: bool,
    pub log_file_validation: bool,
    pub kms_key_id: String,
    pub cloud_watch_logs: CloudWatchLogs,
    pub event_selectors: Vec<Selector>,
    pub logging: bool,
    pub tags: Tags,
}

/// Where the trail also delivers its events (empty strings: nowhere).
#[derive(Serialize, Deserialize)]
pub struct CloudWatchLogs {
    pub log_group_arn: String,
    pub role_arn: String,
}

/// One event selector.
#[derive(Serialize, Deserialize)]
pub struct Selector {
    pub read_write_type: String,
    pub include_management_events: bool,
    /// Sorted (by their JSON text), each one's values sorted.
    pub data_resources: Vec<DataRes>,
}

#[derive(Serialize, Deserialize)]
pub struct DataRes {
    #[serde(rename = "type")]
    pub kind: String,
    pub values: Vec<String>,
}

/// Data resources in the order the state keeps them: by their JSON text.
fn sorted_resources(mut res: Vec<DataRes>) -> Vec<DataRes> {
    res.sort_by_cached_key(|d| serde_json::to_string(d).unwrap_or_default());
    res
}

fn selectors_of(sel: &[EventSelector]) -> Vec<Selector> {
    sel.iter()
        .map(|s| Selector {
            read_write_type: s
                .read_write_type()
                .map(|r| r.as_str())
                .unwrap_or("All")
                .to_string(),
            include_management_events: s.include_management_events().unwrap_or(true),
            data_resources: sorted_resources(
                s.data_resources()
                    .iter()
                    .map(|d| {
                        let mut values = d.values().to_vec();
                        values.sort();
                        DataRes {
                            kind: d.r#type().unwrap_or_default().to_string(),
                            values,
                        }
                    })
                    .collect(),
            ),
        })
        .collect()
}

fn desired_selectors(data_events: &[String]) -> Vec<Selector> {
    let res = DATA_EVENTS
        .iter()
        .filter(|(n, _, _)| data_events.iter().any(|e| e == n))
        .map(|(_, ty, val)| DataRes {
            kind: ty.to_string(),
            values: vec![val.to_string()],
        })
        .collect();
    vec![Selector {
        read_write_type: "All".into(),
        include_management_events: true,
        data_resources: sorted_resources(res),
    }]
}

/// The outputs of the trail `name`.
fn outputs(name: &str, arn: &str) -> Value {
    json!({ "name": name, "arn": arn })
}

#[async_trait]
impl Reconciler for Trail {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[TRAIL_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &TRAIL_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, t) in &spec.spec.cloudtrail {
            let path = format!("cloudtrail.{name}");
            let trail = r.str(&format!("{path}.name"), &t.name)?;
            let valid = (3..=128).contains(&trail.len())
                && trail
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && trail.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !valid {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!(
                        "`{trail}` is not a valid trail name: 3 to 128 letters, digits, `.`, `_` \
                         or `-`, starting with a letter or digit"
                    ),
                ));
            }
            if !spec.spec.s3.contains_key(&t.bucket) {
                let known: Vec<&str> = spec.spec.s3.keys().map(String::as_str).collect();
                return Err(spec.error(
                    &format!("{path}.bucket"),
                    format!(
                        "`{}` is not a bucket in the spec's `s3` section (defined: {})",
                        t.bucket,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            for e in &t.data_events {
                if !DATA_EVENTS.iter().any(|(n, _, _)| n == e) {
                    return Err(spec.error(
                        &format!("{path}.data_events"),
                        format!("`{e}` is not a data event novactl knows: s3, lambda"),
                    ));
                }
            }
            let mut deps = vec![format!("s3.{}", t.bucket)];
            if let Some(k) = &t.kms_key {
                deps.push(kms_ref(spec, &format!("{path}.kms_key"), k)?);
            }
            if t.log_group.is_some() {
                deps.push(format!("log_group.{name}"));
            }
            out.push(Decl {
                address: path.clone(),
                kind: "cloudtrail",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: trail.clone(),
                identity_key: format!("{path}.name"),
                deps,
                outputs: outputs(&trail, &trail_arn(&spec.spec.region, &account(r), &trail)),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let t = &spec.spec.cloudtrail[&decl.name];
        let path = &decl.spec_path;
        let bucket = r.str(
            &format!("s3.{}.name", t.bucket),
            &spec.spec.s3[&t.bucket].name,
        )?;
        let prefix = match &t.prefix {
            Some(p) => r.str(&format!("{path}.prefix"), p)?,
            None => String::new(),
        };
        let cloud_watch_logs = if t.log_group.is_some() {
            CloudWatchLogs {
                log_group_arn: r.str(path, &format!("{{{{ log_group.{}.arn }}}}", decl.name))?,
                role_arn: r.str(path, &format!("{{{{ log_group.{}.role_arn }}}}", decl.name))?,
            }
        } else {
            CloudWatchLogs {
                log_group_arn: String::new(),
                role_arn: String::new(),
            }
        };
        let state = TrailState {
            name: decl.identity.clone(),
            bucket,
            prefix,
            multi_region: t.multi_region,
            log_file_validation: t.log_file_validation,
            kms_key_id: kms_key_arn(spec, r, path, t.kms_key.as_deref())?,
            cloud_watch_logs,
            event_selectors: desired_selectors(&t.data_events),
            logging: true,
            tags: desired_tags(spec, &decl.address, &t.tags),
        };
        Ok(serde_json::to_value(&state).unwrap_or_default())
    }

    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        import::import_trail(cx, req).await
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        Ok(read_trail(cx, &decl.region, &decl.address, &decl.identity)
            .await?
            .unwrap_or_else(|| Observed::absent(&decl.address)))
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(cx, TRAIL_INFO.kind, region, found, &[], |f| async move {
            read_trail(cx, region, &f.address, f.name()).await
        })
        .await
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let ct = &cx.clients(region).cloudtrail;
        let mut arns = Vec::new();
        let mut pages = ct.list_trails().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("cloudtrail:ListTrails"))?;
            arns.extend(
                page.trails()
                    .iter()
                    .filter(|t| t.home_region().is_none_or(|r| r == region))
                    // The spec's own trails are read by observe.
                    .filter(|t| !cx.in_spec(TRAIL_INFO.kind, region, t.name().unwrap_or_default()))
                    .filter_map(|t| t.trail_arn().map(str::to_string)),
            );
        }
        let mut listed = Vec::new();
        for chunk in arns.chunks(20) {
            let tags = ct
                .list_tags()
                .set_resource_id_list(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:ListTags"))?;
            for rt in tags.resource_tag_list() {
                let Some(arn) = rt.resource_id() else {
                    continue;
                };
                let name = arn.rsplit('/').next().unwrap_or_default().to_string();
                listed.push((name, tags_json_of(rt.tags_list())));
            }
        }
        read_tagged(
            cx,
            TRAIL_INFO.kind,
            listed,
            &[],
            |name, address| async move { read_trail(cx, region, &address, &name).await },
        )
        .await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: TrailState = from_desired(&decl.address, desired)?;
        let ct = &cx.clients(&decl.region).cloudtrail;
        let created = until_role_usable(
            || {
                let mut req = ct
                    .create_trail()
                    .name(&d.name)
                    .s3_bucket_name(&d.bucket)
                    .include_global_service_events(true)
                    .is_multi_region_trail(d.multi_region)
                    .enable_log_file_validation(d.log_file_validation);
                if !d.prefix.is_empty() {
                    req = req.s3_key_prefix(&d.prefix);
                }
                if !d.kms_key_id.is_empty() {
                    req = req.kms_key_id(&d.kms_key_id);
                }
                if !d.cloud_watch_logs.log_group_arn.is_empty() {
                    req = req
                        .cloud_watch_logs_log_group_arn(&d.cloud_watch_logs.log_group_arn)
                        .cloud_watch_logs_role_arn(&d.cloud_watch_logs.role_arn);
                }
                for (k, v) in &d.tags {
                    req = req.tags_list(cloudtrail_tag(k, Some(v)));
                }
                req.send()
            },
            |e| {
                e.as_service_error().is_some_and(|se| {
                    se.is_invalid_cloud_watch_logs_role_arn_exception()
                        || se.is_insufficient_encryption_policy_exception()
                })
            },
        )
        .await;
        let arn = match created {
            Ok(o) => o
                .trail_arn
                .unwrap_or_else(|| trail_arn(&decl.region, cx.account_id, &d.name)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_trail_already_exists_exception()) =>
            {
                // Made by a run that died before it finished: converge it.
                update_trail(cx, &decl.region, &d).await?;
                trail_arn(&decl.region, cx.account_id, &d.name)
            }
            Err(e) => return Err(AwsError::from_err("cloudtrail:CreateTrail", e)),
        };
        crate::faults::point("cloudtrail.after_create_trail", &decl.address)?;
        put_selectors(cx, &decl.region, &arn, &d.event_selectors).await?;
        set_logging(cx, &decl.region, &arn, d.logging).await?;
        Ok(outputs(&d.name, &arn))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: TrailState = from_desired(&decl.address, desired)?;
        let ct = &cx.clients(&decl.region).cloudtrail;
        let arn = observed.outputs["arn"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| trail_arn(&decl.region, cx.account_id, &d.name));
        let settings = [
            "bucket",
            "prefix",
            "multi_region",
            "log_file_validation",
            "kms_key_id",
            "cloud_watch_logs",
        ];
        if changed.iter().any(|c| settings.contains(&c.as_str())) {
            update_trail(cx, &decl.region, &d).await?;
        }
        if changed.iter().any(|c| c == "event_selectors") {
            put_selectors(cx, &decl.region, &arn, &d.event_selectors).await?;
        }
        if changed.iter().any(|c| c == "logging") {
            set_logging(cx, &decl.region, &arn, d.logging).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let live = observed.state.as_ref().map(|s| s["tags"].clone());
            let live: Tags = live
                .and_then(|t| serde_json::from_value(t).ok())
                .unwrap_or_default();
            let api = CloudTrailTags {
                client: ct,
                arn: &arn,
            };
            tags::sync_maps(&api, &live, &d.tags).await?;
        }
        Ok(outputs(&d.name, &arn))
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let ct = &cx.clients(t.region).cloudtrail;
        ok_if_gone(
            "cloudtrail:DeleteTrail",
            ct.delete_trail().name(&t.observed.physical_id).send().await,
            |se| se.is_trail_not_found_exception(),
        )
    }
}

/// CloudTrail tags as a map (without `aws:*` keys).
fn tags_of(tags: &[aws_sdk_cloudtrail::types::Tag]) -> Tags {
    tags_map(tags.iter().map(|t| {
        (
            t.key().to_string(),
            t.value().unwrap_or_default().to_string(),
        )
    }))
}

fn tags_json_of(tags: &[aws_sdk_cloudtrail::types::Tag]) -> Value {
    serde_json::to_value(tags_of(tags)).unwrap_or_default()
}

/// The trail named `name` as `address` sees it; `None` when it does not exist.
async fn read_trail(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
) -> Result<Option<Observed>, AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    let trail = match ct.get_trail().name(name).send().await {
        Ok(o) => o.trail,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_trail_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(AwsError::from_err("cloudtrail:GetTrail", e)),
    };
    let Some(trail) = trail.filter(|t| t.name() == Some(name)) else {
        return Ok(None);
    };
    let arn = trail
        .trail_arn()
        .map(str::to_string)
        .unwrap_or_else(|| trail_arn(region, cx.account_id, name));
    let (status, selectors, tags) = tokio::try_join!(
        async {
            ct.get_trail_status()
                .name(&arn)
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:GetTrailStatus"))
        },
        async {
            ct.get_event_selectors()
                .trail_name(&arn)
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:GetEventSelectors"))
        },
        async {
            // In an observation, from the tagging answer when it holds the trail.
            if let Some(tags) = cached_tags(cx, region, &arn).await {
                return Ok(Err(tags));
            }
            ct.list_tags()
                .resource_id_list(&arn)
                .send()
                .await
                .map(Ok)
                .map_err(AwsError::from_sdk("cloudtrail:ListTags"))
        },
    )?;
    let tags = match tags {
        Err(known) => known,
        Ok(tags) => tags_of(
            &tags
                .resource_tag_list()
                .iter()
                .filter(|rt| rt.resource_id() == Some(arn.as_str()))
                .flat_map(|rt| rt.tags_list())
                .cloned()
                .collect::<Vec<_>>(),
        ),
    };
    let owner = owner_of(&tags, address, cx.environment);
    let state = TrailState {
        name: name.to_string(),
        bucket: trail.s3_bucket_name().unwrap_or_default().to_string(),
        prefix: trail.s3_key_prefix().unwrap_or_default().to_string(),
        multi_region: trail.is_multi_region_trail().unwrap_or(false),
        log_file_validation: trail.log_file_validation_enabled().unwrap_or(false),
        kms_key_id: trail.kms_key_id().unwrap_or_default().to_string(),
        cloud_watch_logs: CloudWatchLogs {
            log_group_arn: trail
                .cloud_watch_logs_log_group_arn()
                .unwrap_or_default()
                .to_string(),
            role_arn: trail
                .cloud_watch_logs_role_arn()
                .unwrap_or_default()
                .to_string(),
        },
        event_selectors: selectors_of(selectors.event_selectors()),
        logging: status.is_logging().unwrap_or(false),
        tags,
    };
    Ok(Some(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(serde_json::to_value(&state).unwrap_or_default()),
        owner,
        outputs: outputs(name, &arn),
    }))
}

/// Runs `call` again every 3 s while `propagating` says CloudTrail does not accept the new
/// role yet, for up to [`IAM_PROPAGATION`]; then its last answer.
async fn until_role_usable<T, E, F, Fut>(
    mut call: F,
    propagating: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(e) if started.elapsed() < IAM_PROPAGATION && propagating(&e) => {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            r => return r,
        }
    }
}

async fn update_trail(cx: &Ctx<'_>, region: &str, d: &TrailState) -> Result<(), AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    until_role_usable(
        || {
            // Empty strings clear a setting on UpdateTrail.
            ct.update_trail()
                .name(&d.name)
                .s3_bucket_name(&d.bucket)
                .s3_key_prefix(&d.prefix)
                .include_global_service_events(true)
                .is_multi_region_trail(d.multi_region)
                .enable_log_file_validation(d.log_file_validation)
                .kms_key_id(&d.kms_key_id)
                .cloud_watch_logs_log_group_arn(&d.cloud_watch_logs.log_group_arn)
                .cloud_watch_logs_role_arn(&d.cloud_watch_logs.role_arn)
                .send()
        },
        |e| {
            e.as_service_error().is_some_and(|se| {
                se.is_invalid_cloud_watch_logs_role_arn_exception()
                    || se.is_insufficient_encryption_policy_exception()
            })
        },
    )
    .await
    .map(drop)
    .map_err(|e| AwsError::from_err("cloudtrail:UpdateTrail", e))
}

async fn put_selectors(
    cx: &Ctx<'_>,
    region: &str,
    arn: &str,
    selectors: &[Selector],
) -> Result<(), AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    let mut req = ct.put_event_selectors().trail_name(arn);
    for s in selectors {
        let mut b = EventSelector::builder()
            .read_write_type(ReadWriteType::from(s.read_write_type.as_str()))
            .include_management_events(s.include_management_events);
        for d in &s.data_resources {
            b = b.data_resources(
                DataResource::builder()
                    .r#type(&d.kind)
                    .set_values(Some(d.values.clone()))
                    .build(),
            );
        }
        req = req.event_selectors(b.build());
    }
    req.send()
        .await
        .map_err(AwsError::from_sdk("cloudtrail:PutEventSelectors"))?;
    Ok(())
}

async fn set_logging(cx: &Ctx<'_>, region: &str, arn: &str, on: bool) -> Result<(), AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    if on {
        ct.start_logging()
            .name(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk("cloudtrail:StartLogging"))?;
    } else {
        ct.stop_logging()
            .name(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk("cloudtrail:StopLogging"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_from_data_events() {
        let v = serde_json::to_value(desired_selectors(&["lambda".into(), "s3".into()])).unwrap();
        assert_eq!(v[0]["read_write_type"], "All");
        assert_eq!(v[0]["include_management_events"], true);
        let types: Vec<&str> = v[0]["data_resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, vec!["AWS::Lambda::Function", "AWS::S3::Object"]);
    }
}
