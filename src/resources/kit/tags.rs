//! Tags, declared once: what a resource should carry ([`desired_tags`]), whether a live one is
//! ours ([`owner_from_tags`]), and how a resource's tags are brought from live to desired
//! ([`sync`] over one [`TagApi`] impl per SDK).
//!
//! A kind names its tagging handle (`KmsTags { client, key_id }`) and calls
//! `tags::sync(&handle, live, want)`: the delta is computed here, and only the calls that have
//! something to do are made (a tag-only drift costs one TagResource, an extra tag one
//! UntagResource).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::aws::AwsError;
use crate::resources::{Address, Owner};
use crate::spec::LoadedSpec;

/// Tag keys that mark a resource as novactl's.
pub const TAG_ADDRESS: &str = "novactl:address";
pub const TAG_ENVIRONMENT: &str = "novactl:environment";
/// Tag on a resource whose spec says `protect: true`: it keeps the protection known when the
/// resource leaves the spec (plan then refuses its delete instead of planning it).
pub const TAG_PROTECT: &str = "novactl:protect";

/// A resource's tags as one typed map (sorted, `aws:*` keys never included).
pub type Tags = BTreeMap<String, String>;

/// The tags a resource should carry: the spec's `tags`, the resource's own, and ours
/// (with [`TAG_PROTECT`] when the spec protects it, or its primary for a DR twin).
pub fn desired_tags(spec: &LoadedSpec, address: &str, own: &Tags) -> Tags {
    let mut tags = spec.spec.tags.clone();
    tags.extend(own.clone());
    tags.insert(TAG_ADDRESS.into(), address.into());
    tags.insert(TAG_ENVIRONMENT.into(), spec.spec.environment.clone());
    if crate::resources::protected(&spec.spec, address) {
        tags.insert(TAG_PROTECT.into(), "true".into());
    }
    tags
}

/// Tags as a JSON object, without AWS-reserved `aws:*` keys.
pub fn tags_json<I, K, V>(tags: I) -> Value
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let obj: Map<String, Value> = tags_map(tags)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Value::Object(obj)
}

/// Tags as a map, without AWS-reserved `aws:*` keys.
pub fn tags_map<I, K, V>(tags: I) -> Tags
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    tags.into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// Is a live resource ours, given its tags?
pub fn owner_from_tags(tags: &Value, address: &str, environment: &str) -> Owner {
    let addr = tags.get(TAG_ADDRESS).and_then(Value::as_str);
    let env = tags.get(TAG_ENVIRONMENT).and_then(Value::as_str);
    match (addr, env) {
        (Some(a), Some(e)) if a == address && e == environment => Owner::Ours,
        (Some(a), Some(e)) => Owner::Foreign {
            reason: format!("it is tagged as novactl's {a} in environment {e}"),
        },
        _ => Owner::Foreign {
            reason: "it was not created by novactl (no novactl:address tag)".into(),
        },
    }
}

/// [`owner_from_tags`] on a typed map.
pub fn owner_of(tags: &Tags, address: &str, environment: &str) -> Owner {
    owner_from_tags(&tags_json(tags.clone()), address, environment)
}

/// The `novactl:address` of a resource tagged with this environment, when it is of `kind`
/// (a twin's too).
pub fn ours_of_kind(tags: &Value, environment: &str, kind: &str) -> Option<String> {
    if tags.get(TAG_ENVIRONMENT).and_then(Value::as_str) != Some(environment) {
        return None;
    }
    let address = tags.get(TAG_ADDRESS).and_then(Value::as_str)?;
    Address::parse(address)
        .filter(|a| a.is_kind(kind) && a.copy().is_none())
        .map(|_| address.to_string())
}

/// Does a live resource carry [`TAG_PROTECT`] (its state's `tags`)?
pub fn tagged_protected(state: Option<&Value>) -> bool {
    state
        .and_then(|s| s.get("tags"))
        .and_then(|t| t.get(TAG_PROTECT))
        .and_then(Value::as_str)
        == Some("true")
}

