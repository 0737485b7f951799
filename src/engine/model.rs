//! The model: every resource of the spec declared, checked, rendered once and ordered
//! ([`Model::build`]); no AWS call.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::graph::Graph;
use crate::resources::{self, Decl, Reconciler};
use crate::spec::render::{tera_context, Renderer, UNKNOWN};
use crate::spec::{LoadedSpec, SpecError, SpecErrors};

use super::context::*;

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
    /// The spec's `moved:` entries, checked, with the DR twins' moves (see [`super::moves`]).
    pub moves: Vec<super::moves::Move>,
    kinds: HashMap<&'static str, &'static dyn Reconciler>,
    /// Every decl's desired state as the build rendered it (no live outputs: placeholders for
    /// what is known after apply), in decl order; what spec-mode compliance checks (see
    /// [`Model::placeholder_desired`]).
    rendered: Vec<Value>,
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
        super::names::check(&spec, registry, &mut errs);
        errs.into_result()?;
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
            // So is every reference inside the template files the resource renders (a
            // dashboard's body, a policy) to a resource the spec defines. A file may name
            // resources behind a guard (`{% if sagemaker.endpoints.x is defined %}`) so that it
            // serves several specs: an undefined name is no dependency, and an unguarded one
            // fails to render below, with the file's line and the key that names the file.
            for file in &d.template_files {
                // Through `input` (a regular file, 1 MiB): a FIFO or /dev/zero is refused
                // below, when the resource renders it.
                let text = crate::spec::input::read_text(file).unwrap_or_default();
                for dep in crate::spec::render::refs_in(&text) {
                    let dep = if twin {
                        resources::dr::twin_dep(&dep, &defined)
                    } else {
                        dep
                    };
                    if dep != d.address && defined.contains(&dep) && !d.deps.contains(&dep) {
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
        let moves = super::moves::resolve(&spec, &decls, &mut errs);
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
            moves,
            kinds,
            rendered: Vec::new(),
        };
        // Render every resource with placeholders for what is not known yet: catches bad
        // templates and dangling references before any AWS call.
        let ctx = model.context(&HashMap::new(), true);
        let mut errs = SpecErrors::default();
        let mut secrets = Vec::new();
        let mut rendered = Vec::with_capacity(model.decls.len());
        for d in &model.decls {
            match model.desired(d, &ctx) {
                Ok(v) => {
                    let marked = resources::marked_sensitive(&model.spec.spec, &d.address);
                    crate::redact::values_of(&v, &marked, &mut secrets);
                    rendered.push(v);
                }
                Err(e) => errs.push(e),
            }
        }
        model.rendered = rendered;
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
    pub fn context(&self, outputs: &HashMap<String, Value>, fill_unknown: bool) -> RenderContext {
        RenderContext::new(self.context_value(outputs, fill_unknown))
    }

    /// [`Model::context`] as a plain value.
    fn context_value(&self, outputs: &HashMap<String, Value>, fill_unknown: bool) -> Value {
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
    pub fn desired(&self, d: &Decl, ctx: &RenderContext) -> Result<Value, SpecError> {
        if resources::dr::is_twin(&d.address) {
            let view = ctx.dr_view(&d.region, self.dr_promoted);
            let r = Renderer::with_context(&self.spec, &view);
            return self.kind(d.kind).desired(&self.spec, d, &r);
        }
        let r = Renderer::with_context(&self.spec, &ctx.tera);
        self.kind(d.kind).desired(&self.spec, d, &r)
    }

    /// The desired state of every decl (in decl order) rendered with no live outputs, as
    /// spec-mode compliance checks it: the build's own renders, unless `dr failover` changed
    /// the twins' view since (then rendered again).
    pub fn placeholder_desired(&self) -> Result<std::borrow::Cow<'_, [Value]>, SpecError> {
        if self.renders_hold() {
            return Ok(std::borrow::Cow::Borrowed(&self.rendered));
        }
        let ctx = self.context(&HashMap::new(), true);
        let v: Result<Vec<Value>, SpecError> =
            self.decls.iter().map(|d| self.desired(d, &ctx)).collect();
        v.map(std::borrow::Cow::Owned)
    }

    /// `d`'s desired state as the build rendered it (see [`Model::placeholder_desired`]);
    /// `None` when that render no longer holds (`dr failover` since) or `d` is not the spec's.
    pub fn rendered_of(&self, d: &Decl) -> Option<&Value> {
        if !self.renders_hold() {
            return None;
        }
        let &i = self.graph.index.get(&d.address)?;
        self.rendered.get(i)
    }

    /// The build's renders still are what [`Model::desired`] gives with no live outputs.
    fn renders_hold(&self) -> bool {
        !self.dr_promoted && self.rendered.len() == self.decls.len()
    }

    /// Regions the spec uses: its resources', the primary, and the DR region (where twins
    /// that left `dr.replicate` are still to be found, even when none is left in it).
    pub fn regions(&self) -> Vec<String> {
        let mut v: Vec<String> = self.decls.iter().map(|d| d.region.clone()).collect();
        v.push(self.spec.spec.region.clone());
        if let Some(dr) = &self.spec.spec.dr {
            v.push(dr.region.clone());
        }
        v.sort();
        v.dedup();
        v
    }
}

pub(super) fn undefined_dep(
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
            let parsed = crate::address::Address::parse(dep);
            let last = parsed.as_ref().map_or(dep, |a| a.name());
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
pub(super) fn string_leaves(v: &serde_yaml::Value, path: &str, out: &mut Vec<(String, String)>) {
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

pub(super) fn yaml_at<'a>(v: &'a serde_yaml::Value, path: &str) -> Option<&'a serde_yaml::Value> {
    path.split('.').try_fold(v, |cur, seg| cur.get(seg))
}

pub(super) fn check_duplicates(spec: &LoadedSpec, decls: &[Decl], errs: &mut SpecErrors) {
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
pub(super) fn decls_of(
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
pub(super) fn without_entry(spec: &crate::spec::Spec, key: &str) -> Option<crate::spec::Spec> {
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

/// sha256 of `d`'s desired state as the spec alone gives it (values known only after apply as
/// placeholders): equal digests mean the spec asks the same of this resource.
pub fn spec_digest(model: &Model, d: &Decl) -> Option<String> {
    use sha2::{Digest, Sha256};
    let text = match model.rendered_of(d) {
        Some(v) => v.to_string(),
        None => model
            .desired(d, &model.context(&HashMap::new(), true))
            .ok()?
            .to_string(),
    };
    Some(hex::encode(Sha256::digest(text.as_bytes())))
}

/// A run's template context ([`Model::context`]): the value, and its tera form converted once
/// (and once more for the DR region's view), shared by every resource rendered with it. Reads
/// as the value (`Deref`).
pub struct RenderContext {
    value: Value,
    tera: tera::Context,
    dr: std::sync::OnceLock<(String, bool, tera::Context)>,
}

impl RenderContext {
    fn new(value: Value) -> Self {
        RenderContext {
            tera: tera_context(&value),
            value,
            dr: std::sync::OnceLock::new(),
        }
    }

    /// The DR region's view of the context (see `resources::dr::view`), converted on first use.
    fn dr_view(&self, region: &str, promoted: bool) -> std::borrow::Cow<'_, tera::Context> {
        let convert = || tera_context(&resources::dr::view(&self.value, region, promoted));
        let (r, p, t) = self
            .dr
            .get_or_init(|| (region.to_string(), promoted, convert()));
        if r == region && *p == promoted {
            std::borrow::Cow::Borrowed(t)
        } else {
            std::borrow::Cow::Owned(convert())
        }
    }

    /// Takes in `address`'s outputs from `outputs` (apply, after its change) as
    /// [`Model::context`] would hold them: only the top-level sections the address lives under
    /// are converted for tera again, not the whole context (which made apply quadratic in
    /// resources).
    pub fn set_outputs(&mut self, model: &Model, address: &str, outputs: &HashMap<String, Value>) {
        let Some(d) = model.decl(address) else {
            return;
        };
        insert_outputs(
            &mut self.value,
            address,
            entry_of(d, model.kind(d.kind), outputs),
        );
        let paths = context_paths(address);
        let mut tops: Vec<&String> = paths.iter().filter_map(|p| p.first()).collect();
        tops.dedup();
        for top in tops {
            if let Some(v) = self.value.get(top.as_str()) {
                self.tera.insert(top.as_str(), v);
            }
        }
        self.dr = std::sync::OnceLock::new();
    }
}

impl std::ops::Deref for RenderContext {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> Model {
        let spec = LoadedSpec::from_text(
            std::path::Path::new("/tmp/t.yaml"),
            "environment: t\nregion: us-east-1\nkms:\n  k:\n    alias: alias/k\ns3:\n  a:\n    name: bucket-a\n    kms_key: k\n".into(),
        )
        .unwrap();
        Model::build(spec, "123456789012").unwrap()
    }

    #[test]
    fn outputs_taken_in_one_by_one_give_the_context_built_with_all_of_them() {
        let m = model();
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234";
        let key = json!({ "arn": arn, "key_id": "1234" });
        let mut ctx = m.context(&HashMap::new(), true);
        assert_ne!(ctx["kms"]["k"]["arn"], json!(arn));
        let outputs = HashMap::from([("kms.k".to_string(), key)]);
        ctx.set_outputs(&m, "kms.k", &outputs);
        let whole = m.context(&outputs, true);
        assert_eq!(*ctx, *whole);
        assert_eq!(ctx["kms"]["k"]["arn"], json!(arn));
        // The tera form follows: the bucket's encryption renders with the key's ARN.
        let b = m.decl("s3.a").unwrap();
        assert_eq!(m.desired(b, &ctx).unwrap(), m.desired(b, &whole).unwrap());
        assert!(m.desired(b, &ctx).unwrap().to_string().contains(arn));
    }

    #[test]
    fn the_builds_renders_serve_spec_mode_and_digests() {
        let m = model();
        let ctx = m.context(&HashMap::new(), true);
        let cached = m.placeholder_desired().unwrap();
        for (d, v) in m.decls.iter().zip(cached.iter()) {
            assert_eq!(*v, m.desired(d, &ctx).unwrap(), "{}", d.address);
            assert_eq!(m.rendered_of(d), Some(v));
        }
        let mut promoted = model();
        promoted.dr_promoted = true;
        assert!(promoted.rendered_of(&promoted.decls[0]).is_none());
    }
}
