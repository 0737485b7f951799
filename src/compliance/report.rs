//! The evidence report (`novactl report`): every control of the catalogue, pass / fail /
//! waived per resource, each with the live read it rests on (the API call, the value read, the
//! resource ARN, the time), the last DR drill's measurements and the run history. One model,
//! three renderings (Markdown, self-contained printable HTML, JSON).
//!
//! # Evidence
//! Rules name the attributes they read; each kind's attribute comes from one API call
//! ([`source_call`]), and the report cites that call only if this run made it (the call
//! counter of [`crate::aws::CallStats`] saw it), with the time the reads finished. A pass whose
//! read cannot be shown is reported as "no evidence", never as a pass.

use serde_json::{json, Map, Value};

use super::{Evaluation, Outcome, Status, CATALOGUE};

pub const FORMAT_VERSION: &str = "1.0";

/// The API call whose answer holds attribute `attr` of a `kind` resource's observed state.
pub fn source_call(kind: &str, attr: &str) -> Option<&'static str> {
    let top = attr.split('.').next().unwrap_or(attr);
    Some(match (kind, top) {
        ("kms", "rotation") => "kms:GetKeyRotationStatus",
        ("kms", "key_state") => "kms:DescribeKey",
        ("kms", "policy") => "kms:GetKeyPolicy",
        ("s3", "encryption") => "s3:GetBucketEncryption",
        ("s3", "policy") => "s3:GetBucketPolicy",
        ("s3", "versioning") => "s3:GetBucketVersioning",
        ("s3", "public_access_block") => "s3:GetPublicAccessBlock",
        ("s3", "logging") => "s3:GetBucketLogging",
        ("s3", "object_ownership") => "s3:GetBucketOwnershipControls",
        ("s3", "lifecycle") => "s3:GetBucketLifecycleConfiguration",
        ("s3", "replication") => "s3:GetBucketReplication",
        ("iam", "trust_policy") => "iam:GetRole",
        ("iam", "inline_policies") => "iam:GetRolePolicy",
        ("log_group", "role") => "iam:GetRole",
        ("log_group", "metric_filters") => "logs:DescribeMetricFilters",
        ("log_group", _) => "logs:DescribeLogGroups",
        ("sagemaker_endpoint", _) => "sagemaker:DescribeEndpointConfig",
        ("sagemaker_model", _) => "sagemaker:DescribeModel",
        ("sns", _) => "sns:GetTopicAttributes",
        ("cloudwatch_alarm", _) => "cloudwatch:DescribeAlarms",
        ("cloudtrail", "logging") => "cloudtrail:GetTrailStatus",
        ("cloudtrail", "event_selectors") => "cloudtrail:GetEventSelectors",
        ("cloudtrail", _) => "cloudtrail:GetTrail",
        ("security_group", _) => "ec2:DescribeSecurityGroups",
        ("network", "flow_logs")
            if attr.ends_with("kms_key_id") || attr.ends_with("retention_days") =>
        {
            "logs:DescribeLogGroups"
        }
        ("network", "flow_logs") => "ec2:DescribeFlowLogs",
        ("network", "network_acl" | "default_network_acl") => "ec2:DescribeNetworkAcls",
        ("network", "subnets") => "ec2:DescribeRouteTables",
        ("network", "endpoints") => "ec2:DescribeVpcEndpoints",
        ("network", "endpoint_security_group" | "default_security_group") => {
            "ec2:DescribeSecurityGroups"
        }
        ("network", _) => "ec2:DescribeVpcs",
        _ => return None,
    })
}

/// What the report needs besides the evaluation.
pub struct Context {
    pub region: String,
    pub generated_at: String,
    /// When the live reads started and finished (RFC 3339).
    pub read_started: String,
    pub read_finished: String,
    /// Every AWS call this run made (`service:Operation`).
    pub calls: Vec<String>,
    /// Resources of the spec not found live.
    pub missing: Vec<String>,
    /// The backend document `last-drill`, if any.
    pub drill: Option<Value>,
    /// Audit records, newest first.
    pub history: Vec<crate::state::AuditRecord>,
    /// The network section ([`super::report_network::section`]).
    pub networks: Value,
}

/// Did this run make `call` (`service:Operation`)?
pub fn was_made(calls: &[String], call: &str) -> bool {
    made(calls, call)
}

fn made(calls: &[String], call: &str) -> bool {
    let op = call.rsplit(':').next().unwrap_or(call);
    calls.iter().any(|c| c.rsplit(':').next() == Some(op))
}

