//! The DR stack: twins of primary resources in `dr.region`, addressed `dr.<kind>.<name>`, in
//! the same plan, graph, lock and audit trail as the primary.
//!
//! # Which twins
//! * `dr.replicate.kms: [k]` → `dr.kms.k`: the key in the DR region (same alias, rotation,
//!   policy template rendered for the DR region, tags).
//! * `dr.replicate.s3: [b]` → `dr.s3.b`: the twin bucket (same settings, encrypted with the DR
//!   key) plus the replication of the primary bucket into it ([`replication`]).
//! * the access-log bucket `l` those buckets log to → `dr.s3.l`: the DR region's access-log
//!   bucket (same settings, no replication: S3 delivers server access logs only within a
//!   region, so the twins log to it) ([`dr_log_buckets`]).
//! * `dr.replicate.sagemaker_endpoints: [e]` → `dr.sagemaker_endpoint.e` and
//!   `dr.sagemaker_model.<e's model>`: the model reading its artifact from the twin bucket, with
//!   the image's ECR registry in the DR region, and the endpoint as a warm standby of
//!   `dr.instance_count` instances.
//! * `dr.replicate.networks: [n]` → `dr.network.n` and `dr.security_group.<g>` for each group
//!   in `n`: the same network in the DR region (its own name `<environment>-<n>-<dr region>`,
//!   subnets on the DR region's zones in order, flow logs with the DR key, the S3 gateway's
//!   policy naming the twin buckets); the DR models run in it instead of `dr.vpc`.
//!
//! # How a twin is reconciled
//! A twin is a [`Decl`] of the **same kind** as its primary (same logical name and spec path,
//! so settings and errors point at the primary's keys), with the DR region, a `dr.` address,
//! its own identity (a twin bucket has its own name) and its dependencies mapped to twins where
//! they exist ([`twin_dep`]). The kind's own reconciler does the work. Its desired state is
//! rendered in the **DR view** of the template context ([`view`]): `region` is the DR region and
//! every resource that has a twin stands for its twin (`{{ kms.phi.arn }}` is the DR key,
//! `{{ s3.models.name }}` the twin bucket); the primary's values stay reachable under
//! `primary.*`, and `dr_twin` is true. The few things only twins do are small hooks in the
//! kinds, keyed on [`is_twin`] or [`twin_view`], with the shared logic here and in this
//! folder's rooms:
//! * [`replication`]: the S3 replication of a twin bucket's primary (rule, role, backfill);
//! * [`objects`]: the S3 object library (head, SHA-256, copies verified by SHA-256) that
//!   replication, the DR model's artifact and `dr drill` use;
//! * [`artifact`]: the DR model's artifact kept in sync with the primary's.

pub mod artifact;
pub mod objects;
pub mod replication;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{Address, Decl};
use crate::spec::model::{Autoscaling, Endpoint, Spec};
use crate::spec::render::{is_unknown, Renderer};
use crate::spec::{LoadedSpec, SpecError};

/// Address prefix of the DR stack.
pub const PREFIX: &str = crate::address::TWIN_PREFIX;

/// Warm-standby size when `dr.instance_count` is not set.
pub const DEFAULT_STANDBY_COUNT: i32 = 1;

/// Is this the address of a DR twin?
pub fn is_twin(address: &str) -> bool {
    Address::is_twin_str(address)
}

/// The twin's address of the primary `address` (`kms.phi` → `dr.kms.phi`).
pub fn twin_address(address: &str) -> String {
    Address::parse(address).map_or_else(|| format!("{PREFIX}{address}"), |a| a.twin().to_string())
}

/// What a dependency `dep` of a twin points at: the twin of `dep` when the spec has one.
pub fn twin_dep(dep: &str, defined: &[String]) -> String {
    match Address::parse(dep).filter(|a| !a.is_twin()) {
        Some(a) if defined.contains(&a.twin().to_string()) => a.twin().to_string(),
        _ => dep.to_string(),
    }
}

/// The twin bucket's name when `dr.buckets.<n>.name` does not set one.
pub fn default_twin_bucket(primary: &str, dr_region: &str) -> String {
    format!("{primary}-{dr_region}")
}

