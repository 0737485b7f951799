//! The template context: spec variables plus every resource's outputs, under the paths
//! templates name them by.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::resources::{self, Decl, Reconciler};
use crate::spec::render::UNKNOWN;
use crate::spec::LoadedSpec;

pub(super) fn base_context(spec: &LoadedSpec, account_id: &str) -> Value {
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
pub(super) fn context_of(
    base: &Value,
    decls: &[Decl],
    kinds: &HashMap<&'static str, &'static dyn Reconciler>,
    outputs: &HashMap<String, Value>,
) -> Value {
    let mut ctx = base.clone();
    for d in decls {
        insert_outputs(&mut ctx, &d.address, entry_of(d, kinds[d.kind], outputs));
    }
    ctx
}

/// `d`'s outputs as the context holds them: the live ones from `outputs` where known, late
/// outputs not known yet as [`UNKNOWN`], the rest as the spec gives them.
pub(super) fn entry_of(d: &Decl, kind: &dyn Reconciler, outputs: &HashMap<String, Value>) -> Value {
    let mut o = d.outputs.clone();
    for late in kind.late_outputs() {
        o[*late] = Value::String(UNKNOWN.into());
    }
    with_live(o, outputs, d)
}

pub(super) fn with_live(mut o: Value, outputs: &HashMap<String, Value>, d: &Decl) -> Value {
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
pub(super) fn context_paths(address: &str) -> Vec<Vec<String>> {
    let Some(a) = resources::Address::parse(address) else {
        return vec![];
    };
    let mut paths = vec![a.context_path(None)];
    if let Some(info) = resources::info_of(a.kind()).filter(|i| i.section_in_context) {
        paths.push(a.context_path(Some(info.section)));
    }
    paths
}

pub(super) fn insert_outputs(ctx: &mut Value, address: &str, outputs: Value) {
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
