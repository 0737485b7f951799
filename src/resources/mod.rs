//! Resource kinds. Each kind is a file (or a folder of rooms) behind the [`Reconciler`] trait,
//! described by its [`KindInfo`] and built from the shared [`kit`]; [`registry`] lists them in
//! dependency rank (a kind may refer only to kinds before it). Addresses are read and written
//! only by [`Address`]. docs/architecture.md walks through adding a kind.
//!
//! # The Reconciler contract
//!
//! * `decls` and `desired` are pure: they read the spec and render templates, nothing else.
//!   `desired` returns the resource's attributes as JSON in the same shape `observe` reports,
//!   so the engine can diff the two attribute by attribute.
//! * `observe` never changes anything. It reports absence as `state: None`, not as an error.
//! * `create` converges from nothing and is repeat-safe: "already exists" is success only for a
//!   resource that carries our ownership tags (`novactl:address`, `novactl:environment`), or
//!   that the create's own call made before its answer was lost (the SDK resends every call
//!   after a dropped connection, writes included: [`crate::aws::retry`]). A create that
//!   cannot tell (an AWS-assigned id, as CreateKey's) cleans up its own second copy.
//! * `update` is told which top-level attributes differ and writes only those. It must reach
//!   the desired state from whatever it finds (it is never told why it runs).
//! * `delete` treats "not found" as success, and deletes only the parts it observes (no
//!   DeleteScalingPolicy for an endpoint that has no scaling policy). `refuse_delete` says,
//!   reading only, why `delete` would refuse (destroy asks every resource before deleting any).
//! * AWS errors are matched with the SDK's typed checks (`is_not_found_exception()`), never by
//!   message text, and returned as [`AwsError`] (operation + AWS code).
//!
//! The engine, not the reconciler, decides the action (create, update, replace, delete, no-op,
//! conflict) from `observe` and `desired`.

pub mod cloudtrail;
pub mod cloudwatch;
pub mod dr;
pub mod iam;
pub mod kind;
pub mod kit;
pub mod kms;
pub mod network;
pub mod s3;
pub mod sagemaker;
pub mod sns;

use std::collections::HashSet;
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::{json, Value};

pub use crate::address::Address;
pub use kind::{Deletion, KindInfo, Names};
pub use kit::cache::ReadCache;
pub use kit::tags::{
    desired_tags, ours_of_kind, tagged_protected, tags_json, TAG_ADDRESS, TAG_ENVIRONMENT,
    TAG_PROTECT,
};

use crate::aws::{Aws, AwsError, Clients};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// One resource the spec asks for, before its templates are rendered in full.
#[derive(Debug, Clone)]
pub struct Decl {
    /// `<kind>.<logical-name>`, with `dr.` in front for the DR stack.
    pub address: String,
    pub kind: &'static str,
    /// Logical name (the map key in the spec).
    pub name: String,
    /// Dotted path of the resource in the spec file, for errors (`s3.models`).
    pub spec_path: String,
    pub region: String,
    /// The physical name AWS knows it by (bucket name, alias, role name).
    pub identity: String,
    /// Key whose value is the identity, for duplicate errors (`s3.models.name`).
    pub identity_key: String,
    /// Addresses this resource needs to exist first.
    pub deps: Vec<String>,
    /// Attributes known from the spec alone (`name`, a computable `arn`); put in the template
    /// context under the resource's paths.
    pub outputs: Value,
    /// Template files this resource renders (part of the spec digest).
    pub template_files: Vec<PathBuf>,
}

/// Whose a live resource is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "owner")]
pub enum Owner {
    /// Tagged with this address and environment.
    Ours,
    /// Exists with the spec's name but is not tagged as ours (or is another environment's).
    Foreign { reason: String },
}