/// The IAM role S3 assumes to replicate bucket `logical` (made and owned by `dr.s3.<logical>`).
pub fn replication_role_name(environment: &str, logical: &str) -> String {
    let mut n = format!("novactl-{environment}-replication-{logical}");
    n.truncate(64);
    n
}

/// An ECR image URI with its registry moved from region `from` to `to`
/// (`763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1` → `...dkr.ecr.us-west-2...`), as the
/// seed does for the DR model. Images elsewhere are unchanged.
pub fn image_in_region(image: &str, from: &str, to: &str) -> String {
    image.replacen(&format!(".dkr.ecr.{from}."), &format!(".dkr.ecr.{to}."), 1)
}

/// Rendering for a twin: what [`view`] put in the context.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinView {
    pub region: String,
    pub primary_region: String,
    /// `dr failover` promoted the standby (until `dr failback`).
    pub promoted: bool,
}

/// `Some` when `r` renders in the DR view.
pub fn twin_view(r: &Renderer) -> Option<TwinView> {
    if r.value("dr_twin") != Some(&Value::Bool(true)) {
        return None;
    }
    let s = |k: &str| {
        r.value(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(TwinView {
        region: s("region"),
        primary_region: s("primary_region"),
        promoted: r.value("dr_promoted") == Some(&Value::Bool(true)),
    })
}

/// The primary view a DR view was made from (to render a value as the primary sees it).
pub fn primary_context(r: &Renderer) -> Option<Value> {
    r.value("primary").cloned()
}

/// The DR view of a template context (see the module docs).
pub fn view(ctx: &Value, dr_region: &str, promoted: bool) -> Value {
    let mut v = ctx.clone();
    if let Some(twins) = ctx.get("dr") {
        merge(&mut v, twins);
    }
    v["region"] = json!(dr_region);
    v["primary"] = ctx.clone();
    v["dr_twin"] = json!(true);
    v["dr_promoted"] = json!(promoted);
    v
}

fn merge(dst: &mut Value, src: &Value) {
    if let (Value::Object(d), Value::Object(s)) = (&mut *dst, src) {
        for (k, v) in s {
            match d.get_mut(k) {
                Some(dv) if dv.is_object() && v.is_object() => merge(dv, v),
                _ => {
                    d.insert(k.clone(), v.clone());
                }
            }
        }
    } else {
        *dst = src.clone();
    }
}

/// Is bucket `logical` replicated to a DR twin (`dr.replicate.s3`)?
pub fn replicated_bucket(spec: &Spec, logical: &str) -> bool {
    spec.dr
        .as_ref()
        .is_some_and(|d| d.replicate.s3.iter().any(|n| n == logical))
}

/// The access-log buckets that get a DR twin: those a replicated bucket logs to. The twin is
/// the DR region's access-log bucket; the twins log to it.
pub fn dr_log_buckets(spec: &Spec) -> BTreeSet<String> {
    spec.dr
        .iter()
        .flat_map(|d| &d.replicate.s3)
        .filter_map(|n| crate::resources::s3::access_logs::target_of(spec, n))
        .collect()
}

/// Does bucket `logical` have a DR twin (replicated, or a DR access-log bucket)?
pub fn has_twin_bucket(spec: &Spec, logical: &str) -> bool {
    replicated_bucket(spec, logical) || dr_log_buckets(spec).contains(logical)
}

/// Is `decl` a twin bucket its primary replicates into (not a DR access-log bucket)?
pub fn replicating_twin(decl: &Decl) -> bool {
    is_twin(&decl.address) && decl.outputs["source_name"].is_string()
}

/// The warm-standby size.
pub fn standby_count(spec: &Spec) -> i32 {
    spec.dr
        .as_ref()
        .and_then(|d| d.instance_count)
        .unwrap_or(DEFAULT_STANDBY_COUNT)
}

/// How an endpoint is sized: the config's initial count, the autoscaling to register, and the
/// live capacity to hold (`None`: not managed, autoscaling or the primary's operators own it).
pub struct Sizing<'a> {
    pub instance_count: i32,
    pub autoscaling: Option<&'a Autoscaling>,
    pub capacity: Option<i32>,
}

/// The primary is sized by its spec. A standby runs `dr.instance_count` instances without
/// autoscaling; once promoted (`dr failover`), it holds the primary's capacity: the primary's
/// autoscaling, or its instance count when it has none. Its config keeps the warm count either
/// way, so a failover never makes a new config version.
pub fn sizing<'a>(spec: &Spec, e: &'a Endpoint, view: Option<&TwinView>) -> Sizing<'a> {
    let Some(v) = view else {
        return Sizing {
            instance_count: e.instance_count,
            autoscaling: e.autoscaling.as_ref(),
            capacity: None,
        };
    };
    let warm = standby_count(spec);
    if v.promoted {
        Sizing {
            instance_count: warm,
            autoscaling: e.autoscaling.as_ref(),
            capacity: e.autoscaling.is_none().then_some(e.instance_count),
        }
    } else {
        Sizing {
            instance_count: warm,
            autoscaling: None,
            capacity: Some(warm),
        }
    }
}

