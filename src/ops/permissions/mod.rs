//! `permissions`: the least-privilege IAM policies for running novactl on this spec, from the
//! calls each kind declares ([`crate::permissions`]), expanded for the spec by [`expand`] and
//! split into managed policies AWS accepts by [`documents`]: `Purpose::Apply` for every command
//! (plan, apply, destroy, the `dr` commands when the spec has a DR stack), `Purpose::Read` for
//! the commands that only read. No AWS call: the account is the spec's `account_id`, else `*`
//! in the ARNs.

pub mod documents;
pub mod expand;

use std::path::PathBuf;
use std::process::ExitCode;

pub use documents::Purpose;

use crate::ops::options::GlobalOptions;
use crate::ops::session::load;
use crate::ops::Failure;
use crate::shell::Shell;

/// What `permissions` prints.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A JSON array of the policy documents (the `--by-call` map with `by_call`).
    pub json: bool,
    /// Every call and the IAM actions it needs instead of the policies.
    pub by_call: bool,
    pub purpose: Purpose,
    /// Write one file per document, `<name>.json`, into this directory.
    pub out: Option<PathBuf>,
}

pub fn permissions(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let model = load(g)?;
    if o.by_call {
        return calls(&model, o.json, o.purpose, sh);
    }
    let account = model
        .spec
        .spec
        .account_id
        .clone()
        .unwrap_or_else(|| "*".to_string());
    let docs = documents::documents(&model, &account, o.purpose);
    if let Some(dir) = &o.out {
        write_files(dir, &docs, o.purpose, sh)?;
    }
    if o.json {
        let all: Vec<&serde_json::Value> = docs.iter().map(|d| &d.policy).collect();
        sh.out(&serde_json::to_string_pretty(&all).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let commands = match (o.purpose, model.spec.spec.dr.is_some()) {
        (Purpose::Read, _) => "plan, check --live, drift, output, history and report",
        (Purpose::Apply, true) => "plan, apply, destroy and dr drill/failover/failback",
        (Purpose::Apply, false) => "plan, apply and destroy",
    };
    let kind = match o.purpose {
        Purpose::Read => "read-only IAM policies (no write action)",
        Purpose::Apply => "IAM policies",
    };
    let n = docs.len();
    let mut text = format!(
        "# {n} {kind} for running novactl {commands} on {} (environment {}, region {}, \
         account {account}):\n# {} actions; resources scoped to the spec's names where AWS \
         allows. Each is a managed policy of at most 6,144 characters (whitespace excluded): \
         attach all {n} to the role or user that runs novactl (`--out DIR` writes one file \
         each).\n",
        model.spec.path.display(),
        model.spec.spec.environment,
        model.spec.spec.region,
        documents::granted_actions(&docs).len(),
    );
    let width = docs.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in &docs {
        text.push_str(&format!(
            "#   {:<width$}  {:>2} statement(s), {:>4} chars: {}\n",
            d.name,
            d.statements(),
            d.chars(),
            d.grants,
        ));
    }
    if o.out.is_none() {
        for d in &docs {
            text.push_str(&format!(
                "\n# {}\n{}\n",
                d.name,
                serde_json::to_string_pretty(&d.policy).unwrap_or_default()
            ));
        }
    }
    sh.out(text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// Writes each document to `DIR/<name>.json` (creating DIR); names files of an earlier run
/// that this one did not write (a group that needs fewer parts now), which it leaves.
fn write_files(
    dir: &std::path::Path,
    docs: &[documents::Document],
    purpose: Purpose,
    sh: &Shell,
) -> Result<(), Failure> {
    let failed = |what: &str, p: &std::path::Path, e: std::io::Error| {
        Failure::Usage(format!(
            "--out {}: cannot {what} {}: {e}",
            dir.display(),
            p.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| failed("create", dir, e))?;
    let mut written = std::collections::BTreeSet::new();
    for d in docs {
        let file = format!("{}.json", d.name);
        let p = dir.join(&file);
        let text = serde_json::to_string_pretty(&d.policy).unwrap_or_default() + "\n";
        std::fs::write(&p, text).map_err(|e| failed("write", &p, e))?;
        written.insert(file);
    }
    let prefix = format!("novactl-{}-", purpose.name());
    let mut stale: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| f.starts_with(&prefix) && f.ends_with(".json") && !written.contains(f))
        .collect();
    stale.sort();
    if !stale.is_empty() {
        sh.warn(&format!(
            "{} in {} not written by this run (an earlier run's?): left as is; remove them \
             before attaching the directory's policies: {}",
            if stale.len() == 1 { "a file" } else { "files" },
            dir.display(),
            stale.join(", ")
        ));
    }
    sh.status(&format!(
        "wrote {} policy file(s) to {}: {}",
        docs.len(),
        dir.display(),
        written.into_iter().collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}

/// Every call the spec's kinds (and every command) may make, with its IAM actions.
/// With `Purpose::Read`: only the calls that read, and none of the `dr` commands' own.
fn calls(
    model: &crate::engine::Model,
    json: bool,
    purpose: Purpose,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let kinds: std::collections::BTreeSet<&str> = model.decls.iter().map(|d| d.kind).collect();
    let state_s3 = crate::state::S3Location::of(&model.spec).is_some();
    let global = |k: &str| expand::GLOBAL.iter().any(|(who, _)| *who == k);
    let mut out = serde_json::Map::new();
    for (kind, p) in expand::registry() {
        let wanted = match kind {
            "state" => state_s3,
            "dr" => model.spec.spec.dr.is_some(),
            // `drift --notify`: a topic of the spec.
            "drift" => kinds.contains("sns"),
            k => global(k) || kinds.contains(k),
        };
        if !wanted || (purpose == Purpose::Read && (!p.is_read() || kind == "dr")) {
            continue;
        }
        let e = out.entry(p.call).or_insert_with(
            || serde_json::json!({"actions": [], "implied": [], "kinds": [], "read": true}),
        );
        e["read"] = (e["read"] == true && p.is_read()).into();
        for (field, items) in [
            ("actions", p.actions.to_vec()),
            ("implied", p.implied.iter().map(|i| i.action).collect()),
            ("kinds", vec![kind]),
        ] {
            let list = e[field].as_array_mut().expect("a list");
            for a in items {
                if !list.iter().any(|v| v == a) {
                    list.push(a.into());
                }
            }
        }
    }
    out.sort_keys();
    if json {
        sh.out(&serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        let mut text = String::new();
        for (call, e) in &out {
            let list = |f: &str| {
                e[f].as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let implied = list("implied");
            text.push_str(&format!(
                "{call:<50} {}{}  [{}]\n",
                list("actions"),
                if implied.is_empty() {
                    String::new()
                } else {
                    format!(" (+ {implied})")
                },
                list("kinds")
            ));
        }
        sh.out(&text);
    }
    Ok(ExitCode::SUCCESS)
}
