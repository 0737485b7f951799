//! Renderings of an [`Evaluation`]: text (grouped by severity and resource), JSON (stable,
//! `format_version`), SARIF 2.1.0, and the catalogue as Markdown (`docs/compliance.md`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::rules::{docs_url, help_uri};
use super::{Evaluation, Outcome, Severity, Status, CATALOGUE};
use crate::shell::Shell;

pub const FORMAT_VERSION: &str = "1.0";

pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub waived: usize,
    pub passed: usize,
}

pub fn counts(e: &Evaluation) -> Counts {
    let v = |sev| e.violations().filter(|o| o.rule.severity == sev).count();
    Counts {
        errors: v(Severity::Error),
        warnings: v(Severity::Warning),
        waived: e
            .outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Waived { .. }))
            .count(),
        passed: e
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Pass)
            .count(),
    }
}

fn location(e: &Evaluation, o: &Outcome) -> String {
    let file = o.file.as_deref().unwrap_or(&e.spec_file);
    match o.line {
        Some(l) => format!("{file}:{l} ({})", o.key),
        None => format!("{file} ({})", o.key),
    }
}

fn mode_name(e: &Evaluation) -> &'static str {
    match e.mode {
        super::Mode::Spec => "spec",
        super::Mode::Live => "live",
    }
}

pub fn text(e: &Evaluation, sh: &Shell) -> String {
    let c = counts(e);
    let mut s = format!(
        "HIPAA check ({} mode) of {}, environment {}: {} violation(s) ({} error, {} warning), \
         {} waived, {} passed.\n",
        mode_name(e),
        e.spec_file,
        e.environment,
        c.errors + c.warnings,
        c.errors,
        c.warnings,
        c.waived,
        c.passed
    );
    type Pick = fn(&Outcome) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("error", |o| {
            o.is_violation() && o.rule.severity == Severity::Error
        }),
        ("warning", |o| {
            o.is_violation() && o.rule.severity == Severity::Warning
        }),
        ("waived", |o| matches!(o.status, Status::Waived { .. })),
    ];
    for (name, pick) in groups.iter() {
        let mut by_resource: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
        for o in e.outcomes.iter().filter(|o| pick(o)) {
            by_resource.entry(&o.address).or_default().push(o);
        }
        if by_resource.is_empty() {
            continue;
        }
        let n: usize = by_resource.values().map(Vec::len).sum();
        let head = format!("\n{name} ({n})");
        s.push_str(&match *name {
            "error" => sh.red(&head),
            "warning" => sh.yellow(&head),
            _ => head,
        });
        s.push('\n');
        for (address, list) in by_resource {
            s.push_str(&format!("  {address} [{}]\n", list[0].arn));
            for o in list {
                s.push_str(&format!("    {} {}\n", o.rule.id, o.rule.title));
                match &o.status {
                    Status::Waived { reason, until } => s.push_str(&format!(
                        "      waived{}: {reason} ({})\n",
                        until
                            .as_ref()
                            .map(|u| format!(" until {u}"))
                            .unwrap_or_default(),
                        o.message
                    )),
                    _ => s.push_str(&format!("      {}\n", o.message)),
                }
                s.push_str(&format!("      at {}\n", location(e, o)));
            }
        }
    }
    for w in &e.unused_waivers {
        s.push_str(&format!(
            "\nnote: the waiver for {w} matches no finding; remove it\n"
        ));
    }
    s
}

fn finding_json(e: &Evaluation, o: &Outcome) -> Value {
    let mut v = json!({
        "rule": o.rule.id,
        "title": o.rule.title,
        "severity": o.rule.severity.as_str(),
        "status": match o.status { Status::Pass => "pass", Status::Fail => "fail", Status::Waived { .. } => "waived" },
        "address": o.address,
        "kind": o.kind,
        "arn": o.arn,
        "region": o.region,
        "message": o.message,
        "file": o.file.as_deref().unwrap_or(&e.spec_file),
        "line": o.line,
        "key": o.key,
        "fingerprint": o.fingerprint(),
        "hipaa": o.rule.hipaa,
    });
    if let Status::Waived { reason, until } = &o.status {
        v["waiver"] = json!({"reason": reason, "until": until});
    }
    v
}

pub fn json(e: &Evaluation) -> String {
    let c = counts(e);
    let doc = json!({
        "format_version": FORMAT_VERSION,
        "novactl_version": env!("CARGO_PKG_VERSION"),
        "mode": mode_name(e),
        "spec_file": e.spec_file,
        "environment": e.environment,
        "account_id": e.account,
        "compliant": c.errors + c.warnings == 0,
        "summary": {"errors": c.errors, "warnings": c.warnings, "waived": c.waived, "passed": c.passed},
        "findings": e.findings().map(|o| finding_json(e, o)).collect::<Vec<_>>(),
        "unused_waivers": e.unused_waivers,
    });
    serde_json::to_string_pretty(&doc).expect("JSON")
}