/// What `observe` found.
#[derive(Debug, Clone)]
pub struct Observed {
    pub address: String,
    /// Key id, bucket name, role name: what delete needs.
    pub physical_id: String,
    /// Live attributes in the shape of `desired`; `None` when the resource does not exist.
    pub state: Option<Value>,
    pub owner: Owner,
    /// Attributes other resources may use (`arn`, `id`); includes those known only after
    /// creation.
    pub outputs: Value,
}

impl Observed {
    pub fn absent(address: &str) -> Self {
        Observed {
            address: address.to_string(),
            physical_id: String::new(),
            state: None,
            owner: Owner::Ours,
            outputs: json!({}),
        }
    }
}

/// Everything a reconciler call may use.
pub struct Ctx<'a> {
    pub aws: &'a Aws,
    pub environment: &'a str,
    pub account_id: &'a str,
    /// Status for the apply spinner of the change being run (e.g. "Updating (2m10s)"); `None`
    /// outside apply.
    pub progress: Option<&'a (dyn Fn(&str) + Sync)>,
    /// The spec's resources by name ([`SpecNames`]). `discover` skips the full read of a live
    /// resource that is one of these: `observe` reads it anyway, and discovery is only after
    /// what left the spec.
    pub in_spec: &'a SpecNames,
    /// Reads shared by the resources of one observation (one GetResources per region, one
    /// DescribeAlarms for every alarm, model versions read once for a model and its endpoint);
    /// `None` outside [`crate::engine::observe`], so apply always reads fresh.
    pub cache: Option<&'a ReadCache>,
    /// The state backend (create journal, inventory) and this run's id; `None` in plan and in
    /// unit tests, where nothing is written.
    #[allow(dead_code)] // used by the create journal (issue 7)
    pub state: Option<&'a dyn crate::state::Backend>,
    #[allow(dead_code)]
    pub run_id: &'a str,
}

impl Ctx<'_> {
    /// Is `identity` (bucket name, role name, alias...) in `region` the spec's name for a
    /// `kind` resource? (A DR twin may share its primary's name in another region: an
    /// endpoint, a key alias.)
    pub fn in_spec(&self, kind: &str, region: &str, identity: &str) -> bool {
        self.in_spec.contains(kind, region, identity)
    }

    pub fn clients(&self, region: &str) -> &Clients {
        self.aws.clients(region)
    }
}

/// `(kind, region, identity)` of every resource of the spec; the region is left out for kinds
/// whose names are global (a bucket name is the spec's in every region).
#[derive(Debug, Default)]
pub struct SpecNames(HashSet<(String, String, String)>);

impl SpecNames {
    pub fn of(decls: &[Decl]) -> SpecNames {
        SpecNames(
            decls
                .iter()
                .map(|d| {
                    (
                        d.kind.to_string(),
                        name_scope(d.kind, &d.region),
                        d.identity.clone(),
                    )
                })
                .collect(),
        )
    }

    pub fn contains(&self, kind: &str, region: &str, identity: &str) -> bool {
        self.0.contains(&(
            kind.to_string(),
            name_scope(kind, region),
            identity.to_string(),
        ))
    }
}

/// Where a name of `kind` must be unique: `region`, or "" for global names.
fn name_scope(kind: &str, region: &str) -> String {
    match info_of(kind).map(|i| i.names) {
        Some(Names::Global) => String::new(),
        _ => region.to_string(),
    }
}

/// What to delete, and how.
pub struct DeleteTarget<'a> {
    pub observed: &'a Observed,
    /// Desired attributes when the resource is still in the spec (destroy), else `None`.
    pub desired: Option<&'a Value>,
    pub region: &'a str,
    /// `--force`: delete non-empty buckets.
    pub force: bool,
}

#[async_trait]
pub trait Reconciler: Send + Sync {
    /// What the engine knows of this kind (see [`KindInfo`]).
    fn info(&self) -> &'static KindInfo;

