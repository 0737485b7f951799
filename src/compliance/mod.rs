//! The HIPAA gate: a catalogue of rules ([`rules`]) run over the spec's rendered desired state
//! (spec mode, no AWS call) or over what `observe` read (live mode), with waivers from the
//! spec's `check.waive`. One model of results ([`Evaluation`]); text, JSON and SARIF
//! ([`output`]) and the evidence report ([`report`]) are renderings of it, as the plan's views
//! are of the plan.
//!
//! A rule is data (id, title, severity, HIPAA clauses, the AWS Config / Prowler / cdk-nag
//! equivalents) beside a pure function over one resource's state in the shape every
//! reconciler's `desired` and `observe` share, with the whole [`World`] at hand for rules that
//! span resources (the topic an alarm notifies is encrypted).

pub mod net;
pub mod output;
pub mod report;
pub mod report_network;
pub mod rules;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::spec::{LoadedSpec, SpecError};

pub use rules::{Rule, CATALOGUE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The rendered desired state of the spec.
    Spec,
    /// What `observe` read from AWS.
    Live,
}

/// One resource as the rules see it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub address: String,
    pub kind: String,
    /// Dotted path of the resource in the spec (`s3.models`, `cloudtrail.hipaa`).
    pub spec_path: String,
    pub region: String,
    /// ARN (or, before it exists, the best name AWS will know it by).
    pub arn: String,
    /// Desired (spec mode) or observed (live mode) attributes.
    pub state: Value,
    /// The desired state, in live mode too (rules compare live values with the spec's).
    pub desired: Value,
}

/// Everything a rule may look at.
pub struct World<'a> {
    pub mode: Mode,
    pub spec: &'a LoadedSpec,
    pub account: String,
    pub subjects: Vec<Subject>,
}

impl World<'_> {
    pub fn of_kind<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'s Subject> + 's {
        self.subjects.iter().filter(move |s| s.kind == kind)
    }
    pub fn by_arn(&self, arn: &str) -> Option<&Subject> {
        self.subjects.iter().find(|s| s.arn == arn)
    }
}

/// What one rule found on one resource.
#[derive(Debug, Clone)]
pub enum Verdict {
    Pass,
    /// `key` is the spec key to change, relative to the resource's spec path (or absolute when
    /// it starts with a top-level section such as `check.` or `dr.`).
    Fail {
        message: String,
        key: String,
    },
}

impl Verdict {
    pub fn fail(key: &str, message: impl Into<String>) -> Verdict {
        Verdict::Fail {
            message: message.into(),
            key: key.to_string(),
        }
    }
    /// Pass when `ok`, else fail at `key`.
    pub fn when(ok: bool, key: &str, message: impl Into<String>) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::fail(key, message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Status {
    Pass,
    Fail,
    Waived {
        reason: String,
        until: Option<String>,
    },
}

/// One rule applied to one resource.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub rule: &'static Rule,
    pub address: String,
    pub kind: String,
    pub arn: String,
    pub region: String,
    pub status: Status,
    /// Why it failed (for a waived finding too); empty on a pass.
    pub message: String,
    /// Full dotted spec key to change, and where it is.
    pub key: String,
    pub line: Option<usize>,
    /// The file that line is in (the spec or one of the bases it extends); `None`: the spec.
    pub file: Option<String>,
    /// The attributes the rule read, with the values it saw (the evidence).
    pub evidence: Vec<(String, Value)>,
}

impl Outcome {
    /// Stable across runs and line moves: rule, resource, key.
    pub fn fingerprint(&self) -> String {
        let h = Sha256::digest(format!("{}|{}|{}", self.rule.id, self.address, self.key));
        hex::encode(&h[..16])
    }
    pub fn is_violation(&self) -> bool {
        self.status == Status::Fail
    }
}

pub struct Evaluation {
    pub mode: Mode,
    pub spec_file: String,
    pub environment: String,
    pub account: String,
    pub outcomes: Vec<Outcome>,
    /// Waivers that matched no finding (stale), as "rule on address".
    pub unused_waivers: Vec<String>,
}

impl Evaluation {
    pub fn findings(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.status != Status::Pass)
    }
    pub fn violations(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.is_violation())
    }
    /// Unwaived findings at or above `level` (errors only for the apply gate).
    pub fn blocking(&self, level: Severity) -> Vec<&Outcome> {
        self.violations()
            .filter(|o| o.rule.severity <= level)
            .collect()
    }
}

