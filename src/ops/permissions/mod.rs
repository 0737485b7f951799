//! `permissions`: the least-privilege IAM policy for plan, apply and destroy of this spec (and
//! the `dr` commands when it has a DR stack),
//! from the calls each kind declares ([`crate::permissions`]), expanded for the spec by
//! [`expand`]. No AWS call: the account is the spec's `account_id`, else `*` in the ARNs.

pub mod expand;

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::session::load;
use crate::ops::Failure;
use crate::shell::Shell;

pub fn permissions(
    g: &GlobalOptions,
    json: bool,
    by_call: bool,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let model = load(g)?;
    if by_call {
        return calls(&model, json, sh);
    }
    let account = model
        .spec
        .spec
        .account_id
        .clone()
        .unwrap_or_else(|| "*".to_string());
    let policy = expand::policy(&model, &account);
    let doc = serde_json::to_string_pretty(&policy).unwrap_or_default();
    if json {
        sh.out(&doc);
        return Ok(ExitCode::SUCCESS);
    }
    let actions = expand::granted_actions(&policy);
    let commands = if model.spec.spec.dr.is_some() {
        "plan, apply, destroy and dr drill/failover/failback"
    } else {
        "plan, apply and destroy"
    };
    sh.out(&format!(
        "# IAM policy for running novactl {commands} on {} (environment {}, \
         region {}, account {account}):\n# {} actions in {} statements; resources scoped to the \
         spec's names where AWS allows. Attach it to the role or user that runs novactl.\n{doc}",
        model.spec.path.display(),
        model.spec.spec.environment,
        model.spec.spec.region,
        actions.len(),
        policy["Statement"].as_array().map_or(0, Vec::len),
    ));
    Ok(ExitCode::SUCCESS)
}

/// Every call the spec's kinds (and every command) may make, with its IAM actions.
fn calls(model: &crate::engine::Model, json: bool, sh: &Shell) -> Result<ExitCode, Failure> {
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
        if !wanted {
            continue;
        }
        let e = out
            .entry(p.call)
            .or_insert_with(|| serde_json::json!({"actions": [], "implied": [], "kinds": []}));
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