    /// The kind part of addresses (`kms`, `s3`, `iam`, `sagemaker_endpoint`).
    fn kind(&self) -> &'static str {
        self.info().kind
    }

    /// Every AWS call this kind makes, with the IAM actions and resources it needs (see
    /// [`crate::permissions`]); declared beside the calls, in the kind's file, in groups: a
    /// group several kinds share (the calls on a role a kind owns, [`iam::OWNED_ROLE`]) is
    /// declared once.
    fn permissions(&self) -> &'static [&'static [crate::permissions::Perm]] {
        &[]
    }

    /// The resources of this kind in the spec; identities rendered with `r` (which knows only
    /// `environment`, `region`, `account_id` and `vars` at this point). Checks references.
    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError>;

    /// Desired attributes of `decl`, rendered with the current context.
    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError>;

    /// Optional: how an update of `live` to `desired` will go, in one line the plan adds to
    /// the change's reason (an endpoint: the new fleet's starting count, the strategy).
    fn update_note(&self, _live: &Value, _desired: &Value) -> Option<String> {
        None
    }

    /// Top-level attributes whose change needs a new resource.
    fn replace_on(&self) -> &'static [&'static str] {
        self.info().replace_on
    }

    /// Output attributes known only after creation; they render as "(known after apply)".
    fn late_outputs(&self) -> &'static [&'static str] {
        self.info().late_outputs
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError>;

    /// Creates the resource; returns its outputs.
    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError>;

    /// Converges the `changed` attributes; returns the outputs.
    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError>;

    async fn delete(&self, cx: &Ctx<'_>, target: &DeleteTarget<'_>) -> Result<(), AwsError>;

    /// Why `delete` would refuse this target (a non-empty bucket without `--force`, a bucket
    /// that is not ours), checked by destroy for every resource before it deletes anything.
    /// Reads only.
    async fn refuse_delete(
        &self,
        _cx: &Ctx<'_>,
        _target: &DeleteTarget<'_>,
    ) -> Result<Option<String>, AwsError> {
        Ok(None)
    }

    /// What a successful delete did, for the progress line ("deleted"; KMS keys are only
    /// scheduled for deletion). `decl` is the resource's declaration when it is in the spec.
    fn deleted_text(&self, _spec: &LoadedSpec, _decl: Option<&Decl>) -> String {
        "deleted".into()
    }

    /// Resource types (`s3:bucket`, as the Resource Groups Tagging API names them) under which
    /// this kind's resources are found by their `novactl:environment` tag. Empty: the tagging
    /// API does not cover the kind, and discovery goes by the state backend's inventory.
    fn tagging_types(&self) -> &'static [&'static str] {
        self.info().tagging_types
    }

    /// Full scan (`plan --scan`): every live resource of this kind in `region` tagged with
    /// `environment`, found by listing them all (cost grows with the account). Kinds that
    /// cannot list cheaply return nothing.
    async fn discover(&self, _cx: &Ctx<'_>, _region: &str) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    /// Reads the resources discovery found for this kind in `region` (from the tagging API
    /// or the inventory) that are not the spec's: each becomes an [`Observed`] with the address
    /// its tags (or inventory entry) name. A candidate that no longer exists, or that turns
    /// out not to be ours, is left out.
    async fn discover_found(
        &self,
        _cx: &Ctx<'_>,
        _region: &str,
        _found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    /// `novactl import`: the spec entry that describes the live resource `req.id`, such that
    /// `apply --adopt` of it then plans "No changes.". Reads only; secrets are not copied.
    /// Default: not supported for this kind (an error naming it).
    async fn import(
        &self,
        _cx: &Ctx<'_>,
        _req: &kit::import::ImportRequest<'_>,
    ) -> Result<kit::import::Imported, AwsError> {
        Err(kit::import::unsupported(self.kind()))
    }
}

/// A resource discovery found without listing the account: from the Resource Groups Tagging
/// API (`arn`, `tags`) or from the state backend's inventory (`identity`, `arn` if recorded).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The `novactl:address` it carries (or the inventory recorded).
    pub address: String,
    pub arn: String,
    /// The physical name from the inventory (bucket, role, dashboard); empty from the tagging
    /// API, where the ARN names it.
    pub identity: String,
    /// Its tags, from the tagging API; `None` from the inventory.
    pub tags: Option<Value>,
}

