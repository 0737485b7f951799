//! The environment spec as users write it (docs/spec.md), made into types.
//!
//! Every struct denies unknown keys, so a typo is an error (with the nearest valid key) rather
//! than a silently ignored setting. Defaults here are the contract's defaults.
//!
//! The same types give `novactl schema` (JSON Schema, via schemars) and the key order
//! `novactl fmt` writes: every type here derives `JsonSchema`, and fields are declared in the
//! order a spec lists them. A doc comment on a field is its description in editors.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub type Map<T> = BTreeMap<String, T>;

fn yes() -> bool {
    true
}

/// The schema of `extend:`: one file or a list of files.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Extend {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Optional; base spec file(s) this one extends (paths relative to it): maps merge
    /// deeply, this file wins, lists are replaced, `null` removes a key. Merged away before
    /// parsing (see `spec::layers`), so always `None` here.
    #[serde(default, skip_serializing)]
    #[schemars(with = "Option<Extend>")]
    #[allow(dead_code)]
    pub extend: Option<serde_yaml::Value>,
    /// Required; used in ownership tags.
    pub environment: String,
    /// Required; the primary region.
    pub region: String,
    /// Optional; when set, novactl refuses to touch any other account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Optional AWS endpoint override (a local emulator).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Optional; how this environment's account is reached (a profile, a role to assume).
    #[serde(default)]
    pub aws: Option<AwsAccess>,
    /// Address renames (`{ from: s3.logs_old, to: s3.logs }`): the live resource tagged with
    /// `from` becomes `to` (re-tagged, state records moved); nothing is deleted or created.
    #[serde(default)]
    pub moved: Vec<Moved>,
    /// Free-form values for templates (`{{ vars.x }}`).
    #[serde(default)]
    #[schemars(with = "Map<serde_json::Value>")]
    pub vars: Map<serde_yaml::Value>,
    /// Names of `vars` entries whose values are secrets (printed as `(sensitive)`); names
    /// that look secret (`token`, `password`, ...) are sensitive without being listed.
    #[serde(default)]
    pub sensitive_vars: Vec<String>,
    /// Applied to every taggable resource.
    #[serde(default)]
    pub tags: Map<String>,
    /// Where the lock, create journal, inventory and audit records live; `None`: the local
    /// default (a directory beside the spec).
    #[serde(default)]
    pub state: Option<StateConfig>,
    /// HIPAA gate settings (waivers).
    #[serde(default)]
    pub check: Option<CheckConfig>,
    /// Managed networks (`network.<n>`): VPC, private subnets, NACL, endpoints, flow logs.
    #[serde(default)]
    pub network: Map<Network>,
    /// Security groups (`security_group.<n>`) in a spec network.
    #[serde(default)]
    pub security_groups: Map<SecurityGroup>,
    #[serde(default)]
    pub kms: Map<KmsKey>,
    #[serde(default)]
    pub s3: Map<Bucket>,
    #[serde(default)]
    pub iam: Map<Role>,
    #[serde(default)]
    pub sagemaker: Sagemaker,
    #[serde(default)]
    pub sns: Map<Topic>,
    #[serde(default)]
    pub cloudwatch: Cloudwatch,
    #[serde(default)]
    pub cloudtrail: Map<Trail>,
    #[serde(default)]
    pub dr: Option<Dr>,
}

/// One entry of `moved:` (see `engine::moves`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    /// The old address (no longer in the spec).
    pub from: String,
    /// The new address (in the spec, same kind).
    pub to: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    #[serde(default)]
    pub s3: Option<S3State>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3State {
    pub bucket: String,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Key id, ARN or `alias/...` of the key that encrypts the state objects.
    #[serde(default)]
    pub kms_key: Option<String>,
    /// Optional; a role the backend's clients assume (the state bucket in another account).
    /// Without it the backend uses the environment's credentials (`aws:`).
    #[serde(default)]
    pub assume_role: Option<AssumeRole>,
}

/// `aws:` — how the environment's account is reached.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsAccess {
    /// A profile of the AWS config and credentials files (`--profile` and AWS_PROFILE win).
    #[serde(default)]
    pub profile: Option<String>,
    /// Every AWS call of the run (all clients, both regions) uses this role's credentials.
    #[serde(default)]
    pub assume_role: Option<AssumeRole>,
}