fn evidence(o: &Outcome, cx: &Context) -> Vec<Value> {
    o.evidence
        .iter()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(attr, value)| {
            let call = source_call(&o.kind, attr)?;
            made(&cx.calls, call).then(|| {
                json!({
                    "api_call": call,
                    "attribute": attr,
                    "value": value,
                    "arn": o.arn,
                    "read_at": cx.read_finished,
                })
            })
        })
        .collect()
}

/// The report as data (its JSON rendering is this value).
pub fn model(e: &Evaluation, cx: &Context) -> Value {
    let mut controls = Vec::new();
    let (mut passed, mut failed, mut waived, mut unproven) = (0, 0, 0, 0);
    for r in CATALOGUE {
        let mine: Vec<&Outcome> = e.outcomes.iter().filter(|o| o.rule.id == r.id).collect();
        let mut resources = Vec::new();
        let mut status = if mine.is_empty() {
            "not-applicable"
        } else {
            "pass"
        };
        for o in &mine {
            let ev = evidence(o, cx);
            let s = match (&o.status, ev.is_empty()) {
                (Status::Fail, _) => "fail",
                (Status::Waived { .. }, _) => "waived",
                (Status::Pass, true) => "no-evidence",
                (Status::Pass, false) => "pass",
            };
            status = match (status, s) {
                (_, "fail") | ("fail", _) => "fail",
                (_, "no-evidence") | ("no-evidence", _) => "no-evidence",
                (_, "waived") | ("waived", _) => "waived",
                _ => status,
            };
            let mut res = json!({
                "address": o.address,
                "arn": o.arn,
                "status": s,
                "message": o.message,
                "evidence": ev,
            });
            if let Status::Waived { reason, until } = &o.status {
                res["waiver"] = json!({"reason": reason, "until": until});
            }
            resources.push(res);
        }
        match status {
            "pass" => passed += 1,
            "fail" => failed += 1,
            "waived" => waived += 1,
            "no-evidence" => unproven += 1,
            _ => {}
        }
        controls.push(json!({
            "rule": r.id,
            "title": r.title,
            "severity": r.severity.as_str(),
            "hipaa": r.hipaa,
            "aws_config": r.aws_config,
            "prowler": r.prowler,
            "cdk_nag": r.cdk_nag,
            "status": status,
            "resources": resources,
        }));
    }
    let history: Vec<Value> = cx
        .history
        .iter()
        .map(|h| {
            json!({
                "run_id": h.run_id,
                "command": h.command,
                "caller_arn": h.caller_arn,
                "started": h.started,
                "ended": h.ended,
                "exit_status": h.exit_status,
                "interrupted": h.interrupted,
                "changes": h.changes.len(),
                "notes": h.notes,
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "novactl_version": env!("CARGO_PKG_VERSION"),
        "environment": e.environment,
        "account_id": e.account,
        "region": cx.region,
        "spec_file": e.spec_file,
        "generated_at": cx.generated_at,
        "reads": {"started": cx.read_started, "finished": cx.read_finished, "calls": cx.calls.len()},
        "summary": {"passed": passed, "failed": failed, "waived": waived, "no_evidence": unproven,
                    "not_applicable": CATALOGUE.len() - passed - failed - waived - unproven},
        "missing": cx.missing,
        "controls": controls,
        "network": cx.networks,
        "drill": drill_facts(cx.drill.as_ref()),
        "history": history,
    })
}

/// The drill document's measured facts: its scalar fields, nested objects flattened
/// (`rto.measured_seconds`).
fn drill_facts(doc: Option<&Value>) -> Value {
    fn walk(prefix: &str, v: &Value, out: &mut Map<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out);
                }
            }
            Value::Array(_) => {}
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    match doc {
        Some(d) => {
            let mut m = Map::new();
            walk("", d, &mut m);
            Value::Object(m)
        }
        None => Value::Null,
    }
}