impl Found {
    /// The last part of the ARN's resource: the name (`trail/x` -> `x`, `alarm:x` -> `x`,
    /// `arn:aws:s3:::b` -> `b`), or the identity when there is no ARN.
    pub fn name(&self) -> &str {
        if self.arn.is_empty() {
            return &self.identity;
        }
        let resource = self.arn.splitn(6, ':').nth(5).unwrap_or_default();
        match resource.split_once(['/', ':']) {
            Some((_, rest)) => rest,
            None => resource,
        }
    }
}

/// The tagging API's resource type of an ARN: `service:type` (`kms:key`, `logs:log-group`,
/// `sagemaker:endpoint-config`); an S3 bucket is `s3:bucket` and an SNS topic `sns:topic`,
/// whose ARNs name no type.
pub fn arn_type(arn: &str) -> String {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or_default();
    let resource = parts.nth(2).unwrap_or_default();
    match resource.split_once(['/', ':']) {
        Some((t, _)) => format!("{service}:{t}"),
        None if service == "s3" => "s3:bucket".into(),
        None if service == "sns" => "sns:topic".into(),
        None => format!("{service}:{resource}"),
    }
}

/// Every kind, in dependency rank: deletes of resources that left the spec run in reverse.
static REGISTRY: &[&dyn Reconciler] = &[
    &kms::Kms,
    &s3::S3,
    &iam::Iam,
    &network::Network,
    &network::security_group::SecurityGroupKind,
    &sagemaker::model::SagemakerModel,
    &sagemaker::endpoint::SagemakerEndpoint,
    &sns::Sns,
    &cloudwatch::Alarm,
    &cloudwatch::Dashboard,
    &cloudtrail::LogGroup,
    &cloudtrail::Trail,
];

/// Every kind, in dependency rank: deletes of resources that left the spec run in reverse.
pub fn registry() -> &'static [&'static dyn Reconciler] {
    REGISTRY
}

/// The descriptor of `kind`.
pub fn info_of(kind: &str) -> Option<&'static KindInfo> {
    REGISTRY.iter().map(|k| k.info()).find(|i| i.kind == kind)
}

/// Does the spec say `protect: true` for `address`? A DR twin shares its primary's setting,
/// and `log_group.<n>`, part of the trail `cloudtrail.<n>`, the trail's. Every kind defaults to
/// false: see docs/spec.md.
pub fn protected(spec: &crate::spec::Spec, address: &str) -> bool {
    Address::parse(address)
        .and_then(|a| (info_of(a.kind())?.protect)(spec, a.name()))
        .unwrap_or(false)
}

/// Keys the spec marks sensitive for `address` (a model's `sensitive` environment names; a DR
/// twin's are its primary's).
pub fn marked_sensitive(spec: &crate::spec::Spec, address: &str) -> Vec<String> {
    Address::parse(address)
        .and_then(|a| Some((info_of(a.kind())?.sensitive)(spec, a.name())))
        .unwrap_or_default()
}

/// The spec key that sets [`protected`] for `address`, e.g. `kms.phi.protect` (a twin's is
/// its primary's).
pub fn protect_key(address: &str) -> String {
    match Address::parse(address) {
        Some(a) => match info_of(a.kind()) {
            Some(i) => i.protect_key(a.name()),
            None => format!("{}.{}.protect", a.kind(), a.name()),
        },
        None => format!("{address}.protect"),
    }
}

/// Read a typed desired struct back from its JSON.
pub fn from_desired<T: serde::de::DeserializeOwned>(
    address: &str,
    v: &Value,
) -> Result<T, AwsError> {
    serde_json::from_value(v.clone()).map_err(|e| {
        AwsError::local(
            "novactl:desired",
            "InternalError",
            format!("{address}: desired state does not decode: {e}"),
        )
    })
}