/// `s3://bucket/key` → (bucket, key).
pub fn parse_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

fn listed(v: &[&str]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The spec's replication lists, checked.
struct Wanted<'a> {
    kms: BTreeSet<&'a str>,
    s3: BTreeSet<&'a str>,
    endpoints: BTreeSet<&'a str>,
    models: BTreeSet<&'a str>,
    networks: BTreeSet<&'a str>,
    /// The security groups of the replicated networks.
    groups: BTreeSet<&'a str>,
}

/// Checks the `dr` section against the rest of the spec: every error names its key.
fn check<'a>(
    spec: &'a LoadedSpec,
    names: &Renderer,
    primary: &[Decl],
) -> Result<Wanted<'a>, SpecError> {
    let s = &spec.spec;
    let dr = s.dr.as_ref().expect("checked by the caller");
    let keys = |m: &[&str]| listed(m);
    let kms_names: Vec<&str> = s.kms.keys().map(String::as_str).collect();
    let s3_names: Vec<&str> = s.s3.keys().map(String::as_str).collect();
    let ep_names: Vec<&str> = s.sagemaker.endpoints.keys().map(String::as_str).collect();
    let mut w = Wanted {
        kms: BTreeSet::new(),
        s3: BTreeSet::new(),
        endpoints: BTreeSet::new(),
        models: BTreeSet::new(),
        networks: BTreeSet::new(),
        groups: BTreeSet::new(),
    };
    for (i, k) in dr.replicate.kms.iter().enumerate() {
        if !s.kms.contains_key(k) {
            return Err(spec.error(
                &format!("dr.replicate.kms.{i}"),
                format!(
                    "no kms key `{k}` in the spec; defined keys: {}",
                    keys(&kms_names)
                ),
            ));
        }
        w.kms.insert(k);
    }
    for (i, b) in dr.replicate.s3.iter().enumerate() {
        let key = format!("dr.replicate.s3.{i}");
        let Some(bucket) = s.s3.get(b) else {
            return Err(spec.error(
                &key,
                format!(
                    "no s3 bucket `{b}` in the spec; defined buckets: {}",
                    keys(&s3_names)
                ),
            ));
        };
        if bucket.access_log_bucket {
            return Err(spec.error(
                &key,
                format!(
                    "`{b}` is the access-log bucket (SSE-S3, written by S3's log delivery in its \
                     own region): it is not replicated; the DR region gets its own access-log \
                     bucket `dr.s3.{b}` for the twins that log to it, so leave it out of this list"
                ),
            ));
        }
        if !w.kms.contains(bucket.kms_key.as_str()) {
            return Err(spec.error(
                &key,
                format!(
                    "bucket `{b}` is encrypted with kms key `{}`, which dr.replicate.kms does not \
                     list: its twin is encrypted with the DR copy of that key",
                    bucket.kms_key
                ),
            ));
        }
        if !bucket.versioning {
            return Err(spec.error(
                &format!("s3.{b}.versioning"),
                "bucket is in dr.replicate.s3: S3 replication needs versioning on both buckets",
            ));
        }
        w.s3.insert(b);
    }
    let logs = dr_log_buckets(s);
    for n in dr.buckets.keys() {
        if !w.s3.contains(n.as_str()) && !logs.contains(n) {
            return Err(spec.error(
                &format!("dr.buckets.{n}"),
                format!(
                    "`{n}` is not in dr.replicate.s3 (nor the access-log bucket of a bucket \
                     there), so it has no twin to name"
                ),
            ));
        }
    }
    for n in s.s3.keys().filter(|n| logs.contains(*n)) {
        w.s3.insert(n);
    }
    check_networks(spec, &mut w)?;
    for (i, e) in dr.replicate.sagemaker_endpoints.iter().enumerate() {
        let key = format!("dr.replicate.sagemaker_endpoints.{i}");
        let Some(ep) = s.sagemaker.endpoints.get(e) else {
            return Err(spec.error(
                &key,
                format!(
                    "no sagemaker endpoint `{e}` in the spec; defined endpoints: {}",
                    keys(&ep_names)
                ),
            ));
        };
        if let Some(k) = &ep.kms_key {
            if !w.kms.contains(k.as_str()) {
                return Err(spec.error(
                    &key,
                    format!(
                        "endpoint `{e}` encrypts its storage with kms key `{k}`, which \
                         dr.replicate.kms does not list"
                    ),
                ));
            }
        }
        if let Some(dc) = &ep.data_capture {
            if let Some(k) = dc.kms_key.as_ref().filter(|k| !w.kms.contains(k.as_str())) {
                return Err(spec.error(
                    &key,
                    format!(
                        "endpoint `{e}` encrypts captured data with kms key `{k}`, which \
                         dr.replicate.kms does not list"
                    ),
                ));
            }
            if !w.s3.contains(dc.bucket.as_str()) {
                return Err(spec.error(
                    &key,
                    format!(
                        "endpoint `{e}` captures data into bucket `{}`, which dr.replicate.s3 \
                         does not list: the DR endpoint captures into that bucket's twin",
                        dc.bucket
                    ),
                ));
            }
        }
        let m = &s.sagemaker.models[&ep.model];
        let data_key = format!("sagemaker.models.{}.model_data", ep.model);
        let uri = names.str(&data_key, &m.model_data)?;
        let bucket = parse_s3_uri(&uri).map(|(b, _)| b);
        let logical = primary
            .iter()
            .find(|d| d.kind == "s3" && Some(d.identity.as_str()) == bucket)
            .map(|d| d.name.as_str());
        match logical {
            Some(b) if w.s3.contains(b) => {}
            Some(b) => {
                return Err(spec.error(
                    &key,
                    format!(
                    "endpoint `{e}` serves model `{}`, whose artifact {uri} is in bucket `{b}`, \
                         which dr.replicate.s3 does not list: the DR model reads its artifact \
                         from that bucket's twin",
                    ep.model
                ),
                ))
            }
            None => {
                return Err(spec.error(
                    &key,
                    format!(
                        "endpoint `{e}` serves model `{}`, whose artifact {uri} is not in a \
                         bucket of this spec: the DR model reads its artifact from the twin of \
                         a replicated bucket",
                        ep.model
                    ),
                ))
            }
        }
        match m.vpc.as_ref().map(|v| v.network.as_deref()) {
            Some(Some(net)) if dr.vpc.is_none() && !w.networks.contains(net) => {
                return Err(spec.error(
                    &key,
                    format!(
                        "model `{}` runs in network `{net}`: add `{net}` to                          dr.replicate.networks (the DR model runs in its twin in {}), or set                          dr.vpc (security groups and subnets in {})",
                        ep.model, dr.region, dr.region
                    ),
                ));
            }
            Some(None) if dr.vpc.is_none() => {
                return Err(spec.error(
                    &key,
                    format!(
                        "model `{}` runs in a VPC: set dr.vpc (security groups and subnets in {})",
                        ep.model, dr.region
                    ),
                ));
            }
            _ => {}
        }
        w.endpoints.insert(e);
        w.models.insert(&ep.model);
    }
    if let Some(v) = &dr.vpc {
        if v.subnets.is_empty() || v.security_groups.is_empty() {
            return Err(spec.error(
                "dr.vpc",
                "a VPC config needs at least one subnet and one security group",
            ));
        }
    }
    if let Some(n) = dr.instance_count {
        if n < 1 {
            return Err(spec.error(
                "dr.instance_count",
                format!("{n} is out of range: a warm standby has at least 1 instance"),
            ));
        }
    }
    for (key, v) in [
        ("dr.rto_minutes", dr.rto_minutes),
        ("dr.rpo_minutes", dr.rpo_minutes),
    ] {
        if let Some(m) = v {
            if !(m > 0.0 && m.is_finite()) {
                return Err(spec.error(key, format!("{m} is not a positive number of minutes")));
            }
        }
    }
    Ok(w)
}

