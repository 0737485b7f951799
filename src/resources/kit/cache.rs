//! Reads made once per observation and shared by every resource that needs them
//! ([`ReadCache`]), and the one tagging-API read they start from ([`tagged_resources`]).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kit::tags::{tags_map, Tags};
use crate::resources::{tags_json, Ctx, Decl, TAG_ENVIRONMENT};

/// The calls of discovery itself (each kind's own reads of what it finds are in its
/// `PERMISSIONS`). The tagging API has no resource-level permissions.
pub const PERMISSIONS: &[Perm] = &[perm("tag:GetResources", &["tag:GetResources"], &["*"])];

/// Resources per `GetResources` page (the API's maximum).
const RESOURCES_PER_PAGE: i32 = 100;

type Shared<T> = Arc<OnceCell<Result<T, AwsError>>>;

/// A region's tagging answer by ARN (`None`: the answer failed).
type TagsByArn = HashMap<String, Tags>;

/// (ARN, tags) of resources the tagging API returned.
pub type TaggedList = Vec<(String, Value)>;

/// Reads made once per observation and shared by every resource that needs them.
#[derive(Default)]
pub struct ReadCache {
    /// Per region: (ARN, tags) of everything tagged with this environment.
    tagged: Mutex<HashMap<String, Shared<TaggedList>>>,
    /// Per (kind, region): identities of the spec's resources (for bulk reads).
    names: HashMap<(String, String), Vec<String>>,
    /// Per region: the tagging answer indexed by ARN (built once from `tagged`).
    by_arn: Mutex<HashMap<String, Arc<OnceCell<Option<TagsByArn>>>>>,
    /// Per key (kind-chosen): the result of one bulk or shared read.
    shared: Mutex<HashMap<String, Shared<Arc<dyn Any + Send + Sync>>>>,
    /// `--scan`: lookups that would use the tagging API list the account instead.
    pub scan: bool,
}

impl ReadCache {
    /// A cache for one observation of `decls`.
    pub fn new(decls: &[Decl], scan: bool) -> ReadCache {
        let mut names: HashMap<(String, String), Vec<String>> = HashMap::new();
        for d in decls {
            names
                .entry((d.kind.to_string(), d.region.clone()))
                .or_default()
                .push(d.identity.clone());
        }
        ReadCache {
            names,
            scan,
            ..ReadCache::default()
        }
    }

    /// Identities of the spec's `kind` resources in `region`.
    pub fn names(&self, kind: &str, region: &str) -> &[String] {
        self.names
            .get(&(kind.to_string(), region.to_string()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// (ARN, tags) of every resource in `region` tagged with this environment: one paged
    /// `GetResources`, made once however many resources ask.
    pub async fn tagged(
        &self,
        cx: &Ctx<'_>,
        region: &str,
    ) -> Result<Vec<(String, Value)>, AwsError> {
        let cell = self
            .tagged
            .lock()
            .expect("cache lock")
            .entry(region.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| crate::aws::on_behalf_of("discovery", tagged_resources(cx, region)))
            .await
            .clone()
    }

    /// The tags of `arn` when the region's tagging answer holds it; `None` when it does not
    /// (untagged, not ours, just created, another region) or the answer failed: the caller
    /// then reads the tags itself. `--scan` never uses the tagging API.
    ///
    /// The tagging API is eventually consistent on AWS: a tag changed in the last moments
    /// may show its old value here (a plan right after an out-of-band tag change may not see
    /// it yet; the next one does). Everything else a kind reads stays its own.
    pub async fn tags_of(&self, cx: &Ctx<'_>, region: &str, arn: &str) -> Option<Tags> {
        if self.scan {
            return None;
        }
        let cell = self
            .by_arn
            .lock()
            .expect("cache lock")
            .entry(region.to_string())
            .or_default()
            .clone();
        let index = cell
            .get_or_init(|| async {
                self.tagged(cx, region).await.ok().map(|list| {
                    list.into_iter()
                        .map(|(arn, tags)| (arn, tags_of_json(&tags)))
                        .collect()
                })
            })
            .await;
        index.as_ref()?.get(arn).cloned()
    }

    /// The value of the read `key`, made once by `read` whoever asks first (a bulk
    /// DescribeAlarms, the versions of a model). A key always holds values of one type.
    pub async fn shared<T, F>(&self, key: &str, read: F) -> Result<Arc<T>, AwsError>
    where
        T: Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, AwsError>>,
    {
        let cell = self
            .shared
            .lock()
            .expect("cache lock")
            .entry(key.to_string())
            .or_default()
            .clone();
        let v = cell
            .get_or_init(|| async {
                read.await
                    .map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
            .await
            .clone()?;
        Ok(v.downcast::<T>().expect("one type per cache key"))
    }
}

fn tags_of_json(tags: &Value) -> Tags {
    tags_map(
        tags.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))),
    )
}

/// The tags of `arn` from the observation's tagging answer (see [`ReadCache::tags_of`]);
/// `None` outside an observation (apply's changes read fresh) or when the answer lacks it.
pub async fn cached_tags(cx: &Ctx<'_>, region: &str, arn: &str) -> Option<Tags> {
    cx.cache?.tags_of(cx, region, arn).await
}

/// Every resource in `region` tagged `novactl:environment=<environment>`, with its tags.
pub async fn tagged_resources(
    cx: &Ctx<'_>,
    region: &str,
) -> Result<Vec<(String, Value)>, AwsError> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(TAG_ENVIRONMENT)
        .values(cx.environment)
        .build();
    let mut pages = cx
        .clients(region)
        .tagging
        .get_resources()
        .tag_filters(filter)
        .resources_per_page(RESOURCES_PER_PAGE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("tag:GetResources"))?;
        for r in page.resource_tag_mapping_list() {
            let Some(arn) = r.resource_arn() else {
                continue;
            };
            let tags = tags_json(r.tags().iter().map(|t| (t.key(), t.value())));
            out.push((arn.to_string(), tags));
        }
    }
    Ok(out)
}
