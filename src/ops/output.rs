//! `output`: every resource's attributes (names, ARNs, ids) from the spec and live state.
//!
//! Attributes known from the spec alone (a bucket's name and ARN) come from the model;
//! attributes AWS assigns (a key's ARN, the endpoint's config name) from reading each resource
//! (no discovery, no write). An attribute of a resource that does not exist yet is `null`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde_json::{Map, Value};

use crate::ops::options::GlobalOptions;
use crate::ops::session::Session;
use crate::ops::Failure;
use crate::shell::Shell;

pub struct Options {
    pub name: Option<String>,
    pub json: bool,
}

pub async fn output(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let s = Session::connect(g, sh).await?;
    // Reads like `plan` without discovery: only the spec's own resources.
    let obs = s
        .observe(
            crate::ops::options::read_parallelism(None),
            crate::discovery::Mode::Off,
        )
        .await?;
    let mut all: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for d in &s.model.decls {
        let mut attrs: Map<String, Value> = d.outputs.as_object().cloned().unwrap_or_default();
        let live = obs.by_address.get(&d.address);
        let exists = live.is_some_and(|l| l.state.is_some());
        for late in s.model.kind(d.kind).late_outputs() {
            attrs.insert((*late).to_string(), Value::Null);
        }
        if let (true, Some(Value::Object(outs))) = (exists, live.map(|l| &l.outputs)) {
            for (k, v) in outs {
                if !v.is_null() && v.as_str() != Some("") {
                    attrs.insert(k.clone(), v.clone());
                }
            }
        }
        attrs.sort_keys();
        all.insert(d.address.clone(), attrs);
    }
    s.summary(sh);
    match &o.name {
        None if o.json => sh.out(&pretty(&serde_json::to_value(&all).unwrap_or_default())),
        None => {
            let mut text = String::new();
            for (addr, attrs) in &all {
                for (k, v) in attrs {
                    text.push_str(&format!("{addr}.{k} = {}\n", scalar(v)));
                }
            }
            sh.out(&text);
        }
        Some(name) => {
            let v = lookup(&all, name)?;
            if o.json {
                sh.out(&pretty(&v));
            } else if let Value::Object(attrs) = &v {
                let mut text = String::new();
                for (k, v) in attrs {
                    text.push_str(&format!("{name}.{k} = {}\n", scalar(v)));
                }
                sh.out(&text);
            } else if v.is_null() {
                return Err(Failure::Reported(format!(
                    "{name} is not known: the resource does not exist yet (run apply)"
                )));
            } else {
                sh.out(&scalar(&v));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn lookup(all: &BTreeMap<String, Map<String, Value>>, name: &str) -> Result<Value, Failure> {
    if let Some(attrs) = all.get(name) {
        return Ok(Value::Object(attrs.clone()));
    }
    if let Some((addr, attr)) = crate::address::Address::split_attribute(name) {
        if let Some(attrs) = all.get(addr) {
            return attrs.get(attr).cloned().ok_or_else(|| {
                Failure::Usage(format!(
                    "{addr} has no attribute `{attr}`{} (it has: {})",
                    crate::suggest::did_you_mean(attr, attrs.keys().map(String::as_str)),
                    attrs.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            });
        }
    }
    Err(Failure::Usage(format!(
        "`{name}` is not a resource or attribute of the spec{}",
        crate::suggest::did_you_mean(name, all.keys().map(String::as_str))
    )))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A value as a script reads it: strings bare, `null` for unknown, others as JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