/// Checks `dr.replicate.networks` (a network of the spec, listed once, its flow-log key
/// replicated) and notes the networks and their security groups in `w`.
fn check_networks<'a>(spec: &'a LoadedSpec, w: &mut Wanted<'a>) -> Result<(), SpecError> {
    let s = &spec.spec;
    let dr = s.dr.as_ref().expect("checked by the caller");
    let names: Vec<&str> = s.network.keys().map(String::as_str).collect();
    for (i, n) in dr.replicate.networks.iter().enumerate() {
        let key = format!("dr.replicate.networks.{i}");
        let Some(net) = s.network.get(n) else {
            return Err(spec.error(
                &key,
                format!(
                    "no network `{n}` in the spec's `network` section; defined networks: {}{}",
                    listed(&names),
                    crate::suggest::did_you_mean(n, names.iter().copied())
                ),
            ));
        };
        if !w.networks.insert(n) {
            return Err(spec.error(&key, format!("`{n}` is listed twice")));
        }
        if let Some(f) = net
            .flow_logs
            .as_ref()
            .filter(|f| !w.kms.contains(f.kms_key.as_str()))
        {
            return Err(spec.error(
                &key,
                format!(
                    "network `{n}` encrypts its flow logs with kms key `{}`, which                      dr.replicate.kms does not list: the twin's flow logs are encrypted with                      the DR copy of that key",
                    f.kms_key
                ),
            ));
        }
    }
    if dr.vpc.is_some() && !w.networks.is_empty() {
        return Err(spec.error(
            "dr.vpc",
            "the DR models run in the twin networks of dr.replicate.networks: give that or              dr.vpc (literal ids), not both",
        ));
    }
    for (g, sg) in &s.security_groups {
        if w.networks.contains(sg.network.as_str()) {
            w.groups.insert(g);
        }
    }
    Ok(())
}

