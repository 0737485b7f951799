//! The pipeline in one place: spec -> [`Model`] (decls + graph) -> observe -> [`Plan`].
//! Apply lives in [`crate::apply`].

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};

use crate::aws::{self, AwsError};
use crate::discovery;
use crate::graph::Graph;
use crate::plan::{diff, Action, Change, Plan, FORMAT_VERSION};
pub use crate::resources::ReadCache;
use crate::resources::{self, Ctx, Decl, Observed, Owner, Reconciler};
use crate::spec::render::{Renderer, UNKNOWN};
use crate::spec::{LoadedSpec, SpecError, SpecErrors};
use crate::state::Intent;

/// Stand-in account id for `validate`, which makes no AWS call.
pub const OFFLINE_ACCOUNT: &str = "000000000000";

/// A checked spec: every resource declared, rendered once, and ordered.
pub struct Model {
    pub spec: LoadedSpec,
    pub account_id: String,
    pub decls: Vec<Decl>,
    pub graph: Graph,
    pub digest: String,
    /// `dr failover` promoted the DR standby (read from the state backend by the session):
    /// twins of endpoints then want the primary's capacity, not the warm-standby size.
    pub dr_promoted: bool,
    /// Every sensitive value of the spec as rendered (see [`crate::redact`]); a run registers
    /// them so that no output shows them.
    pub sensitive_values: Vec<String>,
    kinds: HashMap<&'static str, &'static dyn Reconciler>,
}

impl Model {
    /// Builds and fully checks the model: identities, references, every template rendered
    /// (unknown attributes as placeholders), no cycles, no duplicate names. No AWS call.
    ///
    /// Every error a stage finds is reported (in file order, capped): first the resources'
    /// own checks (`decls`), then references, names, cycles and templates. A stage runs only
    /// when the one before it found nothing, so no error is a consequence of another.
    pub fn build(spec: LoadedSpec, account_id: &str) -> Result<Model, SpecErrors> {
        let registry = resources::registry();
        let kinds: HashMap<&'static str, &'static dyn Reconciler> =
            registry.iter().map(|k| (k.kind(), *k)).collect();
        let base = base_context(&spec, account_id);
        let mut errs = SpecErrors::default();
        let mut decls = Vec::new();
        for k in registry {
            decls.extend(decls_of(*k, &spec, &base, &mut errs));
        }
        // The DR stack: twins of the replicated resources (see `resources::dr`), once the
        // primary's declarations are sound.
        if errs.is_empty() {
            let names = context_of(&base, &decls, &kinds, &HashMap::new());
            match resources::dr::twin_decls(&spec, &Renderer::new(&spec, &names), &decls) {
                Ok(twins) => decls.extend(twins),
                Err(e) => errs.push(e),
            }
        }
        errs.into_result()?;
        let mut errs = SpecErrors::default();
        // Template references anywhere in a resource's part of the spec are dependencies.
        let raw: serde_yaml::Value = serde_yaml::from_str(&spec.text).unwrap_or_default();
        let defined: Vec<String> = decls.iter().map(|d| d.address.clone()).collect();
        // (address, dependency) -> the key whose value holds the reference.
        let mut ref_keys: HashMap<(String, String), String> = HashMap::new();
        for d in &mut decls {
            let Some(sub) = yaml_at(&raw, &d.spec_path) else {
                continue;
            };
            let mut leaves = Vec::new();
            string_leaves(sub, &d.spec_path, &mut leaves);
            let twin = resources::dr::is_twin(&d.address);
            for (key, text) in leaves {
                for (dep, attr) in crate::spec::render::refs_with_attributes(&text) {
                    // A twin refers to the twins of what its primary refers to.
                    let dep = if twin {
                        resources::dr::twin_dep(&dep, &defined)
                    } else {
                        dep
                    };
                    if !defined.contains(&dep) {
                        errs.push(spec.error(
                            &key,
                            format!(
                                "refers to `{dep}`, which the spec does not define (defined: {})",
                                defined.join(", ")
                            ),
                        ));
                        continue;
                    }
                    if dep == d.address {
                        let late = kinds[d.kind].late_outputs();
                        if let Some(a) = attr.as_deref().filter(|a| late.contains(a)) {
                            errs.push(spec.error(
                                &key,
                                format!(
                                    "refers to {dep}.{a}, an attribute of this same resource that \
                                     exists only once it is created: a reference cycle (use a \
                                     value known from the spec, or another resource's)"
                                ),
                            ));
                        }
                        continue;
                    }
                    ref_keys
                        .entry((d.address.clone(), dep.clone()))
                        .or_insert_with(|| key.clone());
                    if !d.deps.contains(&dep) {
                        d.deps.push(dep);
                    }
                }
            }
        }
        // A template file may name DR twins behind a guard (`{% if dr.s3.models is defined %}`)
        // so that it serves specs with and without a DR stack: such a reference is no
        // dependency when the twin does not exist (an unguarded one fails to render below).
        for d in &mut decls {
            d.deps
                .retain(|dep| defined.contains(dep) || !resources::dr::is_twin(dep));
        }
        // A dependency a kind declared (an explicit reference, a reference inside a template
        // file) that the spec does not define: name the key that holds it.
        for d in &decls {
            for dep in &d.deps {
                if !defined.contains(dep) {
                    errs.push(undefined_dep(&spec, &raw, d, dep, &defined));
                }
            }
        }
        check_duplicates(&spec, &decls, &mut errs);
        for cycle in crate::graph::cycles(&decls) {
            let names: Vec<&str> = cycle.iter().map(|&i| decls[i].address.as_str()).collect();
            let (first, second) = (&decls[cycle[0]], &decls[cycle[1 % cycle.len()]]);
            let key = ref_keys
                .get(&(first.address.clone(), second.address.clone()))
                .cloned()
                .unwrap_or_else(|| first.spec_path.clone());
            errs.push(spec.error(
                &key,
                format!(
                    "a reference cycle: {} -> {}; each needs the other to exist first",
                    names.join(" -> "),
                    names[0]
                ),
            ));
        }
        if let Err(e) = crate::state::check_config(&spec) {
            errs.push(e);
        }
        errs.into_result()?;
        let graph = Graph::build(&spec, &decls)?;
        let files: Vec<_> = decls
            .iter()
            .flat_map(|d| d.template_files.iter().cloned())
            .collect();
        let digest = spec.digest(&files);
        let mut model = Model {
            spec,
            account_id: account_id.to_string(),
            decls,
            graph,
            digest,
            dr_promoted: false,
            sensitive_values: Vec::new(),
            kinds,
        };
        // Render every resource with placeholders for what is not known yet: catches bad
        // templates and dangling references before any AWS call.
        let ctx = model.context(&HashMap::new(), true);
        let mut errs = SpecErrors::default();
        let mut secrets = Vec::new();
        for d in &model.decls {
            match model.desired(d, &ctx) {
                Ok(v) => {
                    let marked = resources::marked_sensitive(&model.spec.spec, &d.address);
                    crate::redact::values_of(&v, &marked, &mut secrets);
                }
                Err(e) => errs.push(e),
            }
        }
        errs.into_result()?;
        let vars = serde_json::to_value(&model.spec.spec.vars).unwrap_or(Value::Null);
        crate::redact::values_of(&vars, &model.spec.spec.sensitive_vars, &mut secrets);
        secrets.retain(|s| !s.contains(UNKNOWN));
        model.sensitive_values = secrets;
        Ok(model)
    }

