//! The drill's evidence report: the JSON document is the record (see `drill.rs` for what it
//! holds); [`markdown`] is its human view.

use serde_json::Value;

pub const FORMAT_VERSION: &str = "1.0";

fn s(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::String(x) => x.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let t = format!("{f:.3}");
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn verdict(v: &Value) -> &'static str {
    if v == &Value::Bool(true) {
        "met"
    } else {
        "**MISSED**"
    }
}

/// The report as Markdown: a summary, then one table per probe with the values it rests on.
pub fn markdown(d: &Value) -> String {
    let mut out = String::new();
    let push = |out: &mut String, line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    push(
        &mut out,
        format!(
            "# DR drill {}: {}\n",
            s(&d["run_id"]),
            s(&d["result"]).to_uppercase()
        ),
    );
    push(
        &mut out,
        format!(
            "Environment `{}`, primary {} → DR {}, spec `{}` (sha256 `{}`), by `{}` (account {}).",
            s(&d["environment"]),
            s(&d["primary_region"]),
            s(&d["dr_region"]),
            s(&d["spec_file"]),
            s(&d["spec_digest"]),
            s(&d["caller"]["arn"]),
            s(&d["caller"]["account"]),
        ),
    );
    push(
        &mut out,
        format!(
            "Started {}, ended {} ({} s; {} AWS calls). Exit code {}.\n",
            s(&d["started_at"]),
            s(&d["ended_at"]),
            s(&d["duration_seconds"]),
            s(&d["aws_calls"]),
            s(&d["exit_code"]),
        ),
    );
    push(
        &mut out,
        "| Objective | Target | Measured | Result |".into(),
    );
    push(&mut out, "|---|---|---|---|".into());
    for (name, key) in [("RPO", "rpo"), ("RTO", "rto")] {
        let o = &d[key];
        push(
            &mut out,
            format!(
                "| {name} | {} s (+{} s grace) | {} s | {} |",
                s(&o["objective_seconds"]),
                s(&o["grace_seconds"]),
                s(&o["measured_seconds"]),
                verdict(&o["met"])
            ),
        );
    }
    push(
        &mut out,
        format!(
            "| Artifacts | same SHA-256 in both regions | {} model(s) | {} |",
            d["artifacts"]["models"].as_array().map_or(0, Vec::len),
            if d["artifacts"]["ok"] == true {
                "met"
            } else {
                "**DIFFER**"
            }
        ),
    );
    for e in d["errors"].as_array().into_iter().flatten() {
        push(&mut out, format!("\n**Error:** {}", s(e)));
    }

    push(&mut out, "\n## RPO: canary objects\n".into());
    push(
        &mut out,
        "| Bucket | Replica bucket | Version | SHA-256 | Written | Replica seen | Lag (s) | Replica status | Source status | Result |"
            .into(),
    );
    push(&mut out, "|---|---|---|---|---|---|---|---|---|---|".into());
    for b in d["rpo"]["buckets"].as_array().into_iter().flatten() {
        let result = if b["error"].is_string() {
            format!("error: {}", s(&b["error"]))
        } else if b["met"] == true {
            "met".into()
        } else if b["missing"] == true {
            format!("**MISSED**: no replica after {} s", s(&b["waited_until_s"]))
        } else {
            format!("**MISSED** by {} s", s(&b["missed_by_seconds"]))
        };
        push(
            &mut out,
            format!(
                "| `{}` ({}) | `{}` | `{}` | `{}` | {} | {} | {} | {} | {} | {} |",
                s(&b["source_bucket"]),
                s(&b["address"]),
                s(&b["replica_bucket"]),
                s(&b["version_id"]),
                s(&b["sha256_hex"]),
                s(&b["written_at"]),
                s(&b["replica_seen_at"]),
                s(&b["lag_seconds"]),
                s(&b["replica_status"]),
                s(&b["source_status"]),
                result
            ),
        );
    }
    for b in d["rpo"]["buckets"].as_array().into_iter().flatten() {
        if b["metrics"]["available"] == true {
            push(
                &mut out,
                format!(
                    "\n`{}`: S3 ReplicationLatency maximum {} s over the last hour.",
                    s(&b["source_bucket"]),
                    s(&b["metrics"]["replication_latency_max_seconds"])
                ),
            );
        } else if b["metrics"].is_object() {
            push(
                &mut out,
                format!(
                    "\n`{}`: replication metrics not available: {}.",
                    s(&b["source_bucket"]),
                    s(&b["metrics"]["reason"])
                ),
            );
        }
    }

    push(&mut out, "\n## RTO: promoting the standby\n".into());
    push(
        &mut out,
        "| Endpoint | Config | Instances | Update requested (s) | InService (s) | Serving (s) | Canary | RTO (s) | Result |"
            .into(),
    );
    push(&mut out, "|---|---|---|---|---|---|---|---|---|".into());
    for e in d["rto"]["endpoints"].as_array().into_iter().flatten() {
        let canary = &e["canary"];
        let canary = if canary["invoked"] == false {
            format!("skipped: {}", s(&canary["skipped"]))
        } else if canary["ok"] == true {
            format!("InvokeEndpoint ok ({} attempt(s))", s(&canary["attempts"]))
        } else {
            format!("failed: {}", s(&canary["error"]))
        };
        let result = if e["error"].is_string() {
            format!("error: {}", s(&e["error"]))
        } else if e["met"] == true {
            "met".into()
        } else if e["timeout"].is_string() {
            format!("**MISSED**: {}", s(&e["timeout"]))
        } else {
            format!("**MISSED** by {} s", s(&e["missed_by_seconds"]))
        };
        push(
            &mut out,
            format!(
                "| `{}` ({}) | `{}` | {} → {} | {} | {} | {} | {} | {} | {} |",
                s(&e["endpoint"]),
                s(&e["address"]),
                s(&e["config_name"]),
                s(&e["warm_count"]),
                s(&e["target_count"]),
                s(&e["update_requested_s"]),
                s(&e["in_service_s"]),
                s(&e["serving_s"]),
                canary,
                s(&e["rto_seconds"]),
                result
            ),
        );
    }

    push(&mut out, "\n## Model artifacts\n".into());
    push(
        &mut out,
        "| Model | Primary | SHA-256 | Replica | SHA-256 | Result |".into(),
    );
    push(&mut out, "|---|---|---|---|---|---|".into());
    for m in d["artifacts"]["models"].as_array().into_iter().flatten() {
        let side = |x: &Value| {
            if x["exists"] == true {
                format!("`{}` (version `{}`)", s(&x["uri"]), s(&x["version_id"]))
            } else {
                format!("`{}` (missing)", s(&x["uri"]))
            }
        };
        push(
            &mut out,
            format!(
                "| {} | {} | `{}` ({}) | {} | `{}` ({}) | {} |",
                s(&m["address"]),
                side(&m["source"]),
                s(&m["source"]["sha256_hex"]),
                s(&m["source"]["sha256_from"]),
                side(&m["replica"]),
                s(&m["replica"]["sha256_hex"]),
                s(&m["replica"]["sha256_from"]),
                if m["match"] == true {
                    "same".to_string()
                } else if m["error"].is_string() {
                    format!("error: {}", s(&m["error"]))
                } else {
                    "**DIFFER**".to_string()
                }
            ),
        );
    }
    match d["teardown"].as_object() {
        Some(t) => push(
            &mut out,
            format!(
                "\nTeardown: standbys back to warm size, {} canary version(s) removed{}.",
                s(&t["canary_versions_removed"]),
                t["errors"]
                    .as_array()
                    .filter(|e| !e.is_empty())
                    .map(|e| format!(
                        "; errors: {}",
                        e.iter().map(s).collect::<Vec<_>>().join("; ")
                    ))
                    .unwrap_or_default()
            ),
        ),
        None => push(
            &mut out,
            "\nNo teardown: the standby stays promoted and the canaries stay.".into(),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markdown_names_the_missed_bucket_and_by_how_much() {
        let d = json!({
            "run_id": "r1", "result": "fail", "exit_code": 3, "errors": [],
            "rpo": {"objective_seconds": 3.0, "grace_seconds": 2.0, "measured_seconds": 4.2,
                    "met": false, "buckets": [
                {"address": "dr.s3.models", "source_bucket": "models", "replica_bucket": "twin",
                 "met": false, "missing": false, "missed_by_seconds": 1.2, "lag_seconds": 4.2},
                {"address": "dr.s3.logs", "source_bucket": "logs", "replica_bucket": "twin2",
                 "met": false, "missing": true, "waited_until_s": 5.0},
            ]},
            "rto": {"objective_seconds": 30.0, "met": true, "measured_seconds": 2.5,
                    "endpoints": [{"endpoint": "e", "met": true, "canary": {"invoked": false,
                                   "skipped": "off"}}]},
            "artifacts": {"ok": true, "models": []},
            "teardown": null,
        });
        let md = markdown(&d);
        assert!(md.contains("# DR drill r1: FAIL"), "{md}");
        assert!(md.contains("**MISSED** by 1.2 s"), "{md}");
        assert!(md.contains("**MISSED**: no replica after 5 s"), "{md}");
        assert!(md.contains("skipped: off"), "{md}");
        assert!(md.contains("| RTO | 30 s (+"), "{md}");
    }
}