/// Tags to add/change and keys to remove, to go from `live` to `want` (JSON objects).
pub fn tag_delta(live: &Value, want: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let empty = Map::new();
    let live = live.as_object().unwrap_or(&empty);
    let want = want.as_object().unwrap_or(&empty);
    let set = want
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let remove = live
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// One resource's tagging calls in one SDK.
#[async_trait]
pub trait TagApi: Sync {
    /// Adds or changes these tags.
    async fn tag(&self, set: Vec<(String, String)>) -> Result<(), AwsError>;
    /// Removes these keys.
    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError>;
}

/// Brings the tags of the resource behind `api` from `live` to `want` (JSON objects, as in a
/// state's `tags`); each call runs only when it has something to do.
pub async fn sync(api: &dyn TagApi, live: &Value, want: &Value) -> Result<(), AwsError> {
    let (add, remove) = tag_delta(live, want);
    if !add.is_empty() {
        api.tag(add).await?;
    }
    if !remove.is_empty() {
        api.untag(remove).await?;
    }
    Ok(())
}

/// [`sync`] from typed maps.
pub async fn sync_maps(api: &dyn TagApi, live: &Tags, want: &Tags) -> Result<(), AwsError> {
    sync(api, &tags_json(live.clone()), &tags_json(want.clone())).await
}

/// A [`TagApi`] for an SDK whose tag and untag calls name the resource with one setter and
/// take the keys to remove as a list: the handle `$name { client, $field }`, and
/// `|req, k, v| …` adding one tag to the tag request.
macro_rules! tag_api {
    ($(#[$doc:meta])* $name:ident($client:ty, $field:ident),
     $tag_call:ident / $untag_call:ident on $id:ident,
     |$req:ident, $k:ident, $v:ident| $add:expr,
     $tag_err:expr, $untag_err:expr $(,)?) => {
        $(#[$doc])*
        pub struct $name<'a> {
            pub client: &'a $client,
            pub $field: &'a str,
        }

        #[async_trait]
        impl TagApi for $name<'_> {
            async fn tag(&self, set: Vec<(String, String)>) -> Result<(), AwsError> {
                let mut $req = self.client.$tag_call().$id(self.$field);
                for ($k, $v) in &set {
                    $req = $add;
                }
                $req.send().await.map(drop).map_err($tag_err)
            }
            async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
                self.client
                    .$untag_call()
                    .$id(self.$field)
                    .set_tag_keys(Some(keys))
                    .send()
                    .await
                    .map(drop)
                    .map_err($untag_err)
            }
        }
    };
}

tag_api!(
    /// A KMS key's tags.
    KmsTags(aws_sdk_kms::Client, key_id),
    tag_resource / untag_resource on key_id,
    |req, k, v| req.tags(kms_tag(k, v)),
    AwsError::from_sdk("kms:TagResource"),
    AwsError::from_sdk("kms:UntagResource"),
);

tag_api!(
    /// An SNS topic's tags.
    SnsTags(aws_sdk_sns::Client, arn),
    tag_resource / untag_resource on resource_arn,
    |req, k, v| req.tags(sns_tag(k, v)),
    AwsError::from_sdk("sns:TagResource"),
    AwsError::from_sdk("sns:UntagResource"),
);

tag_api!(
    /// A CloudWatch alarm's tags.
    CloudWatchTags(aws_sdk_cloudwatch::Client, arn),
    tag_resource / untag_resource on resource_arn,
    |req, k, v| req.tags(cloudwatch_tag(k, v)),
    AwsError::from_sdk("cloudwatch:TagResource"),
    AwsError::from_sdk("cloudwatch:UntagResource"),
);

tag_api!(
    /// An IAM role's tags.
    IamRoleTags(aws_sdk_iam::Client, role),
    tag_role / untag_role on role_name,
    |req, k, v| req.tags(iam_tag(k, v)?),
    AwsError::from_sdk("iam:TagRole"),
    AwsError::from_sdk("iam:UntagRole"),
);

tag_api!(
    /// A CloudWatch Logs log group's tags.
    LogsTags(aws_sdk_cloudwatchlogs::Client, arn),
    tag_resource / untag_resource on resource_arn,
    |req, k, v| req.tags(k, v),
    AwsError::from_sdk("logs:TagResource"),
    AwsError::from_sdk("logs:UntagResource"),
);

/// One KMS tag.
pub fn kms_tag(k: &str, v: &str) -> aws_sdk_kms::types::Tag {
    aws_sdk_kms::types::Tag::builder()
        .tag_key(k)
        .tag_value(v)
        .build()
        .expect("tag key and value are set")
}

/// One SNS tag.
pub fn sns_tag(k: &str, v: &str) -> aws_sdk_sns::types::Tag {
    aws_sdk_sns::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .expect("tag key and value are set")
}

/// One CloudWatch tag.
pub fn cloudwatch_tag(k: &str, v: &str) -> aws_sdk_cloudwatch::types::Tag {
    aws_sdk_cloudwatch::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
}