/// A checked waiver.
struct Waiver {
    rule: String,
    address: String,
    reason: String,
    until: Option<chrono::NaiveDate>,
    until_text: Option<String>,
}

/// The spec's waivers, checked: a known rule id, an address of the model (a `dr.` twin
/// included), and a `YYYY-MM-DD` date, else an error at the key with the nearest valid value.
/// Part of validation (no AWS call).
pub fn check_waivers(model: &crate::engine::Model) -> Result<(), SpecError> {
    let spec = &model.spec;
    waivers(spec)?;
    let Some(check) = &spec.spec.check else {
        return Ok(());
    };
    for (i, w) in check.waive.iter().enumerate() {
        if !model.decls.iter().any(|d| d.address == w.address) {
            let near = crate::suggest::did_you_mean(
                &w.address,
                model.decls.iter().map(|d| d.address.as_str()),
            );
            return Err(spec.error(
                &format!("check.waive.{i}.address"),
                format!(
                    "`{}` is not a resource of this spec{near}; a waiver names the address of \
                     a resource (`novactl graph` lists them)",
                    w.address
                ),
            ));
        }
    }
    Ok(())
}

fn waivers(spec: &LoadedSpec) -> Result<Vec<Waiver>, SpecError> {
    let mut out = Vec::new();
    let Some(check) = &spec.spec.check else {
        return Ok(out);
    };
    for (i, w) in check.waive.iter().enumerate() {
        if !CATALOGUE.iter().any(|r| r.id == w.rule) {
            return Err(spec.error(
                &format!("check.waive.{i}.rule"),
                format!(
                    "`{}` is not a rule of the catalogue{} (`novactl check --catalogue` lists \
                     them)",
                    w.rule,
                    crate::suggest::did_you_mean(&w.rule, CATALOGUE.iter().map(|r| r.id))
                ),
            ));
        }
        if w.reason.trim().is_empty() {
            return Err(spec.error(
                &format!("check.waive.{i}.reason"),
                "a waiver needs a reason: it is printed with every finding it waives",
            ));
        }
        let until = match &w.until {
            Some(d) => Some(
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    spec.error(
                        &format!("check.waive.{i}.until"),
                        format!("`{d}` is not a date: write YYYY-MM-DD"),
                    )
                })?,
            ),
            None => None,
        };
        out.push(Waiver {
            rule: w.rule.clone(),
            address: w.address.clone(),
            reason: w.reason.clone(),
            until,
            until_text: w.until.clone(),
        });
    }
    Ok(out)
}