    pub fn kind(&self, kind: &str) -> &'static dyn Reconciler {
        self.kinds[kind]
    }

    pub fn decl(&self, address: &str) -> Option<&Decl> {
        self.graph.index.get(address).map(|&i| &self.decls[i])
    }

    /// Template context: spec variables plus every resource's outputs, the live ones from
    /// `outputs` where known; late outputs not known yet are [`UNKNOWN`].
    pub fn context(&self, outputs: &HashMap<String, Value>, fill_unknown: bool) -> Value {
        let mut ctx = base_context(&self.spec, &self.account_id);
        if fill_unknown {
            ctx = context_of(&ctx, &self.decls, &self.kinds, outputs);
        } else {
            for d in &self.decls {
                insert_outputs(
                    &mut ctx,
                    &d.address,
                    with_live(d.outputs.clone(), outputs, d),
                );
            }
        }
        ctx
    }

    /// Desired state of one resource with the given context; a DR twin's in the DR view of it
    /// (see `resources::dr`).
    pub fn desired(&self, d: &Decl, ctx: &Value) -> Result<Value, SpecError> {
        if resources::dr::is_twin(&d.address) {
            let view = resources::dr::view(ctx, &d.region, self.dr_promoted);
            let r = Renderer::new(&self.spec, &view);
            return self.kind(d.kind).desired(&self.spec, d, &r);
        }
        let r = Renderer::new(&self.spec, ctx);
        self.kind(d.kind).desired(&self.spec, d, &r)
    }

    /// Regions the spec uses.
    pub fn regions(&self) -> Vec<String> {
        let mut v: Vec<String> = self.decls.iter().map(|d| d.region.clone()).collect();
        v.push(self.spec.spec.region.clone());
        v.sort();
        v.dedup();
        v
    }
}

fn base_context(spec: &LoadedSpec, account_id: &str) -> Value {
    let vars = serde_json::to_value(&spec.spec.vars).unwrap_or_else(|_| json!({}));
    let mut ctx = json!({
        "environment": spec.spec.environment,
        "region": spec.spec.region,
        "primary_region": spec.spec.region,
        "account_id": account_id,
        "vars": vars,
        "tags": spec.spec.tags,
    });
    if let Some(dr) = &spec.spec.dr {
        ctx["dr_region"] = json!(dr.region);
    }
    ctx
}