/// The twins of the spec's replicated resources, made from their primaries' decls. `names`
/// renders with what is known from the spec alone (names, computable ARNs).
pub fn twin_decls(
    spec: &LoadedSpec,
    names: &Renderer,
    primary: &[Decl],
) -> Result<Vec<Decl>, SpecError> {
    let Some(dr) = &spec.spec.dr else {
        return Ok(Vec::new());
    };
    let w = check(spec, names, primary)?;
    let wanted = |d: &Decl| match d.kind {
        "kms" => w.kms.contains(d.name.as_str()),
        "s3" => w.s3.contains(d.name.as_str()),
        "sagemaker_model" => w.models.contains(d.name.as_str()),
        "sagemaker_endpoint" => w.endpoints.contains(d.name.as_str()),
        "network" => w.networks.contains(d.name.as_str()),
        "security_group" => w.groups.contains(d.name.as_str()),
        _ => false,
    };
    let twins: Vec<String> = primary
        .iter()
        .filter(|d| wanted(d))
        .map(|d| twin_address(&d.address))
        .collect();
    let account = names.str("account_id", "{{ account_id }}")?;
    let mut out: Vec<Decl> = Vec::new();
    for d in primary.iter().filter(|d| wanted(d)) {
        let mut t = d.clone();
        t.address = twin_address(&d.address);
        t.region = dr.region.clone();
        t.deps = d.deps.iter().map(|x| twin_dep(x, &twins)).collect();
        match d.kind {
            "kms" => {
                t.outputs["alias_arn"] = json!(format!(
                    "arn:aws:kms:{}:{account}:{}",
                    dr.region, d.identity
                ));
            }
            "s3" => {
                let (name, key) = match dr.buckets.get(&d.name) {
                    Some(b) => {
                        let key = format!("dr.buckets.{}.name", d.name);
                        (names.str(&key, &b.name)?, key)
                    }
                    None => (
                        default_twin_bucket(&d.identity, &dr.region),
                        d.identity_key.clone(),
                    ),
                };
                if let Err(why) = crate::resources::kit::refs::check_bucket_name(&name) {
                    let hint = if dr.buckets.contains_key(&d.name) {
                        String::new()
                    } else {
                        format!(" (the default twin name; set dr.buckets.{}.name)", d.name)
                    };
                    return Err(spec.error(
                        &key,
                        format!("`{name}` is not a valid S3 bucket name{hint}: {why}"),
                    ));
                }
                t.identity = name.clone();
                t.identity_key = key;
                if spec.spec.s3[&d.name].access_log_bucket {
                    // The DR access-log bucket: nothing replicates into it.
                    t.outputs = json!({
                        "name": name,
                        "arn": crate::resources::kit::refs::bucket_arn(&name),
                    });
                    out.push(t);
                    continue;
                }
                t.outputs = json!({
                    "name": name,
                    "arn": crate::resources::kit::refs::bucket_arn(&name),
                    "source_name": d.identity,
                    "source_region": d.region,
                    "role_name": replication_role_name(&spec.spec.environment, &d.name),
                });
                // The replication is configured on the primary bucket with its key's ARN.
                for dep in [
                    d.address.clone(),
                    format!("kms.{}", spec.spec.s3[&d.name].kms_key),
                ] {
                    if !t.deps.contains(&dep) {
                        t.deps.push(dep);
                    }
                }
            }
            "network" => {
                // Its own names: the flow-log role is global (IAM), the rest reads better.
                t.identity = format!("{}-{}", d.identity, dr.region);
                t.outputs = crate::resources::network::decl_outputs(
                    &spec.spec.network[&d.name],
                    &t.identity,
                );
            }
            "sagemaker_model" => {
                let m = &spec.spec.sagemaker.models[&d.name];
                let uri = names.str(&format!("{}.model_data", d.spec_path), &m.model_data)?;
                if let Some((bucket, key)) = parse_s3_uri(&uri).filter(|_| !is_unknown(&json!(uri)))
                {
                    let twin = out
                        .iter()
                        .find(|x| x.kind == "s3" && x.outputs["source_name"] == bucket)
                        .map(|x| x.identity.clone())
                        .unwrap_or_default();
                    t.outputs["artifact_source"] = json!(uri);
                    t.outputs["artifact_source_region"] = json!(d.region);
                    t.outputs["artifact_replica"] = json!(format!("s3://{twin}/{key}"));
                }
            }
            _ => {}
        }
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_names_and_images() {
        assert_eq!(
            default_twin_bucket("novamind-prod-models", "us-west-2"),
            "novamind-prod-models-us-west-2"
        );
        assert_eq!(
            image_in_region(
                "763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:1.13",
                "us-east-1",
                "us-west-2"
            ),
            "763104351884.dkr.ecr.us-west-2.amazonaws.com/hf:1.13"
        );
        assert_eq!(
            image_in_region("ghcr.io/x/y:1", "us-east-1", "us-west-2"),
            "ghcr.io/x/y:1",
            "not ECR: unchanged"
        );
        assert!(replication_role_name(&"e".repeat(80), "models").len() <= 64);
        assert_eq!(parse_s3_uri("s3://b/k/x.tar.gz"), Some(("b", "k/x.tar.gz")));
        assert_eq!(parse_s3_uri("s3://b"), None);
        assert_eq!(parse_s3_uri("https://b/k"), None);
    }

    #[test]
    fn deps_point_at_twins_where_there_are_twins() {
        let defined = vec!["dr.kms.phi".to_string(), "kms.phi".to_string()];
        assert_eq!(twin_dep("kms.phi", &defined), "dr.kms.phi");
        assert_eq!(twin_dep("iam.exec", &defined), "iam.exec", "IAM is global");
        assert_eq!(twin_dep("dr.kms.phi", &defined), "dr.kms.phi");
    }

    #[test]
    fn the_dr_view_puts_twins_in_place_of_their_primaries() {
        let ctx = json!({
            "region": "us-east-1",
            "primary_region": "us-east-1",
            "kms": {"phi": {"arn": "arn:primary"}, "other": {"arn": "arn:other"}},
            "dr": {"kms": {"phi": {"arn": "arn:dr"}}},
        });
        let v = view(&ctx, "us-west-2", false);
        assert_eq!(v["region"], "us-west-2");
        assert_eq!(v["kms"]["phi"]["arn"], "arn:dr");
        assert_eq!(
            v["kms"]["other"]["arn"], "arn:other",
            "no twin: the primary"
        );
        assert_eq!(v["primary"]["kms"]["phi"]["arn"], "arn:primary");
        assert_eq!(v["dr_twin"], true);
    }
}