/// Runs every rule of the catalogue over the world and applies the spec's waivers.
pub fn evaluate(world: &World<'_>, spec_file: &str) -> Result<Evaluation, SpecError> {
    let waivers = waivers(world.spec)?;
    let today = chrono::Utc::now().date_naive();
    let mut used = vec![false; waivers.len()];
    let mut outcomes = Vec::new();
    for rule in CATALOGUE {
        for s in world
            .subjects
            .iter()
            .filter(|s| rule.kinds.contains(&s.kind.as_str()))
        {
            let Some(verdict) = (rule.check)(s, world) else {
                continue;
            };
            let evidence = rule
                .reads
                .iter()
                .map(|a| (a.to_string(), pointer(&s.state, a).clone()))
                .collect();
            let (status, message, key) = match verdict {
                Verdict::Pass => (Status::Pass, String::new(), s.spec_path.clone()),
                Verdict::Fail { message, key } => {
                    let key = full_key(&s.spec_path, &key);
                    let waiver = waivers
                        .iter()
                        .position(|w| w.rule == rule.id && w.address == s.address);
                    match waiver {
                        Some(i) => {
                            used[i] = true;
                            let w = &waivers[i];
                            match w.until {
                                Some(d) if d < today => (
                                    Status::Fail,
                                    format!(
                                        "{message} (the waiver \"{}\" expired on {d})",
                                        w.reason
                                    ),
                                    key,
                                ),
                                _ => (
                                    Status::Waived {
                                        reason: w.reason.clone(),
                                        until: w.until_text.clone(),
                                    },
                                    message,
                                    key,
                                ),
                            }
                        }
                        None => (Status::Fail, message, key),
                    }
                }
            };
            let (file, line) = match world.spec.locator.origin(&key) {
                Some(o) if o.file != world.spec.path => {
                    (Some(o.file.display().to_string()), o.line)
                }
                Some(o) => (None, o.line),
                None => (None, None),
            };
            outcomes.push(Outcome {
                rule,
                address: s.address.clone(),
                kind: s.kind.clone(),
                arn: s.arn.clone(),
                region: s.region.clone(),
                status,
                message,
                key,
                line,
                file,
                evidence,
            });
        }
    }
    let unused_waivers = waivers
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(w, _)| format!("{} on {}", w.rule, w.address))
        .collect();
    Ok(Evaluation {
        mode: world.mode,
        spec_file: spec_file.to_string(),
        environment: world.spec.spec.environment.clone(),
        account: world.account.clone(),
        outcomes,
        unused_waivers,
    })
}

const TOP_LEVEL: &[&str] = &["check.", "dr.", "s3.", "kms.", "iam.", "cloudtrail."];

fn full_key(spec_path: &str, key: &str) -> String {
    if key.is_empty() {
        spec_path.to_string()
    } else if TOP_LEVEL.iter().any(|t| key.starts_with(t)) {
        key.to_string()
    } else {
        format!("{spec_path}.{key}")
    }
}

/// `a.b.c` inside a JSON value (`null` when absent).
pub fn pointer<'v>(v: &'v Value, path: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    path.split('.')
        .try_fold(v, |cur, seg| cur.get(seg))
        .unwrap_or(&NULL)
}

/// The subjects of spec mode: every resource's desired state, rendered with placeholders for
/// what is known only after apply. No AWS call.
pub fn spec_subjects(model: &crate::engine::Model) -> Result<Vec<Subject>, SpecError> {
    let rendered = model.placeholder_desired()?;
    let mut out = Vec::new();
    for (d, desired) in model.decls.iter().zip(rendered.iter()) {
        let desired = desired.clone();
        out.push(Subject {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            spec_path: d.spec_path.clone(),
            region: d.region.clone(),
            arn: arn_of(&d.outputs).unwrap_or_else(|| d.identity.clone()),
            state: desired.clone(),
            desired,
        });
    }
    Ok(out)
}

/// The subjects of live mode: what observe read, for every resource that exists.
pub fn live_subjects(
    model: &crate::engine::Model,
    obs: &crate::engine::Observations,
) -> Result<(Vec<Subject>, Vec<String>), SpecError> {
    let ctx = model.context(&obs.outputs(), true);
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for d in &model.decls {
        let Some(o) = obs.by_address.get(&d.address) else {
            continue;
        };
        let Some(state) = &o.state else {
            missing.push(d.address.clone());
            continue;
        };
        out.push(Subject {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            spec_path: d.spec_path.clone(),
            region: d.region.clone(),
            arn: arn_of(&o.outputs)
                .or_else(|| arn_of(&d.outputs))
                .unwrap_or_else(|| o.physical_id.clone()),
            state: state.clone(),
            desired: model.desired(d, &ctx)?,
        });
    }
    Ok((out, missing))
}

fn arn_of(outputs: &Value) -> Option<String> {
    ["arn", "alias_arn"]
        .iter()
        .filter_map(|k| outputs.get(*k).and_then(Value::as_str))
        .find(|a| a.starts_with("arn:"))
        .map(str::to_string)
}