/// `base` plus every decl's outputs: the live ones from `outputs` where known, late outputs
/// not known yet as [`UNKNOWN`].
fn context_of(
    base: &Value,
    decls: &[Decl],
    kinds: &HashMap<&'static str, &'static dyn Reconciler>,
    outputs: &HashMap<String, Value>,
) -> Value {
    let mut ctx = base.clone();
    for d in decls {
        let mut o = d.outputs.clone();
        for late in kinds[d.kind].late_outputs() {
            o[*late] = Value::String(UNKNOWN.into());
        }
        insert_outputs(&mut ctx, &d.address, with_live(o, outputs, d));
    }
    ctx
}

fn with_live(mut o: Value, outputs: &HashMap<String, Value>, d: &Decl) -> Value {
    if let Some(Value::Object(live)) = outputs.get(&d.address) {
        for (k, v) in live {
            if !v.is_null() && v.as_str() != Some("") {
                o[k] = v.clone();
            }
        }
    }
    o
}

/// Where a resource's outputs live in the template context: under its address
/// (`sagemaker_model.m`, `dr.kms.phi`), and under its spec section when the kind says so
/// (`sagemaker.models.m`).
fn context_paths(address: &str) -> Vec<Vec<String>> {
    let Some(a) = resources::Address::parse(address) else {
        return vec![];
    };
    let mut paths = vec![a.context_path(None)];
    if let Some(info) = resources::info_of(a.kind()).filter(|i| i.section_in_context) {
        paths.push(a.context_path(Some(info.section)));
    }
    paths
}

fn insert_outputs(ctx: &mut Value, address: &str, outputs: Value) {
    for path in context_paths(address) {
        let mut cur = &mut *ctx;
        for seg in &path {
            if !cur.get(seg).is_some_and(Value::is_object) {
                cur[seg.as_str()] = Value::Object(Map::new());
            }
            cur = cur.get_mut(seg.as_str()).expect("just inserted");
        }
        if let (Value::Object(dst), Value::Object(src)) = (cur, &outputs) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

fn undefined_dep(
    spec: &LoadedSpec,
    raw: &serde_yaml::Value,
    d: &Decl,
    dep: &str,
    defined: &[String],
) -> SpecError {
    let mut leaves = Vec::new();
    if let Some(sub) = yaml_at(raw, &d.spec_path) {
        string_leaves(sub, &d.spec_path, &mut leaves);
    }
    let known = format!("(defined: {})", defined.join(", "));
    for (key, text) in &leaves {
        let file = spec.template_path(text);
        if d.template_files.contains(&file) {
            let refs = std::fs::read_to_string(&file)
                .map(|t| crate::spec::render::refs_in(&t))
                .unwrap_or_default();
            if refs.iter().any(|r| r == dep) {
                return spec.error(
                    key,
                    format!(
                        "template file {} refers to `{dep}`, which the spec does not define {known}",
                        file.display()
                    ),
                );
            }
        }
    }
    let key = leaves
        .iter()
        .find(|(_, text)| {
            let last = dep.rsplit('.').next().unwrap_or(dep);
            text == last
        })
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| d.spec_path.clone());
    spec.error(
        &key,
        format!("refers to `{dep}`, which the spec does not define {known}"),
    )
}

/// Every string in a YAML subtree with its dotted key path.
fn string_leaves(v: &serde_yaml::Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        serde_yaml::Value::String(s) => out.push((path.to_string(), s.clone())),
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, &format!("{path}.{i}"), out);
            }
        }
        serde_yaml::Value::Mapping(m) => {
            for (k, item) in m {
                if let Some(k) = k.as_str() {
                    string_leaves(item, &format!("{path}.{k}"), out);
                }
            }
        }
        serde_yaml::Value::Tagged(t) => string_leaves(&t.value, path, out),
        _ => {}
    }
}

fn yaml_at<'a>(v: &'a serde_yaml::Value, path: &str) -> Option<&'a serde_yaml::Value> {
    path.split('.').try_fold(v, |cur, seg| cur.get(seg))
}

fn check_duplicates(spec: &LoadedSpec, decls: &[Decl], errs: &mut SpecErrors) {
    let mut seen: BTreeMap<(String, String), &Decl> = BTreeMap::new();
    for d in decls {
        // Bucket names and IAM names are global; the rest are per region.
        let global =
            resources::info_of(d.kind).is_some_and(|i| i.names == resources::Names::Global);
        let scope = if global {
            d.kind.to_string()
        } else {
            format!("{}@{}", d.kind, d.region)
        };
        if let Some(first) = seen.get(&(scope.clone(), d.identity.clone())) {
            errs.push(spec.error(
                &d.identity_key,
                format!(
                    "`{}` is also the name of {}: two resources cannot share one name",
                    d.identity, first.address
                ),
            ));
        } else {
            seen.insert((scope, d.identity.clone()), d);
        }
    }
}