fn short(v: &Value) -> String {
    let t = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if t.chars().count() > 120 {
        format!("{}…", t.chars().take(117).collect::<String>())
    } else {
        t
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(m: &Value) -> String {
    let mut s = format!(
        "# HIPAA evidence report: {env}\n\nAccount {acct}, region {region}, spec `{spec}`. \
         Generated {gen} by novactl {ver}. Every status below rests on live reads made between \
         {t0} and {t1} ({calls} AWS calls); a control is marked `pass` only where the API read \
         behind it is cited.\n\n",
        env = m["environment"].as_str().unwrap_or_default(),
        acct = m["account_id"].as_str().unwrap_or_default(),
        region = m["region"].as_str().unwrap_or_default(),
        spec = m["spec_file"].as_str().unwrap_or_default(),
        gen = m["generated_at"].as_str().unwrap_or_default(),
        ver = m["novactl_version"].as_str().unwrap_or_default(),
        t0 = m["reads"]["started"].as_str().unwrap_or_default(),
        t1 = m["reads"]["finished"].as_str().unwrap_or_default(),
        calls = m["reads"]["calls"],
    );
    let sum = &m["summary"];
    s.push_str(&format!(
        "**Summary:** {} passed, {} failed, {} waived, {} without evidence, {} not applicable.\n\n",
        sum["passed"], sum["failed"], sum["waived"], sum["no_evidence"], sum["not_applicable"]
    ));
    if let Some(missing) = m["missing"].as_array().filter(|a| !a.is_empty()) {
        let names: Vec<String> = missing.iter().map(short).collect();
        s.push_str(&format!(
            "**Not found live** (no evidence possible): {}\n\n",
            names.join(", ")
        ));
    }
    s.push_str("## Controls\n\n| Rule | Control | HIPAA | Status |\n|---|---|---|---|\n");
    for c in m["controls"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "| {} | {} | {} | **{}** |\n",
            c["rule"].as_str().unwrap_or_default(),
            md_cell(c["title"].as_str().unwrap_or_default()),
            strings(&c["hipaa"]).join(", "),
            c["status"].as_str().unwrap_or_default()
        ));
    }
    s.push_str("\n## Evidence\n");
    for c in m["controls"].as_array().into_iter().flatten() {
        let res = c["resources"].as_array().cloned().unwrap_or_default();
        if res.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "\n### {} {}\n\n| Resource | Status | API call | Attribute | Value read | Read at |\n|---|---|---|---|---|---|\n",
            c["rule"].as_str().unwrap_or_default(),
            md_cell(c["title"].as_str().unwrap_or_default())
        ));
        for r in &res {
            let status = status_text(r);
            let ev = r["evidence"].as_array().cloned().unwrap_or_default();
            if ev.is_empty() {
                s.push_str(&format!(
                    "| `{}` | {} | — | — | — | — |\n",
                    r["arn"].as_str().unwrap_or_default(),
                    md_cell(&status)
                ));
            }
            for e in ev {
                s.push_str(&format!(
                    "| `{}` | {} | `{}` | `{}` | `{}` | {} |\n",
                    e["arn"].as_str().unwrap_or_default(),
                    md_cell(&status),
                    e["api_call"].as_str().unwrap_or_default(),
                    e["attribute"].as_str().unwrap_or_default(),
                    md_cell(&short(&e["value"])),
                    e["read_at"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    s.push_str(&super::report_network::markdown(&m["network"]));
    s.push_str("\n## Last DR drill\n\n");
    match m["drill"].as_object() {
        Some(d) if !d.is_empty() => {
            s.push_str("| Measure | Value |\n|---|---|\n");
            for (k, v) in d {
                s.push_str(&format!("| {k} | {} |\n", md_cell(&short(v))));
            }
        }
        _ => s.push_str("No drill has been recorded (`novactl dr drill` writes it).\n"),
    }
    s.push_str("\n## Run history\n\n");
    let hist = m["history"].as_array().cloned().unwrap_or_default();
    if hist.is_empty() {
        s.push_str("No runs recorded.\n");
    } else {
        s.push_str(
            "| Started | Command | Caller | Exit | Changes | Notes |\n|---|---|---|---|---|---|\n",
        );
        for h in hist {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                h["started"].as_str().unwrap_or_default(),
                h["command"].as_str().unwrap_or_default(),
                h["caller_arn"].as_str().unwrap_or_default(),
                h["exit_status"],
                h["changes"],
                md_cell(&strings(&h["notes"]).join("; "))
            ));
        }
    }
    s
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(short).collect())
        .unwrap_or_default()
}

fn status_text(r: &Value) -> String {
    let s = r["status"].as_str().unwrap_or_default();
    match s {
        "fail" => format!("FAIL: {}", r["message"].as_str().unwrap_or_default()),
        "waived" => format!(
            "waived: {} ({})",
            r["waiver"]["reason"].as_str().unwrap_or_default(),
            r["message"].as_str().unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#111}\
table{border-collapse:collapse;width:100%;margin:0.5em 0 1.5em}th,td{border:1px solid #999;padding:3px 6px;\
text-align:left;vertical-align:top;font-size:0.85em}th{background:#eee}code{font-size:0.9em;word-break:break-all}\
.pass{color:#064}.fail{color:#a00;font-weight:bold}.waived{color:#850}.no-evidence{color:#a00}\
@media print{body{margin:0.5cm}h2{page-break-before:always}tr{page-break-inside:avoid}a{color:#111}}";

pub fn html(m: &Value) -> String {
    let t = |v: &Value| esc(v.as_str().unwrap_or_default());
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>HIPAA evidence report: {env}</title>\
         <style>{CSS}</style></head><body>\n<h1>HIPAA evidence report: {env}</h1>\n<p>Account {acct}, region {region}, \
         spec <code>{spec}</code>. Generated {gen} by novactl {ver}. Every status rests on live reads made between {t0} \
         and {t1} ({calls} AWS calls); a control is marked pass only where the API read behind it is cited.</p>\n",
        env = t(&m["environment"]),
        acct = t(&m["account_id"]),
        region = t(&m["region"]),
        spec = t(&m["spec_file"]),
        gen = t(&m["generated_at"]),
        ver = t(&m["novactl_version"]),
        t0 = t(&m["reads"]["started"]),
        t1 = t(&m["reads"]["finished"]),
        calls = m["reads"]["calls"],
    );
    let sum = &m["summary"];
    s.push_str(&format!(
        "<p><strong>Summary:</strong> {} passed, {} failed, {} waived, {} without evidence, {} not applicable.</p>\n",
        sum["passed"], sum["failed"], sum["waived"], sum["no_evidence"], sum["not_applicable"]
    ));
    s.push_str("<h2>Controls</h2>\n<table><tr><th>Rule</th><th>Control</th><th>HIPAA</th><th>Status</th></tr>\n");
    for c in m["controls"].as_array().into_iter().flatten() {
        let st = c["status"].as_str().unwrap_or_default();
        s.push_str(&format!(
            "<tr><td><a href=\"#{id}\">{id}</a></td><td>{}</td><td>{}</td><td class=\"{st}\">{st}</td></tr>\n",
            t(&c["title"]),
            esc(&strings(&c["hipaa"]).join(", ")),
            id = t(&c["rule"]),
        ));
    }
    s.push_str("</table>\n<h2>Evidence</h2>\n");
    for c in m["controls"].as_array().into_iter().flatten() {
        let res = c["resources"].as_array().cloned().unwrap_or_default();
        if res.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "<h3 id=\"{id}\">{id} {}</h3>\n<table><tr><th>Resource</th><th>Status</th><th>API call</th>\
             <th>Attribute</th><th>Value read</th><th>Read at</th></tr>\n",
            t(&c["title"]),
            id = t(&c["rule"])
        ));
        for r in &res {
            let class = r["status"].as_str().unwrap_or_default();
            let status = esc(&status_text(r));
            let ev = r["evidence"].as_array().cloned().unwrap_or_default();
            if ev.is_empty() {
                s.push_str(&format!(
                    "<tr><td><code>{}</code></td><td class=\"{class}\">{status}</td><td>—</td><td>—</td><td>—</td><td>—</td></tr>\n",
                    t(&r["arn"])
                ));
            }
            for e in ev {
                s.push_str(&format!(
                    "<tr><td><code>{}</code></td><td class=\"{class}\">{status}</td><td><code>{}</code></td>\
                     <td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                    t(&e["arn"]),
                    t(&e["api_call"]),
                    t(&e["attribute"]),
                    esc(&short(&e["value"])),
                    t(&e["read_at"])
                ));
            }
        }
        s.push_str("</table>\n");
    }
    s.push_str(&super::report_network::html(&m["network"], esc));
    s.push_str("<h2>Last DR drill</h2>\n");
    match m["drill"].as_object() {
        Some(d) if !d.is_empty() => {
            s.push_str("<table><tr><th>Measure</th><th>Value</th></tr>\n");
            for (k, v) in d {
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td></tr>\n",
                    esc(k),
                    esc(&short(v))
                ));
            }
            s.push_str("</table>\n");
        }
        _ => s.push_str(
            "<p>No drill has been recorded (<code>novactl dr drill</code> writes it).</p>\n",
        ),
    }
    s.push_str("<h2>Run history</h2>\n");
    let hist = m["history"].as_array().cloned().unwrap_or_default();
    if hist.is_empty() {
        s.push_str("<p>No runs recorded.</p>\n");
    } else {
        s.push_str("<table><tr><th>Started</th><th>Command</th><th>Caller</th><th>Exit</th><th>Changes</th><th>Notes</th></tr>\n");
        for h in hist {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                t(&h["started"]),
                t(&h["command"]),
                t(&h["caller_arn"]),
                h["exit_status"],
                h["changes"],
                esc(&strings(&h["notes"]).join("; "))
            ));
        }
        s.push_str("</table>\n");
    }
    s.push_str("</body></html>\n");
    s
}
