//! Reads made once per observation and shared by every resource that needs them
//! ([`ReadCache`]), and the one tagging-API read they start from ([`tagged_resources`]).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::{tags_json, Ctx, Decl, TAG_ENVIRONMENT};

/// The calls of discovery itself (each kind's own reads of what it finds are in its
/// `PERMISSIONS`). The tagging API has no resource-level permissions.
pub const PERMISSIONS: &[Perm] = &[perm("tag:GetResources", &["tag:GetResources"], &["*"])];

/// Resources per `GetResources` page (the API's maximum).
const RESOURCES_PER_PAGE: i32 = 100;

type Shared<T> = Arc<OnceCell<Result<T, AwsError>>>;

/// (ARN, tags) of resources the tagging API returned.
pub type TaggedList = Vec<(String, Value)>;

/// Reads made once per observation and shared by every resource that needs them.
#[derive(Default)]
pub struct ReadCache {
    /// Per region: (ARN, tags) of everything tagged with this environment.
    tagged: Mutex<HashMap<String, Shared<TaggedList>>>,
    /// Per (kind, region): identities of the spec's resources (for bulk reads).
    names: HashMap<(String, String), Vec<String>>,
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