/// One IAM tag (IAM's builder checks key and value).
pub fn iam_tag(k: &str, v: &str) -> Result<aws_sdk_iam::types::Tag, AwsError> {
    aws_sdk_iam::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .map_err(|e| AwsError::local("iam:Tag", "InvalidTag", format!("tag {k}={v}: {e}")))
}

/// A CloudTrail trail's tags.
pub struct CloudTrailTags<'a> {
    pub client: &'a aws_sdk_cloudtrail::Client,
    pub arn: &'a str,
}

#[async_trait]
impl TagApi for CloudTrailTags<'_> {
    async fn tag(&self, set: Vec<(String, String)>) -> Result<(), AwsError> {
        let mut req = self.client.add_tags().resource_id(self.arn);
        for (k, v) in &set {
            req = req.tags_list(cloudtrail_tag(k, Some(v)));
        }
        req.send()
            .await
            .map(drop)
            .map_err(AwsError::from_sdk("cloudtrail:AddTags"))
    }
    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        let mut req = self.client.remove_tags().resource_id(self.arn);
        for k in &keys {
            req = req.tags_list(cloudtrail_tag(k, None));
        }
        req.send()
            .await
            .map(drop)
            .map_err(AwsError::from_sdk("cloudtrail:RemoveTags"))
    }
}

/// One CloudTrail tag (a removal names the key only).
pub fn cloudtrail_tag(k: &str, v: Option<&str>) -> aws_sdk_cloudtrail::types::Tag {
    aws_sdk_cloudtrail::types::Tag::builder()
        .key(k)
        .set_value(v.map(str::to_string))
        .build()
        .expect("tag key is set")
}

/// A SageMaker resource's tags (model, endpoint config, endpoint).
pub struct SageMakerTags<'a> {
    pub client: &'a aws_sdk_sagemaker::Client,
    pub arn: &'a str,
}

#[async_trait]
impl TagApi for SageMakerTags<'_> {
    async fn tag(&self, set: Vec<(String, String)>) -> Result<(), AwsError> {
        let set: Tags = set.into_iter().collect();
        self.client
            .add_tags()
            .resource_arn(self.arn)
            .set_tags(Some(sagemaker_tags(&set)))
            .send()
            .await
            .map(drop)
            .map_err(AwsError::from_sdk("sagemaker:AddTags"))
    }
    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        self.client
            .delete_tags()
            .resource_arn(self.arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(AwsError::from_sdk("sagemaker:DeleteTags"))
    }
}

/// SageMaker tags from a map.
pub fn sagemaker_tags(tags: &Tags) -> Vec<aws_sdk_sagemaker::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_sagemaker::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    /// Records the calls `sync` makes.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    #[async_trait]
    impl TagApi for Recorder {
        async fn tag(&self, set: Vec<(String, String)>) -> Result<(), AwsError> {
            let s: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.0.lock().unwrap().push(format!("tag {}", s.join(",")));
            Ok(())
        }
        async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
            self.0
                .lock()
                .unwrap()
                .push(format!("untag {}", keys.join(",")));
            Ok(())
        }
    }

    #[tokio::test]
    async fn sync_calls_only_what_has_something_to_do() {
        let r = Recorder::default();
        sync(
            &r,
            &json!({"a": "1", "b": "2"}),
            &json!({"a": "1", "b": "2"}),
        )
        .await
        .unwrap();
        assert!(r.0.lock().unwrap().is_empty(), "equal tags make no call");
        sync(
            &r,
            &json!({"a": "1", "x": "9"}),
            &json!({"a": "2", "b": "3"}),
        )
        .await
        .unwrap();
        assert_eq!(*r.0.lock().unwrap(), ["tag a=2,b=3", "untag x"]);
    }

    #[test]
    fn ours_of_kind_keeps_only_this_kind_and_environment() {
        let t = |a: &str, e: &str| json!({"novactl:address": a, "novactl:environment": e});
        assert_eq!(
            ours_of_kind(&t("sns.a", "p"), "p", "sns"),
            Some("sns.a".into())
        );
        assert_eq!(
            ours_of_kind(&t("dr.sns.a", "p"), "p", "sns"),
            Some("dr.sns.a".into())
        );
        assert_eq!(ours_of_kind(&t("sns.a", "q"), "p", "sns"), None);
        assert_eq!(ours_of_kind(&t("snsx.a", "p"), "p", "sns"), None);
        assert_eq!(
            ours_of_kind(&t("cloudwatch_alarm.a", "p"), "p", "sns"),
            None
        );
    }
}