/// A role to assume with STS AssumeRole, from the base credentials (profile or chain).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssumeRole {
    /// `arn:<partition>:iam::<12-digit account>:role/<path/name>`.
    pub role_arn: String,
    /// Optional; the external id the role's trust policy requires.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Optional; the session name (shows in CloudTrail); default `novactl-<run id>`.
    #[serde(default)]
    pub session_name: Option<String>,
    /// Optional; how long the assumed credentials last (900 to 43200 seconds; the SDK
    /// refreshes them before they expire). Default: STS's (3600).
    #[serde(default)]
    pub duration_seconds: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    #[serde(default)]
    pub waive: Vec<Waiver>,
    /// Shortest log-group retention (days) rule NOVA-LOG-002 accepts in spec mode; live mode
    /// also compares the live retention with the spec's. Default 365 (Prowler's default).
    #[serde(default)]
    pub min_log_retention_days: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// Rule id (`NOVA-SM-004`).
    pub rule: String,
    /// Resource address the waiver applies to.
    pub address: String,
    pub reason: String,
    /// Date (YYYY-MM-DD) after which the waiver no longer applies.
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KmsKey {
    /// `alias/...`; how the key is found again.
    pub alias: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub rotation: bool,
    /// Used by destroy; 7..=30.
    #[serde(default = "default_window")]
    pub deletion_window_days: u32,
    /// Key policy template file, relative to the spec file.
    #[serde(default)]
    pub policy: Option<String>,
    /// Extra tags for this key only (added to the spec-wide `tags`).
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

fn owner_enforced() -> String {
    "BucketOwnerEnforced".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AccessLogging {
    /// `true`: the default target; `false`: no access logging.
    Enabled(bool),
    Target(LogTarget),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogTarget {
    /// Logical name of the `s3.*` access-log bucket.
    pub bucket: String,
    /// Key prefix; default `<source bucket name>/`.
    #[serde(default)]
    pub prefix: Option<String>,
}

fn default_window() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Global bucket name (a template).
    pub name: String,
    /// Logical name of the `kms.*` key used for SSE-KMS default encryption. Required, except
    /// on the access-log bucket (`access_log_bucket: true`), which S3 only delivers to when it
    /// is encrypted with SSE-S3.
    #[serde(default)]
    pub kms_key: String,
    #[serde(default = "yes")]
    pub versioning: bool,
    /// This bucket receives the S3 server access logs of the spec's buckets in its region.
    #[serde(default)]
    pub access_log_bucket: bool,
    /// Server access logging: default on, to the access-log bucket of the bucket's region
    /// under `<bucket name>/`; `false` turns it off; `{ bucket, prefix }` picks the target.
    #[serde(default)]
    pub access_logging: Option<AccessLogging>,
    /// S3 Object Ownership; default `BucketOwnerEnforced` (ACLs disabled).
    #[serde(default = "owner_enforced")]
    pub object_ownership: String,
    #[serde(default)]
    pub lifecycle: Vec<LifecycleRule>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    pub id: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    #[serde(default)]
    pub expire_days: Option<i32>,
    /// Days after which noncurrent object versions expire.
    #[serde(default)]
    pub noncurrent_expire_days: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub days: i32,
    pub storage_class: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Service principals allowed to assume the role.
    pub trust: Vec<String>,
    /// Inline policies: policy name -> template file.
    #[serde(default)]
    pub policies: Map<String>,
    /// Trust only requests made on behalf of this account (`aws:SourceAccount`), against the
    /// confused-deputy problem. Default true.
    #[serde(default = "yes")]
    pub source_account: bool,
    /// Also require `aws:SourceArn` to match this ARN pattern (a template), e.g.
    /// `arn:aws:sagemaker:{{ region }}:{{ account_id }}:*`.
    #[serde(default)]
    pub source_arn: Option<String>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sagemaker {
    #[serde(default)]
    pub models: Map<Model>,
    #[serde(default)]
    pub endpoints: Map<Endpoint>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    pub image: String,
    pub model_data: String,
    /// Logical name of an `iam.*` role.
    pub role: String,
    #[serde(default)]
    pub environment: Map<String>,
    /// Names of `environment` variables whose values are secrets (printed as
    /// `(sensitive)`); names that look secret (`HF_TOKEN`, ...) need not be listed.
    #[serde(default)]
    pub sensitive: Vec<String>,
    #[serde(default)]
    pub vpc: Option<Vpc>,
    #[serde(default = "yes")]
    pub network_isolation: bool,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// Logical name of a `network.*` entry: the model runs in its private subnets, and
    /// `security_groups` name `security_groups.*` entries. Without it, both lists hold ids.
    #[serde(default)]
    pub network: Option<String>,
    pub security_groups: Vec<String>,
    /// Subnet ids (`subnet-...`); not allowed with `network`.
    #[serde(default)]
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    /// Logical name of a `sagemaker.models.*` model.
    pub model: String,
    pub instance_type: String,
    pub instance_count: i32,
    /// Logical name of the `kms.*` key for the storage volume.
    #[serde(default)]
    pub kms_key: Option<String>,
    /// Name of the production variant.
    #[serde(default = "default_variant")]
    pub variant_name: String,
    /// Time budget for the endpoint to reach InService.
    #[serde(default = "default_timeout")]
    pub timeout_minutes: u64,
    #[serde(default)]
    pub data_capture: Option<DataCapture>,
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
    /// How an update reaches traffic (SageMaker deployment guardrails).
    #[serde(default)]
    pub deployment: Option<Deployment>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

/// An endpoint's `deployment:`: how an update shifts traffic (docs/spec.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// all_at_once (default) | canary | linear | rolling.
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub canary_percent: Option<i32>,
    #[serde(default)]
    pub canary_instances: Option<i32>,
    #[serde(default)]
    pub linear_step_percent: Option<i32>,
    #[serde(default)]
    pub linear_step_instances: Option<i32>,
    #[serde(default)]
    pub rolling_batch_percent: Option<i32>,
    #[serde(default)]
    pub rolling_batch_instances: Option<i32>,
    /// Between steps.
    #[serde(default)]
    pub wait_minutes: Option<i64>,
    /// Before the old fleet is terminated.
    #[serde(default)]
    pub bake_minutes: Option<i64>,
    /// The whole deployment.
    #[serde(default)]
    pub max_minutes: Option<i64>,
    /// Logical names of `cloudwatch.alarms.*`.
    #[serde(default)]
    pub rollback_alarms: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    AllAtOnce,
    Canary,
    Linear,
    Rolling,
}

fn default_variant() -> String {
    "default".into()
}
fn default_timeout() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataCapture {
    /// Logical name of an `s3.*` bucket.
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "hundred")]
    pub sampling_percent: i32,
    /// Logical name of the `kms.*` key that encrypts captured data; default the capture
    /// bucket's key, else the endpoint's.
    #[serde(default)]
    pub kms_key: Option<String>,
}

fn hundred() -> i32 {
    100
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    pub min: i32,
    pub max: i32,
    pub target_invocations_per_instance: f64,
    #[serde(default = "default_out_cooldown")]
    pub scale_out_cooldown: i32,
    #[serde(default = "default_in_cooldown")]
    pub scale_in_cooldown: i32,
}

fn default_out_cooldown() -> i32 {
    300
}
fn default_in_cooldown() -> i32 {
    300
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub name: String,
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cloudwatch {
    #[serde(default)]
    pub dashboards: Map<Dashboard>,
    #[serde(default)]
    pub alarms: Map<Alarm>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub name: String,
    /// Dashboard body template file, relative to the spec file.
    pub template: String,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    #[serde(default)]
    pub dimensions: Map<String>,
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison: String,
    #[serde(default)]
    pub treat_missing_data: Option<String>,
    /// References to `sns.*`, or literal ARNs.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Notified when the alarm returns to OK (same forms as `actions`). Default none.
    #[serde(default)]
    pub ok_actions: Vec<String>,
    /// Notified when the alarm has insufficient data; default the same as `actions`.
    #[serde(default)]
    pub insufficient_data_actions: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trail {
    pub name: String,
    /// Logical name of an `s3.*` bucket.
    pub bucket: String,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default = "yes")]
    pub multi_region: bool,
    #[serde(default = "yes")]
    pub log_file_validation: bool,
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub log_group: Option<String>,
    #[serde(default)]
    pub log_retention_days: Option<i32>,
    /// An existing IAM role (name or ARN) CloudTrail assumes to write to `log_group`; novactl
    /// then neither makes, changes nor deletes a delivery role. Default: the role novactl
    /// makes, `<trail name>-CloudWatchLogs`.
    #[serde(default)]
    pub log_role: Option<String>,
    #[serde(default)]
    pub data_events: Vec<String>,
    /// CIS metric filters (root account use, console authentication failures) on the trail's
    /// log group, each with an alarm. Default on when the trail has a `log_group`.
    #[serde(default)]
    pub security_alarms: Option<SecurityAlarms>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityAlarms {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Logical name of the `sns.*` topic the alarms notify (alarm and insufficient data).
    #[serde(default)]
    pub topic: Option<String>,
}

impl Default for SecurityAlarms {
    fn default() -> Self {
        SecurityAlarms {
            enabled: true,
            topic: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dr {
    pub region: String,
    /// Recovery time objective the drill measures against, in minutes (fractions allowed).
    #[serde(default)]
    pub rto_minutes: Option<f64>,
    /// Recovery point objective the drill measures against, in minutes (fractions allowed).
    #[serde(default)]
    pub rpo_minutes: Option<f64>,
    #[serde(default)]
    pub replicate: Replicate,
    /// Warm-standby size of every DR endpoint; failover scales to the primary's count.
    #[serde(default)]
    pub instance_count: Option<i32>,
    /// Twin bucket names, by the primary bucket's logical name (default
    /// `<primary name>-<dr region>`).
    #[serde(default)]
    pub buckets: Map<DrBucket>,
    /// Security groups and subnets of the DR models (VPC ids are regional), for replicated
    /// models whose `vpc` holds ids; not with `replicate.networks` (the DR models then run in
    /// the twin network).
    #[serde(default)]
    pub vpc: Option<Vpc>,
    /// Replicate delete markers (a delete in the primary hides the object in the DR bucket
    /// too; its versions stay).
    #[serde(default = "yes")]
    pub delete_marker_replication: bool,
    /// What `dr drill` sends to a promoted endpoint to prove it serves.
    #[serde(default)]
    pub canary: Canary,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrBucket {
    /// Name of the twin bucket (a template, like bucket names).
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// Invoke the promoted endpoint (InvokeEndpoint) during a drill; `false` measures RTO up to
    /// InService at capacity and says so in the report.
    #[serde(default = "yes")]
    pub invoke: bool,
    /// Request body of the canary invocation.
    #[serde(default = "default_canary_body")]
    pub body: String,
    #[serde(default = "default_canary_type")]
    pub content_type: String,
}

impl Default for Canary {
    fn default() -> Self {
        Canary {
            invoke: true,
            body: default_canary_body(),
            content_type: default_canary_type(),
        }
    }
}

fn default_canary_body() -> String {
    r#"{"inputs": "novactl dr drill canary"}"#.into()
}
fn default_canary_type() -> String {
    "application/json".into()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replicate {
    #[serde(default)]
    pub kms: Vec<String>,
    #[serde(default)]
    pub s3: Vec<String>,
    #[serde(default)]
    pub sagemaker_endpoints: Vec<String>,
    /// Networks with a DR twin (`dr.network.<n>`, and `dr.security_group.<g>` for the groups
    /// in it): the DR models run in the twin instead of `dr.vpc`.
    #[serde(default)]
    pub networks: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The VPC's IPv4 CIDR block (`172.16.0.0/16`, a /16 to /28).
    pub cidr: String,
    /// Private subnets by name: no internet route, no public IPs on launch.
    #[serde(default)]
    pub subnets: Map<Subnet>,
    /// VPC endpoints: `s3` is the gateway endpoint on the private route tables; every other
    /// name (`kms`, `sagemaker.runtime`, `ecr.dkr`, ...) an interface endpoint with private DNS.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// VPC flow logs (ALL traffic) to a KMS-encrypted log group; `None`: no flow logs.
    #[serde(default)]
    pub flow_logs: Option<FlowLogs>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// Inside the network's CIDR.
    pub cidr: String,
    /// Letter suffix of the region's availability zone (`a` is `<region>a`).
    pub az: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowLogs {
    /// Logical name of the `kms.*` key that encrypts the log group.
    pub kms_key: String,
    /// Retention of the log group (a value CloudWatch Logs accepts). Default 365.
    #[serde(default = "default_flow_retention")]
    pub retention_days: i32,
}

fn default_flow_retention() -> i32 {
    365
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// Logical name of the `network.*` entry the group lives in.
    pub network: String,
    pub description: String,
    /// Inbound rules; none by default.
    #[serde(default)]
    pub ingress: Vec<SgRule>,
    /// Outbound rules; none by default (the allow-all rule AWS adds is removed).
    #[serde(default)]
    pub egress: Vec<SgRule>,
    #[serde(default)]
    pub tags: Map<String>,
    /// Refuse to delete or replace this resource (plan, apply, destroy); `None`: the kind's
    /// default.
    #[serde(default)]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SgRule {
    /// One port; or use `ports`.
    #[serde(default)]
    pub port: Option<i32>,
    /// A port range `[from, to]`.
    #[serde(default)]
    pub ports: Option<Vec<i32>>,
    /// `tcp` (default), `udp`, `icmp` or `all`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Ingress: the `security_groups.*` entry traffic may come from.
    #[serde(default)]
    pub from: Option<String>,
    /// Egress: the `security_groups.*` entry traffic may go to.
    #[serde(default)]
    pub to: Option<String>,
    /// An IPv4 or IPv6 CIDR instead of a group.
    #[serde(default)]
    pub cidr: Option<String>,
    /// An AWS prefix list instead of a group or CIDR: a gateway endpoint service (`s3`,
    /// `dynamodb`; the region's `com.amazonaws.<region>.<service>` list) or a `pl-…` id.
    #[serde(default)]
    pub prefix_list: Option<String>,
}

fn default_protocol() -> String {
    "tcp".into()
}