/// The resources of one kind. A kind's `decls` stops at its first error; to find the errors of
/// every resource, the failing resource is left out of the spec that kind sees and `decls` runs
/// again, until it succeeds, the error cap is reached, or the error names no resource entry.
fn decls_of(
    k: &dyn Reconciler,
    spec: &LoadedSpec,
    base: &Value,
    errs: &mut SpecErrors,
) -> Vec<Decl> {
    let mut cur = std::borrow::Cow::Borrowed(spec);
    loop {
        let r = Renderer::new(&cur, base);
        let e = match k.decls(&cur, &r) {
            Ok(d) => return d,
            Err(e) => e,
        };
        errs.push(e.clone());
        if errs.full() {
            return Vec::new();
        }
        match without_entry(&cur.spec, &e.key) {
            Some(rest) => cur.to_mut().spec = rest,
            None => return Vec::new(),
        }
    }
}

/// `spec` without the resource entry `key` lies in; `None` when the key is in no entry.
fn without_entry(spec: &crate::spec::Spec, key: &str) -> Option<crate::spec::Spec> {
    let section = resources::registry()
        .iter()
        .map(|k| k.info().section)
        .filter(|s| key.starts_with(&format!("{s}.")))
        .max_by_key(|s| s.len())?;
    let name = key[section.len() + 1..].split('.').next()?;
    let mut v = serde_json::to_value(spec).ok()?;
    let mut map = &mut v;
    for seg in section.split('.') {
        map = map.get_mut(seg)?;
    }
    map.as_object_mut()?.remove(name)?;
    serde_json::from_value(v).ok()
}