/// SARIF 2.1.0: one run, every rule of the catalogue in `tool.driver.rules`, one result per
/// finding (waived ones carry a suppression), located at the spec key's line.
pub fn sarif(e: &Evaluation) -> String {
    let rules: Vec<Value> = CATALOGUE
        .iter()
        .map(|r| {
            let mappings: Vec<String> = [
                r.aws_config.map(|x| format!("AWS Config {x}")),
                r.prowler.map(|x| format!("Prowler {x}")),
                r.cdk_nag.map(|x| format!("cdk-nag {x}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            json!({
                "id": r.id,
                "name": r.id.replace('-', ""),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": format!("{} HIPAA: {}.", r.title, r.hipaa.join(", "))},
                "help": {
                    "text": format!("{} Equivalents: {}.", r.help,
                        if mappings.is_empty() { "none".to_string() } else { mappings.join("; ") }),
                    "markdown": format!("{}\n\nHIPAA: {}. [Catalogue]({})", r.help, r.hipaa.join(", "), help_uri(r.id)),
                },
                "helpUri": help_uri(r.id),
                "defaultConfiguration": {"level": r.severity.as_str()},
                "properties": {"tags": r.hipaa, "security-severity": if r.severity == Severity::Error { "8.0" } else { "5.0" }},
            })
        })
        .collect();
    let uri_of = |f: &str| f.trim_start_matches("./").replace('\\', "/");
    let results: Vec<Value> = e
        .findings()
        .map(|o| {
            let uri = uri_of(o.file.as_deref().unwrap_or(&e.spec_file));
            let index = CATALOGUE.iter().position(|r| r.id == o.rule.id).unwrap_or(0);
            let mut physical = json!({"artifactLocation": {"uri": uri}});
            if let Some(l) = o.line {
                physical["region"] = json!({"startLine": l});
            }
            let mut r = json!({
                "ruleId": o.rule.id,
                "ruleIndex": index,
                "level": o.rule.severity.as_str(),
                "message": {"text": format!("{}: {} ({})", o.address, o.message, o.arn)},
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{"name": o.address, "fullyQualifiedName": o.arn, "kind": "resource"}],
                }],
                "partialFingerprints": {"novactl/v1": o.fingerprint()},
            });
            if let Status::Waived { reason, .. } = &o.status {
                r["suppressions"] = json!([{"kind": "external", "justification": reason}]);
            }
            r
        })
        .collect();
    sarif_doc(json!({"tool": sarif_tool(rules), "results": results}))
}

/// `tool` of a SARIF run: novactl with these rules.
fn sarif_tool(rules: Vec<Value>) -> Value {
    json!({"driver": {
        "name": "novactl",
        "version": env!("CARGO_PKG_VERSION"),
        "informationUri": docs_url(),
        "rules": rules,
    }})
}

/// A SARIF 2.1.0 document of one run.
fn sarif_doc(run: Value) -> String {
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    serde_json::to_string_pretty(&doc).expect("SARIF")
}

/// SARIF 2.1.0 for a check that could not run (exit 1): each spec error a result of the rule
/// `NOVA-SPEC` at its file and line, any other failure a tool notification; the invocation is
/// marked unsuccessful. So a pipeline that uploads the file `if: always()` finds one, and the
/// error shows where the finding would.
pub fn sarif_failure(errors: &[crate::spec::SpecError], other: Option<&str>) -> String {
    let uri = |p: &std::path::Path| {
        p.display()
            .to_string()
            .trim_start_matches("./")
            .replace('\\', "/")
    };
    let results: Vec<Value> = errors
        .iter()
        .map(|e| {
            let mut physical = json!({"artifactLocation": {"uri": uri(&e.file)}});
            if let Some(l) = e.line.filter(|l| *l > 0) {
                physical["region"] = json!({"startLine": l});
                if let Some(c) = e.col.filter(|c| *c > 0) {
                    physical["region"]["startColumn"] = json!(c);
                }
            }
            let text = if e.key.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.key, e.message)
            };
            json!({
                "ruleId": SPEC_RULE,
                "ruleIndex": 0,
                "level": "error",
                "message": {"text": text},
                "locations": [{"physicalLocation": physical}],
            })
        })
        .collect();
    let notes: Vec<Value> = other
        .map(|m| json!({"level": "error", "message": {"text": m}}))
        .into_iter()
        .collect();
    let rule = json!({
        "id": SPEC_RULE,
        "name": "InvalidSpec",
        "shortDescription": {"text": "The spec is invalid: the HIPAA check could not run"},
        "help": {"text": "Fix the spec (`novactl validate -e FILE` lists every error with its line), then run the check again."},
        "defaultConfiguration": {"level": "error"},
    });
    sarif_doc(json!({
        "tool": sarif_tool(vec![rule]),
        "invocations": [{
            "executionSuccessful": false,
            "exitCode": 1,
            "toolExecutionNotifications": notes,
        }],
        "results": results,
    }))
}

/// The rule id of [`sarif_failure`]'s results.
pub const SPEC_RULE: &str = "NOVA-SPEC";

/// The catalogue as the Markdown section of `docs/compliance.md`.
pub fn catalogue_markdown() -> String {
    let dash = |o: Option<&str>| o.map(|x| format!("`{x}`")).unwrap_or_else(|| "—".into());
    let mut s = String::from(
        "| Rule | Severity | Control | HIPAA | AWS Config | Prowler | cdk-nag |\n|---|---|---|---|---|---|---|\n",
    );
    for r in CATALOGUE {
        s.push_str(&format!(
            "| [{id}](#{anchor}) | {sev} | {title}{cross} | {hipaa} | {cfg} | {prowler} | {nag} |\n",
            id = r.id,
            anchor = r.id.to_lowercase(),
            sev = r.severity.as_str(),
            title = r.title.replace('|', "\\|"),
            cross = if r.cross { " (spans resources)" } else { "" },
            hipaa = r.hipaa.join(", "),
            cfg = dash(r.aws_config),
            prowler = dash(r.prowler),
            nag = dash(r.cdk_nag),
        ));
    }
    for r in CATALOGUE {
        s.push_str(&format!(
            "\n### {id}\n\n**{title}** ({sev}; kinds: {kinds}; reads: {reads})\n\n{help}\n",
            id = r.id,
            title = r.title,
            sev = r.severity.as_str(),
            kinds = r.kinds.join(", "),
            reads = r
                .reads
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", "),
            help = r.help,
        ));
    }
    s
}