/// A live resource discovery found: (kind, region, observed).
pub type Discovered = (&'static str, String, Observed);

/// Live state of every resource in the model, plus resources of ours that left the spec.
pub struct Observations {
    pub by_address: HashMap<String, Observed>,
    /// Live resources tagged with this environment that are not the spec's resource for their
    /// address: the address left the spec, the spec renamed it, or an extra copy of it exists
    /// (e.g. a second key tagged `kms.phi`): (kind, region, observed).
    pub orphans: Vec<(&'static str, String, Observed)>,
    /// Open create-journal intents, by address.
    pub intents: HashMap<String, Intent>,
    /// Addresses whose live resource is untagged but ours by an open intent (a create that
    /// was interrupted before tagging): plan finishes them instead of reporting a conflict.
    pub journaled: HashSet<String>,
}

impl Observations {
    pub fn outputs(&self) -> HashMap<String, Value> {
        self.by_address
            .iter()
            .filter(|(_, o)| o.state.is_some())
            .map(|(a, o)| (a.clone(), o.outputs.clone()))
            .collect()
    }
}

/// Reads live state of every resource concurrently (at most `parallelism` at once), and
/// discovers resources of ours that left the spec (see [`crate::discovery`]). Never writes.
/// `state` is the backend whose inventory discovery reads.
pub async fn observe(
    model: &Model,
    cx: &Ctx<'_>,
    parallelism: usize,
    mode: discovery::Mode,
    state: Option<&dyn crate::state::Backend>,
) -> Result<Observations, Vec<(String, AwsError)>> {
    let cache = ReadCache::new(&model.decls, mode == discovery::Mode::Scan);
    let cx = &Ctx {
        cache: Some(&cache),
        ..*cx
    };
    let regions = model.regions();
    let observed = stream::iter(model.decls.iter().map(|d| async move {
        let r = aws::on_behalf_of(d.kind, model.kind(d.kind).observe(cx, d)).await;
        (d.address.clone(), r)
    }))
    .buffer_unordered(parallelism.max(1))
    .collect::<Vec<_>>();
    // The tagging API and the inventory are read while the spec's resources are observed.
    let candidates = async {
        match mode {
            discovery::Mode::Tagged => {
                Some(discovery::candidates(cx, &cache, &regions, state, true).await)
            }
            discovery::Mode::Scan | discovery::Mode::Off => None,
        }
    };
    let (observed, candidates) = futures::join!(observed, candidates);
    let mut errors = Vec::new();
    let mut by_address = HashMap::new();
    for (addr, r) in observed {
        match r {
            Ok(o) => {
                by_address.insert(addr, o);
            }
            Err(e) => errors.push((addr, e)),
        }
    }
    let discovered: Vec<discovery::Discovered> = match mode {
        discovery::Mode::Off => Vec::new(),
        discovery::Mode::Tagged => match candidates {
            Some(Ok(c)) => discovery::read_candidates(cx, c, &by_address).await,
            Some(Err(mut e)) => {
                errors.append(&mut e);
                Vec::new()
            }
            None => Vec::new(),
        },
        discovery::Mode::Scan => {
            let mut jobs = Vec::new();
            for region in &regions {
                for k in resources::registry() {
                    jobs.push(async move {
                        let r = aws::on_behalf_of(k.kind(), k.discover(cx, region)).await;
                        (k.kind(), region.clone(), r)
                    });
                }
            }
            // Kinds the tagging API does not cover are found through the inventory even
            // here (a dashboard cannot carry a tag, so listing finds nothing).
            match discovery::candidates(cx, &cache, &regions, state, false).await {
                Ok(c) => {
                    let (mut scanned, mut inv) = futures::join!(
                        futures::future::join_all(jobs),
                        discovery::read_candidates(cx, c, &by_address)
                    );
                    scanned.append(&mut inv);
                    scanned
                }
                Err(mut e) => {
                    errors.append(&mut e);
                    Vec::new()
                }
            }
        }
    };
    let mut orphans: Vec<(&'static str, String, Observed)> = Vec::new();
    for (kind, region, r) in discovered {
        match r {
            Ok(list) => {
                for o in list {
                    let live_id = &o.physical_id;
                    let same = by_address
                        .get(&o.address)
                        .is_some_and(|cur| &cur.physical_id == live_id);
                    let seen = orphans
                        .iter()
                        .any(|(k, _, x)| *k == kind && x.physical_id == o.physical_id);
                    if !same && !seen {
                        orphans.push((kind, region.clone(), o));
                    }
                }
            }
            Err(e) => errors.push((format!("{kind} (discovery in {region})"), e)),
        }
    }
    if errors.is_empty() {
        Ok(Observations {
            by_address,
            orphans,
            intents: HashMap::new(),
            journaled: HashSet::new(),
        })
    } else {
        Err(errors)
    }
}

/// The create journal's part of observation. A live resource with the spec's name and no
/// ownership tag, for which this environment's backend holds an open intent (same address,
/// kind and name), is a create of ours that was interrupted before it was tagged: it becomes
/// ours, and the plan finishes it (tags it, converges it). Without such an intent it stays
/// foreign (a conflict; `--adopt` takes it over).
pub fn apply_journal(model: &Model, obs: &mut Observations, intents: Vec<Intent>) {
    for i in intents {
        let Some(d) = model.decl(&i.address) else {
            obs.intents.insert(i.address.clone(), i);
            continue;
        };
        if let Some(o) = obs.by_address.get_mut(&i.address) {
            let untagged = o
                .state
                .as_ref()
                .and_then(|s| s.get("tags"))
                .is_some_and(|t| t.is_object() && t.get(resources::TAG_ADDRESS).is_none());
            let ours = i.kind == d.kind && i.identity == d.identity;
            if untagged && ours && matches!(o.owner, Owner::Foreign { .. }) {
                o.owner = Owner::Ours;
                obs.journaled.insert(i.address.clone());
            }
        }
        obs.intents.insert(i.address.clone(), i);
    }
}

/// sha256 of `d`'s desired state as the spec alone gives it (values known only after apply as
/// placeholders): equal digests mean the spec asks the same of this resource.
pub fn spec_digest(model: &Model, d: &Decl) -> Option<String> {
    use sha2::{Digest, Sha256};
    let desired = model
        .desired(d, &model.context(&HashMap::new(), true))
        .ok()?;
    Some(hex::encode(Sha256::digest(desired.to_string().as_bytes())))
}

/// A delete of a live resource discovery found (left the spec, or an extra copy).
pub fn delete_change(
    address: String,
    kind: &str,
    region: &str,
    o: &Observed,
    reason: String,
) -> Change {
    let mut c = Change {
        address,
        kind: kind.to_string(),
        action: Action::Delete,
        reason,
        region: region.to_string(),
        physical_id: o.physical_id.clone(),
        attributes: Vec::new(),
        before: o.state.clone(),
        before_digest: None,
        after: None,
        depends_on: Vec::new(),
        refused: None,
    };
    c.redact(&[]);
    c
}

/// The address a plan gives an extra copy of `address` (live, tagged with `address`, but not
/// the resource the spec resolves to): `<address>#<physical id>`.
pub fn extra_address(address: &str, physical_id: &str) -> String {
    match resources::Address::parse(address) {
        Some(a) => a.with_copy(physical_id).to_string(),
        None => format!("{address}#{physical_id}"),
    }
}

/// The spec address of a plan address (`kms.phi#1234...` -> `kms.phi`).
pub fn base_address(address: &str) -> &str {
    resources::Address::base_of(address)
}

pub struct PlanOptions<'a> {
    pub adopt: &'a [String],
    pub targets: &'a [String],
    pub spec_file: String,
    /// Address -> [`spec_digest`] of the resource when the last apply converged it (the
    /// backend's `last-applied`): an update is "drift" when the spec asks the same as then, a
    /// "spec change" when it does not.
    pub last_applied: &'a HashMap<String, String>,
}

/// Decides an action for every resource from live state and desired state.
pub fn make_plan(
    model: &Model,
    obs: &Observations,
    opts: &PlanOptions<'_>,
) -> Result<Plan, SpecError> {
    let ctx = model.context(&obs.outputs(), true);
    let mut changes = Vec::new();
    // Extra copies, each with the physical id of the spec's own resource (when live).
    let mut extras: Vec<(&Discovered, Option<String>)> = Vec::new();
    for &i in &model.graph.order {
        let d = &model.decls[i];
        let kind = model.kind(d.kind);
        let desired = model.desired(d, &ctx)?;
        let o = obs.by_address.get(&d.address);
        let deps: Vec<String> = model.graph.deps[i]
            .iter()
            .map(|&j| model.decls[j].address.clone())
            .collect();
        // Live resources tagged with this address that are not the spec's: when the spec's is
        // absent, the first is the old name of a rename; every other one is an extra copy.
        let mut same: Vec<&Discovered> = obs
            .orphans
            .iter()
            .filter(|(k, _, o)| o.address == d.address && *k == d.kind)
            .collect();
        same.sort_by(|a, b| a.2.physical_id.cmp(&b.2.physical_id));
        let live = o.is_some_and(|o| o.state.is_some());
        let renamed = if live { None } else { same.first().copied() };
        for extra in same.iter().skip(usize::from(renamed.is_some())) {
            extras.push((*extra, o.map(|o| o.physical_id.clone())));
        }
        let mut c = Change {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            action: Action::NoOp,
            reason: String::new(),
            region: d.region.clone(),
            physical_id: o.map(|o| o.physical_id.clone()).unwrap_or_default(),
            attributes: Vec::new(),
            before: o.and_then(|o| o.state.clone()),
            after: Some(desired.clone()),
            depends_on: deps,
            refused: None,
            before_digest: None,
        };
        match (o.and_then(|o| o.state.as_ref()), o) {
            (None, _) => {
                if let Some((_, _, old)) = renamed {
                    c.action = Action::Replace;
                    c.reason = format!(
                        "{} is now `{}`: creates the new one, then deletes the old one",
                        old.physical_id, d.identity
                    );
                    c.physical_id = old.physical_id.clone();
                    c.before = old.state.clone();
                    c.attributes = diff::changes(
                        old.state.as_ref().unwrap_or(&Value::Null),
                        &desired,
                        kind.replace_on(),
                    );
                } else {
                    c.action = Action::Create;
                    c.reason = "not found".into();
                }
            }
            (Some(state), Some(o)) => {
                let adopted = opts.adopt.iter().any(|a| a == &d.address);
                if let (Owner::Foreign { reason }, false) = (&o.owner, adopted) {
                    c.action = Action::Conflict;
                    c.reason = format!(
                        "`{}` exists but is not managed by novactl: {reason}; it is left untouched \
                         (pass --adopt {} to manage it)",
                        d.identity, d.address
                    );
                } else {
                    c.attributes = diff::changes(state, &desired, kind.replace_on());
                    if c.attributes.is_empty() {
                        c.action = Action::NoOp;
                    } else if c.attributes.iter().any(|a| a.forces_replace) {
                        c.action = Action::Replace;
                        c.reason = "a change forces replacement".into();
                    } else {
                        c.action = Action::Update;
                        let attrs = diff::top_level(&c.attributes).join(", ");
                        let applied = opts.last_applied.get(&d.address);
                        c.reason = if let Some(i) = obs
                            .intents
                            .get(&d.address)
                            .filter(|_| obs.journaled.contains(&d.address))
                        {
                            format!(
                                "finishing the create of run {} ({}): it was interrupted before \
                                 `{}` was tagged (create journal)",
                                i.run_id, i.time, d.identity
                            )
                        } else if adopted {
                            "adopt: bring under novactl management".into()
                        } else if applied.is_some_and(|a| Some(a) == spec_digest(model, d).as_ref())
                        {
                            format!(
                                "drift in {attrs} (changed outside novactl since the last apply)"
                            )
                        } else if applied.is_some() {
                            format!("spec change: {attrs}")
                        } else {
                            format!("differs from the spec in {attrs}")
                        };
                    }
                }
            }
            (Some(_), None) => unreachable!("state implies an observation"),
        }
        if c.action == Action::Replace && resources::protected(&model.spec.spec, &d.address) {
            c.refused = Some(protected_refusal(model, &d.address, "replace"));
        }
        c.redact(&resources::marked_sensitive(&model.spec.spec, &d.address));
        changes.push(c);
    }
    // Resources of ours that left the spec: deleted, last, in reverse kind rank.
    let rank: HashMap<&str, usize> = resources::registry()
        .iter()
        .enumerate()
        .map(|(i, k)| (k.kind(), i))
        .collect();
    // What discovery found to delete: left the spec (`None`), or an extra copy.
    let mut gone: Vec<(&Discovered, Option<Option<String>>)> = obs
        .orphans
        .iter()
        .filter(|(_, _, o)| model.decl(&o.address).is_none())
        .map(|x| (x, None))
        .collect();
    gone.extend(extras.into_iter().map(|(x, spec_id)| (x, Some(spec_id))));
    gone.sort_by_key(|((k, _, o), _)| {
        (
            std::cmp::Reverse(rank.get(k).copied()),
            o.address.clone(),
            o.physical_id.clone(),
        )
    });
    for ((kind, region, o), extra) in gone {
        let left_the_spec = extra.is_none();
        let (address, reason) = match extra {
            None => (
                o.address.clone(),
                format!(
                    "left the spec; tagged novactl:environment={} — it will be DELETED",
                    model.spec.spec.environment
                ),
            ),
            Some(spec_id) => (
                extra_address(&o.address, &o.physical_id),
                format!(
                    "EXTRA COPY: another live {kind} tagged novactl:address={} ({}) — it will be \
                     DELETED{}",
                    o.address,
                    match spec_id {
                        Some(id) if !id.is_empty() => format!("the spec's is {id}"),
                        _ => "not the one the spec names".into(),
                    },
                    if resources::info_of(kind)
                        .is_some_and(|i| i.deletion == resources::Deletion::Scheduled)
                    {
                        " (scheduled for deletion)"
                    } else {
                        ""
                    }
                ),
            ),
        };
        let mut c = delete_change(address, kind, region, o, reason);
        if left_the_spec && resources::tagged_protected(o.state.as_ref()) {
            c.refused = Some(format!(
                "it is protected (tag {}=true, from `protect: true` when it was last applied): \
                 to delete it, put it back in the spec with `protect: false`, apply, then \
                 remove it",
                resources::TAG_PROTECT
            ));
        }
        changes.push(c);
    }
    if !opts.targets.is_empty() {
        let mut keep: Vec<usize> = Vec::new();
        for t in opts.targets {
            match model.graph.index.get(t) {
                Some(&i) => keep.push(i),
                None if changes.iter().any(|c| &c.address == t) => {}
                None => {
                    return Err(model
                        .spec
                        .error("", format!("--target {t}: no such resource in the spec")))
                }
            }
        }
        let keep: Vec<String> = model
            .graph
            .with_dependencies(&keep)
            .into_iter()
            .map(|i| model.decls[i].address.clone())
            .collect();
        changes.retain(|c| {
            let base = base_address(&c.address).to_string();
            keep.contains(&base) || opts.targets.contains(&c.address)
        });
    }
    Ok(Plan {
        format_version: FORMAT_VERSION.into(),
        novactl_version: env!("CARGO_PKG_VERSION").into(),
        environment: model.spec.spec.environment.clone(),
        account_id: model.account_id.clone(),
        region: model.spec.spec.region.clone(),
        spec_file: opts.spec_file.clone(),
        spec_digest: model.digest.clone(),
        changes,
        targets: opts.targets.to_vec(),
        adopted: opts.adopt.to_vec(),
    })
}

/// The refusal of a delete or replace of a resource the spec protects: names the key to
/// change, with its line.
pub fn protected_refusal(model: &Model, address: &str, what: &str) -> String {
    let key = resources::protect_key(address);
    let at = model.spec.error(&key, "");
    let line = at.line.map(|l| format!(":{l}")).unwrap_or_default();
    format!(
        "{address} is protected: set `protect: false` at {key} ({}{line}) to allow the {what}",
        model.spec.path.display()
    )
}

/// Why a saved plan may no longer be applied, or `None` when it still holds.
pub fn staleness(saved: &Plan, fresh: &Plan) -> Option<String> {
    let mut why = Vec::new();
    if saved.spec_digest != fresh.spec_digest {
        why.push("the spec or one of its template files changed".to_string());
    }
    if saved.account_id != fresh.account_id || saved.region != fresh.region {
        why.push(format!(
            "it was made for account {} in {}, not account {} in {}",
            saved.account_id, saved.region, fresh.account_id, fresh.region
        ));
    }
    let fresh_by: HashMap<&str, &Change> = fresh
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c))
        .collect();
    for c in &saved.changes {
        match fresh_by.get(c.address.as_str()) {
            None => why.push(format!("{}: no longer part of the plan", c.address)),
            Some(f) => {
                let before = c.before.clone().unwrap_or(Value::Null);
                let now = f.before.clone().unwrap_or(Value::Null);
                if !diff::json_eq(&before, &now) {
                    let moved: Vec<String> = if before.is_null() || now.is_null() {
                        vec![if now.is_null() { "deleted" } else { "created" }.to_string()]
                    } else {
                        let mut m: Vec<String> = diff::changes(&before, &now, &[])
                            .into_iter()
                            .map(|a| a.path)
                            .collect();
                        m.extend(
                            diff::changes(&now, &before, &[])
                                .into_iter()
                                .map(|a| a.path)
                                .filter(|p| !p.is_empty()),
                        );
                        m.sort();
                        m.dedup();
                        m
                    };
                    why.push(format!(
                        "{}: live state changed since the plan ({})",
                        c.address,
                        moved.join(", ")
                    ));
                } else if c.before_digest != f.before_digest {
                    why.push(format!(
                        "{}: a sensitive value changed since the plan",
                        c.address
                    ));
                }
            }
        }
    }
    for f in &fresh.changes {
        if f.action != Action::NoOp && !saved.changes.iter().any(|c| c.address == f.address) {
            why.push(format!("{}: new change not in the saved plan", f.address));
        }
    }
    if why.is_empty() {
        None
    } else {
        Some(why.join("\n  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let spec = LoadedSpec::from_text(
            std::path::Path::new("/tmp/t.yaml"),
            "environment: t\nregion: us-east-1\nkms:\n  k:\n    alias: alias/k\ns3:\n  a:\n    name: bucket-a\n    kms_key: k\n  b:\n    name: bucket-b\n    kms_key: k\n".into(),
        )
        .unwrap();
        Model::build(spec, "123456789012").unwrap()
    }

    fn live(address: &str, name: &str, tags: Value) -> Observed {
        Observed {
            address: address.into(),
            physical_id: name.into(),
            state: Some(json!({"name": name, "tags": tags})),
            owner: Owner::Foreign {
                reason: "test".into(),
            },
            outputs: json!({}),
        }
    }

    fn intent(address: &str, kind: &str, identity: &str) -> Intent {
        Intent {
            address: address.into(),
            kind: kind.into(),
            region: "us-east-1".into(),
            identity: identity.into(),
            run_id: "r1".into(),
            time: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn only_an_untagged_resource_with_a_matching_open_intent_becomes_ours() {
        let m = model();
        let mut obs = Observations {
            by_address: HashMap::from([
                // Untagged, intent for this address and name: ours to finish.
                ("s3.a".to_string(), live("s3.a", "bucket-a", json!({}))),
                // Untagged, but the intent names another bucket: still foreign.
                ("s3.b".to_string(), live("s3.b", "bucket-b", json!({}))),
                // Tagged as someone else's address: an intent does not make it ours.
                (
                    "kms.k".to_string(),
                    live("kms.k", "alias/k", json!({"novactl:address": "kms.other"})),
                ),
            ]),
            orphans: Vec::new(),
            intents: HashMap::new(),
            journaled: HashSet::new(),
        };
        apply_journal(
            &m,
            &mut obs,
            vec![
                intent("s3.a", "s3", "bucket-a"),
                intent("s3.b", "s3", "bucket-old"),
                intent("kms.k", "kms", "alias/k"),
                intent("s3.gone", "s3", "bucket-gone"),
            ],
        );
        assert_eq!(obs.by_address["s3.a"].owner, Owner::Ours);
        assert!(matches!(
            obs.by_address["s3.b"].owner,
            Owner::Foreign { .. }
        ));
        assert!(matches!(
            obs.by_address["kms.k"].owner,
            Owner::Foreign { .. }
        ));
        assert_eq!(obs.journaled, HashSet::from(["s3.a".to_string()]));
        assert_eq!(
            obs.intents.len(),
            4,
            "every open intent is kept, to be closed"
        );
    }

    #[test]
    fn extra_copies_get_their_own_address_and_a_rename_takes_the_first() {
        let m = model();
        let ours = |name: &str| Observed {
            owner: Owner::Ours,
            ..live(
                "s3.a",
                name,
                json!({"novactl:address": "s3.a", "novactl:environment": "t"}),
            )
        };
        // s3.a is absent under its spec name; two buckets tagged s3.a exist.
        let obs = Observations {
            by_address: HashMap::from([("s3.a".to_string(), Observed::absent("s3.a"))]),
            orphans: vec![
                ("s3", "us-east-1".into(), ours("old-b")),
                ("s3", "us-east-1".into(), ours("old-a")),
            ],
            intents: HashMap::new(),
            journaled: HashSet::new(),
        };
        let plan = make_plan(
            &m,
            &obs,
            &PlanOptions {
                adopt: &[],
                targets: &[],
                spec_file: "t.yaml".into(),
                last_applied: &HashMap::new(),
            },
        )
        .unwrap();
        let by: HashMap<&str, &Change> = plan
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c))
            .collect();
        assert_eq!(by["s3.a"].action, Action::Replace);
        assert_eq!(
            by["s3.a"].physical_id, "old-a",
            "the first by name is the rename"
        );
        let extra = by["s3.a#old-b"];
        assert_eq!(extra.action, Action::Delete);
        assert!(extra.reason.starts_with("EXTRA COPY"), "{}", extra.reason);
        assert_eq!(base_address("s3.a#old-b"), "s3.a");
    }
}
