//! `novactl check` in spec mode (no AWS call): the shipped specs pass; a table of specs that
//! each break one rule fails with exactly that rule at the line of the key to change; SARIF
//! validates against the SARIF 2.1.0 schema with fingerprints stable across runs and line
//! moves; the catalogue in docs/compliance.md is the code's. And the apply gate against the
//! emulator: refused without `--allow-noncompliant`, through with it, noted in the audit record.

mod common;

use std::path::Path;
use std::process::Command;

use common::{novactl, Emulator, Project};
use serde_json::Value;

fn shipped(name: &str) -> String {
    // The shipped spec rendered whole (environments/ holds overlays of base.yaml).
    let full = name.replace(".yaml", "-full.yaml");
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/shipped")
            .join(full),
    )
    .unwrap()
}

fn check_json(p: &Project, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["check", "-e", p.spec.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let r = novactl(None, &args);
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

/// 1-based line of the line that is exactly `text` (trailing blanks ignored).
fn line_of(yaml: &str, text: &str) -> usize {
    let hits: Vec<usize> = yaml
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end() == text)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "`{text}` must be one line of the spec");
    hits[0]
}

#[test]
fn shipped_specs_are_compliant() {
    for name in ["prod.yaml", "local.yaml"] {
        let p = Project::new(&shipped(name));
        let (code, v, stderr) = check_json(&p, &[]);
        assert_eq!(code, 0, "{name}: {v:#}\n{stderr}");
        assert_eq!(v["compliant"], true);
        assert_eq!(v["summary"]["errors"], 0);
        assert!(
            v["summary"]["passed"].as_u64().unwrap() > 40,
            "{name}: {v:#}"
        );
        // Every finding is one the spec waives, shown with its reason: the pilot's single
        // instance, and the DR gaps the shipped specs accept (warm standby, the trail bucket
        // kept in the primary region). The DR twins log to the DR access-log bucket: no
        // NOVA-S3-005 finding at all.
        let findings: Vec<&Value> = v["findings"].as_array().unwrap().iter().collect();
        assert!(!findings.is_empty(), "{v:#}");
        for f in &findings {
            assert_eq!(f["status"], "waived", "{name}: {f:#}");
            assert!(!f["waiver"]["reason"].as_str().unwrap().is_empty());
        }
        let pilot: Vec<&&Value> = findings
            .iter()
            .filter(|f| f["address"] == "sagemaker_endpoint.mentallama")
            .collect();
        assert_eq!(pilot.len(), 1, "{v:#}");
        assert_eq!(pilot[0]["rule"], "NOVA-SM-004");
        assert!(pilot[0]["waiver"]["reason"]
            .as_str()
            .unwrap()
            .contains("pilot"));
        assert!(
            findings
                .iter()
                .all(|f| f["address"] == "sagemaker_endpoint.mentallama"
                    || f["address"] == "s3.trail"
                    || f["address"].as_str().unwrap().starts_with("dr.")),
            "{v:#}"
        );
        assert!(
            findings.iter().all(|f| f["rule"] != "NOVA-S3-005"),
            "{name}: {v:#}"
        );
    }
}

/// The shipped local.yaml without its `dr:` section: the table below breaks one rule of the
/// primary stack at a time (a DR twin would break it a second time), and adds its own `dr:`.
fn primary_only(yaml: &str) -> String {
    let mut out = String::new();
    let mut in_dr = false;
    // A waiver of a DR twin names an address that no longer exists: it goes too (the
    // list item `    - …` and its continuation lines).
    let mut item = String::new();
    let flush = |item: &mut String, out: &mut String| {
        if !item.contains("address: dr.") {
            out.push_str(item);
        }
        item.clear();
    };
    for line in yaml.lines() {
        let top = !line.is_empty() && !line.starts_with([' ', '#']);
        if top {
            in_dr = line.starts_with("dr:");
        }
        if in_dr {
            continue;
        }
        if line.starts_with("    - ") || !line.starts_with("      ") {
            flush(&mut item, &mut out);
        }
        item.push_str(line);
        item.push('\n');
    }
    flush(&mut item, &mut out);
    out
}

/// The failing findings of a `check --format json` answer.
fn failing(v: &Value) -> Vec<&Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .collect()
}

struct Case {
    reason: &'static str,
    /// (from, to) replacements applied to local.yaml.
    edits: &'static [(&'static str, &'static str)],
    rule: &'static str,
    /// How many resources break it.
    count: usize,
    /// The spec line (exact text) the findings point at.
    at: &'static str,
}

const ADMIN: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;
const S3_ALL: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::x/*"}]}"#;
const DR: &str =
    "\ndr:\n  region: us-west-2\n  replicate:\n    kms: [phi]\n    s3: [models, logs]\ns3:\n";

#[test]
fn each_broken_rule_is_reported_alone_at_the_key_to_change() {
    let cases = [
        Case { reason: "rotation off", edits: &[("    rotation: true", "    rotation: false")], rule: "NOVA-KMS-001", count: 1, at: "    rotation: false" },
        Case { reason: "versioning off", edits: &[("    name: \"{{ vars.project }}-{{ environment }}-models\"\n", "    name: \"{{ vars.project }}-{{ environment }}-models\"\n    versioning: false\n")], rule: "NOVA-S3-003", count: 1, at: "    versioning: false" },
        Case { reason: "access logging off", edits: &[("    name: \"{{ vars.project }}-{{ environment }}-results\"\n", "    name: \"{{ vars.project }}-{{ environment }}-results\"\n    access_logging: false\n")], rule: "NOVA-S3-005", count: 1, at: "    access_logging: false" },
        Case { reason: "ACLs enabled", edits: &[("    name: \"{{ vars.project }}-{{ environment }}-results\"\n", "    name: \"{{ vars.project }}-{{ environment }}-results\"\n    object_ownership: ObjectWriter\n")], rule: "NOVA-S3-007", count: 1, at: "    object_ownership: ObjectWriter" },
        Case { reason: "access logs never expire", edits: &[("    lifecycle:\n      - id: KeepSixYears\n        transitions:\n          - { days: 90, storage_class: GLACIER }\n        expire_days: 2192\n", "")], rule: "NOVA-S3-009", count: 1, at: "  access_logs:                                     # S3 server access logs of every bucket here" },
        Case { reason: "a bucket left out of DR", edits: &[("\ns3:\n", DR)], rule: "NOVA-S3-006", count: 1, at: "    s3: [models, logs]" },
        // "DR replicas without a customer key" (NOVA-DR-001) cannot be written any more: validate
        // refuses a replicated bucket whose key has no DR copy (tests/dr.rs, spec errors).
        Case { reason: "administrator policy", edits: &[("      execution: ../policies/sagemaker-execution.json.tera", "      execution: ../policies/admin.json.tera")], rule: "NOVA-IAM-001", count: 1, at: "      execution: ../policies/admin.json.tera" },
        Case { reason: "service-wide policy", edits: &[("      api: ../policies/api-service.json.tera", "      api: ../policies/s3-all.json.tera")], rule: "NOVA-IAM-002", count: 1, at: "      api: ../policies/s3-all.json.tera" },
        Case { reason: "trust without a source condition", edits: &[("    name: APIServiceRole\n", "    name: APIServiceRole\n    source_account: false\n")], rule: "NOVA-IAM-003", count: 1, at: "    source_account: false" },
        Case { reason: "endpoint volume without KMS", edits: &[("      instance_count: 1\n      kms_key: phi\n", "      instance_count: 1\n")], rule: "NOVA-SM-001", count: 1, at: "    mentallama:\n      name: \"{{ vars.endpoint_name }}\"" },
        Case { reason: "captured PHI in the SSE-S3 bucket", edits: &[("        bucket: logs\n", "        bucket: access_logs\n")], rule: "NOVA-SM-006", count: 1, at: "        bucket: access_logs" },
        Case { reason: "model without network isolation", edits: &[("      network_isolation: true", "      network_isolation: false")], rule: "NOVA-SM-003", count: 1, at: "      network_isolation: false" },
        Case { reason: "waiver expired", edits: &[("      until: \"2027-03-31\"", "      until: \"2020-01-31\"")], rule: "NOVA-SM-004", count: 1, at: "      instance_count: 1" },
        Case { reason: "no waiver for one instance", edits: &[("    - rule: NOVA-SM-004\n      address: sagemaker_endpoint.mentallama\n      reason: single-instance pilot; autoscaling adds instances under load\n      until: \"2027-03-31\"\n", "")], rule: "NOVA-SM-004", count: 1, at: "      instance_count: 1" },
        Case { reason: "model outside a VPC", edits: &[("      vpc: { network: main, security_groups: [inference] }\n", "")], rule: "NOVA-SM-005", count: 1, at: "    mentallama:\n      name: mentallama-model" },
        Case { reason: "unencrypted topic", edits: &[("\nsns:\n", "\nsns:\n  audit:\n    name: Audit-Plain\n")], rule: "NOVA-SNS-001", count: 1, at: "  audit:" },
        Case { reason: "alarm without actions", edits: &[("      treat_missing_data: notBreaching\n      actions: [alerts]\n    high_error_rate:", "      treat_missing_data: notBreaching\n      actions: []\n    high_error_rate:")], rule: "NOVA-CW-001", count: 1, at: "      actions: []" },
        Case { reason: "retention below the minimum", edits: &[("    log_retention_days: 2192                       # six years", "    log_retention_days: 30")], rule: "NOVA-LOG-002", count: 1, at: "    log_retention_days: 30" },
        Case { reason: "retention below a raised minimum", edits: &[("check:\n", "check:\n  min_log_retention_days: 3000\n")], rule: "NOVA-LOG-002", count: 1, at: "    log_retention_days: 2192                       # six years" },
        Case { reason: "single-region trail", edits: &[("    multi_region: true", "    multi_region: false")], rule: "NOVA-CT-002", count: 1, at: "    multi_region: false" },
        Case { reason: "no log file validation", edits: &[("    log_file_validation: true", "    log_file_validation: false")], rule: "NOVA-CT-003", count: 1, at: "    log_file_validation: false" },
        Case { reason: "no S3 data events", edits: &[("    data_events: [s3, lambda]", "    data_events: [lambda]")], rule: "NOVA-CT-006", count: 1, at: "    data_events: [lambda]" },
    ];
    assert!(cases.len() >= 20);
    let base = primary_only(&shipped("local.yaml"));
    assert!(!base.contains("\ndr:"), "{base}");
    for c in &cases {
        let mut yaml = base.clone();
        for (from, to) in c.edits {
            assert!(
                yaml.contains(from),
                "{}: the edit must apply: {from}",
                c.reason
            );
            yaml = yaml.replacen(from, to, 1);
        }
        let p = Project::new(&yaml);
        std::fs::write(p.path("policies/admin.json.tera"), ADMIN).unwrap();
        std::fs::write(p.path("policies/s3-all.json.tera"), S3_ALL).unwrap();
        let (code, v, stderr) = check_json(&p, &[]);
        assert_eq!(code, 3, "{}: exit {code}\n{v:#}\n{stderr}", c.reason);
        let failing = failing(&v);
        let rules: Vec<&str> = failing
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, vec![c.rule; c.count], "{}: {v:#}", c.reason);
        // A multi-line `at` names the resource's key line by its first line plus the next.
        let want = match c.at.split_once('\n') {
            Some((first, second)) => {
                let l = line_of(&yaml, second);
                assert_eq!(yaml.lines().nth(l - 2).unwrap().trim_end(), first);
                l - 1
            }
            None => line_of(&yaml, c.at),
        };
        for f in &failing {
            assert_eq!(f["line"], want, "{}: {f:#}", c.reason);
            assert!(f["file"].as_str().unwrap().ends_with("test.yaml"));
        }
    }
}

/// The CIS monitoring set (NOVA-CW-003) is required whole: with the trail's security alarms
/// off, the gate names every missing control at the `security_alarms` line; a trail without a
/// log group fails it at the trail.
#[test]
fn the_cis_monitoring_set_is_required_whole() {
    let base = primary_only(&shipped("local.yaml"));
    let on = "    security_alarms:                               # the CIS monitoring set: 15 filters + alarms\n      topic: alerts\n";
    assert!(base.contains(on), "{base}");
    let off = base.replacen(on, "    security_alarms:\n      enabled: false\n", 1);
    let p = Project::new(&off);
    let (code, v, stderr) = check_json(&p, &[]);
    assert_eq!(code, 3, "{v:#}\n{stderr}");
    let failing = failing(&v);
    let mut rules: Vec<(&str, &str)> = failing
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["address"].as_str().unwrap()))
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            ("NOVA-CW-003", "log_group.hipaa"),
            ("NOVA-CW-004", "cloudtrail.hipaa")
        ],
        "{v:#}"
    );
    let line = line_of(&off, "    security_alarms:");
    let cis = failing.iter().find(|f| f["rule"] == "NOVA-CW-003").unwrap();
    assert_eq!(cis["line"], line, "{cis:#}");
    let msg = cis["message"].as_str().unwrap();
    for n in 1..=15 {
        assert!(
            msg.contains(&format!("CIS 4.{n} ")),
            "4.{n} missing from: {msg}"
        );
    }
    for check in [
        "cloudwatch_changes_to_network_acls_alarm_configured",
        "cloudwatch_changes_to_network_gateways_alarm_configured",
        "cloudwatch_changes_to_network_route_tables_alarm_configured",
        "cloudwatch_changes_to_vpcs_alarm_configured",
    ] {
        assert!(msg.contains(check), "{check} not named: {msg}");
    }

    // No log group: nothing to filter, named at the trail.
    let no_group = base.replacen(
        "    log_group: /novamind/cloudtrail\n    log_retention_days: 2192                       # six years\n",
        "",
        1,
    );
    assert_ne!(no_group, base, "the edit must apply");
    let p = Project::new(&no_group);
    let (_, v, stderr) = check_json(&p, &[]);
    let cis: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "NOVA-CW-003")
        .collect();
    assert_eq!(cis.len(), 1, "{v:#}\n{stderr}");
    assert_eq!(cis[0]["address"], "cloudtrail.hipaa");
    assert_eq!(cis[0]["status"], "fail");
}

#[test]
fn bad_waivers_are_spec_errors_and_fail_on_error_ignores_warnings() {
    let base = shipped("local.yaml");
    let p = Project::new(&base.replace("    - rule: NOVA-SM-004", "    - rule: NOVA-XX-999"));
    let r = novactl(None, &["check", "-e", p.spec.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("check.waive.0.rule"), "{}", r.stderr);
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]);
    assert_eq!(r.code, 1, "validate checks waivers too: {}", r.stderr);
    let p = Project::new(&base.replace("      until: \"2027-03-31\"", "      until: soon"));
    let r = novactl(None, &["check", "-e", p.spec.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
    // A warning alone fails `check` but not `check --fail-on error`.
    let p =
        Project::new(&base.replace("      until: \"2027-03-31\"", "      until: \"2020-01-31\""));
    assert_eq!(check_json(&p, &[]).0, 3);
    assert_eq!(check_json(&p, &["--fail-on", "error"]).0, 0);
}

fn sarif(p: &Project) -> Value {
    let r = novactl(
        None,
        &["check", "-e", p.spec.to_str().unwrap(), "--format", "sarif"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("SARIF is JSON")
}

/// Validates with the `jsonschema` package of the emulator's venv (a dependency of
/// moto[server]); the Rust `jsonschema` crate would change the features of crates the SDK
/// shares and rebuild every SDK crate for tests.
fn validate_against_schema(doc: &Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var("NOVACTL_MOTO_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join(".moto-venv"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.sarif");
    std::fs::write(&file, doc.to_string()).unwrap();
    let script = "import json,sys,jsonschema\n\
        schema=json.load(open(sys.argv[1]))\n\
        doc=json.load(open(sys.argv[2]))\n\
        v=jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())\n\
        errs=sorted(v.iter_errors(doc), key=lambda e: list(e.path))\n\
        [print('/'.join(map(str,e.path)), e.message) for e in errs]\n\
        sys.exit(1 if errs else 0)\n";
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(root.join("tests/schemas/sarif-schema-2.1.0.json"))
        .arg(&file)
        .output()
        .expect(
            "the emulator venv's python (python3 tests/emulator/moto_launcher.py --install-only)",
        );
    assert!(
        out.status.success(),
        "SARIF does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sarif_validates_and_its_fingerprints_are_stable() {
    let yaml = primary_only(&shipped("local.yaml"))
        .replace("    rotation: true", "    rotation: false")
        .replace("    multi_region: true", "    multi_region: false");
    let p = Project::new(&yaml);
    let a = sarif(&p);
    validate_against_schema(&a);
    // A document that breaks the schema is refused (the validator is live).
    let mut broken = a.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    let refused = std::panic::catch_unwind(|| validate_against_schema(&broken));
    assert!(refused.is_err(), "a bad level must not validate");

    let run = &a["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.len() >= 30);
    for r in rules {
        assert!(
            r["helpUri"]
                .as_str()
                .unwrap()
                .contains("compliance.md#nova-"),
            "{r:#}"
        );
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
        assert!(!r["help"]["text"].as_str().unwrap().is_empty());
    }
    let results = run["results"].as_array().unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["NOVA-KMS-001", "NOVA-SM-004", "NOVA-CT-002"]);
    let waived = &results[1];
    assert_eq!(waived["suppressions"][0]["kind"], "external");
    let kms = &results[0];
    assert_eq!(kms["level"], "error");
    let loc = &kms["locations"][0]["physicalLocation"];
    assert!(loc["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
        .ends_with("environments/test.yaml"));
    assert_eq!(
        loc["region"]["startLine"],
        line_of(&yaml, "    rotation: false")
    );
    let fps = |d: &Value| -> Vec<String> {
        d["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["novactl/v1"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // Same spec: same fingerprints; lines moved by a comment: same fingerprints, new lines.
    assert_eq!(fps(&sarif(&p)), fps(&a));
    p.write_spec(&format!("# moved down\n# twice\n{yaml}"));
    let moved = sarif(&p);
    assert_eq!(fps(&moved), fps(&a));
    assert_eq!(
        moved["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        line_of(&yaml, "    rotation: false") + 2
    );
    let unique: std::collections::BTreeSet<String> = fps(&a).into_iter().collect();
    assert_eq!(unique.len(), 3);
}

#[test]
fn docs_catalogue_is_generated_from_the_code() {
    let r = novactl(None, &["check", "--catalogue"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compliance.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = (
        "<!-- BEGIN CATALOGUE (novactl check --catalogue) -->\n",
        "<!-- END CATALOGUE -->",
    );
    let want = format!("{begin}{}{end}", r.stdout);
    if std::env::var_os("NOVACTL_UPDATE_DOCS").is_some() {
        let (head, rest) = doc.split_once(begin).expect("begin marker");
        let (_, tail) = rest.split_once(end).expect("end marker");
        std::fs::write(&path, format!("{head}{want}{tail}")).unwrap();
        return;
    }
    assert!(
        doc.contains(&want),
        "docs/compliance.md is out of date: run NOVACTL_UPDATE_DOCS=1 cargo test --test compliance docs_catalogue"
    );
}

const GATED: &str = r#"
environment: gate
region: us-east-1
kms:
  k:
    alias: alias/KEYNAME
    rotation: false
    deletion_window_days: 7
"#;

#[tokio::test]
async fn apply_refuses_a_noncompliant_spec_unless_allowed_and_the_audit_record_says_so() {
    let emu = Emulator::start();
    let alias = common::unique("gate");
    let p = Project::new(&GATED.replace("KEYNAME", &alias));
    let spec = p.spec.to_str().unwrap();
    // plan lists the finding under the plan.
    let plan = novactl(Some(&emu), &["plan", "-e", spec]).expect_code(0);
    assert!(
        plan.stdout
            .contains("NOVA-KMS-001 kms.k: key rotation is off"),
        "{}",
        plan.stdout
    );
    let r = novactl(Some(&emu), &["apply", "-e", spec, "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("refusing to apply"), "{}", r.stderr);
    assert!(r.stderr.contains("NOVA-KMS-001 on kms.k"), "{}", r.stderr);
    let kms = emu.kms("us-east-1").await;
    let found = kms
        .describe_key()
        .key_id(format!("alias/{alias}"))
        .send()
        .await;
    assert!(found.is_err(), "nothing was created");

    let r = novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            spec,
            "--auto-approve",
            "--allow-noncompliant",
        ],
    )
    .expect_code(0);
    assert!(r.stderr.contains("--allow-noncompliant"), "{}", r.stderr);
    let key = kms
        .describe_key()
        .key_id(format!("alias/{alias}"))
        .send()
        .await
        .expect("created")
        .key_metadata
        .unwrap();
    assert!(
        !kms.get_key_rotation_status()
            .key_id(key.key_id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );
    let audit = std::fs::read_to_string(p.path("environments/.novactl/gate/audit.jsonl")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["command"], "apply");
    assert_eq!(last["exit_status"], 0);
    let notes: Vec<&str> = last["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("--allow-noncompliant: NOVA-KMS-001 on kms.k"),
        "{notes:?}"
    );
    // `check --live` reads the same finding from AWS, naming the key's ARN.
    let r = novactl(
        Some(&emu),
        &["check", "-e", spec, "--live", "--format", "json"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "NOVA-KMS-001");
    assert_eq!(v["findings"].as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(v["mode"], "live");
    assert!(
        f["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:123456789012:key/"),
        "{f:#}"
    );
}

/// A spec that does not load still gets a SARIF file (a pipeline uploads it `if: always()`):
/// valid SARIF 2.1.0, the error at its line, the run marked unsuccessful; the exit code is 1.
#[test]
fn sarif_out_is_written_when_the_spec_is_invalid() {
    let yaml = shipped("local.yaml").replace("    rotation: true", "    rotaton: true");
    let line = line_of(&yaml, "    rotaton: true");
    let p = Project::new(&yaml);
    let out = p.path("novactl.sarif");
    let r = novactl(
        None,
        &[
            "check",
            "-e",
            p.spec.to_str().unwrap(),
            "--format",
            "sarif",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("rotaton"),
        "the error is still printed: {}",
        r.stderr
    );
    let text = std::fs::read_to_string(&out).expect("a SARIF file even though the spec is invalid");
    let doc: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    validate_against_schema(&doc);
    let run = &doc["runs"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    let results = run["results"].as_array().unwrap();
    let hit = results
        .iter()
        .find(|r| r["message"]["text"].as_str().unwrap().contains("rotaton"))
        .unwrap_or_else(|| panic!("the spec error is a result: {doc:#}"));
    assert_eq!(hit["level"], "error");
    assert_eq!(hit["ruleId"], run["tool"]["driver"]["rules"][0]["id"]);
    let loc = &hit["locations"][0]["physicalLocation"];
    assert_eq!(loc["region"]["startLine"], line as u64, "{hit:#}");
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("environments/test.yaml"),
        "{hit:#}"
    );
    // The same on stdout without --out (for `> file` redirections).
    let r = novactl(
        None,
        &["check", "-e", p.spec.to_str().unwrap(), "--format", "sarif"],
    );
    assert_eq!(r.code, 1);
    let doc: Value = serde_json::from_str(&r.stdout).expect("SARIF on stdout");
    assert_eq!(doc["runs"][0]["results"], run["results"]);
}

/// A spec with a managed network that passes every network rule: flow logs, the endpoints
/// the stack needs (the model's image is in ECR), the model in the network.
fn net_spec(env: &str) -> String {
    format!(
        r#"environment: {env}
region: us-east-1
kms:
  phi:
    alias: alias/{env}-phi
    deletion_window_days: 7
s3:
  models:
    name: "{env}-models"
    kms_key: phi
iam:
  exec:
    name: {env}-exec
    trust: [sagemaker.amazonaws.com]
network:
  main:
    cidr: 10.30.0.0/16
    subnets:
      x: {{ cidr: 10.30.1.0/24, az: a }}
      y: {{ cidr: 10.30.2.0/24, az: b }}
    endpoints: [s3, kms, logs, monitoring, sts, sagemaker.api, sagemaker.runtime, ecr.api, ecr.dkr]
    flow_logs:
      kms_key: phi
      retention_days: 365
security_groups:
  inference:
    network: main
    description: SageMaker endpoint instances
    egress:
      - {{ port: 443, cidr: 10.30.0.0/16 }}
sagemaker:
  models:
    m:
      name: {env}-model
      image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-gpu-py310
      model_data: "s3://{env}-models/model.tar.gz"
      role: exec
      vpc:
        network: main
        security_groups: [inference]
"#
    )
}

/// The failing findings of the network rules (and the model-in-a-VPC rules), as
/// (rule, address, line).
fn net_failures(v: &Value) -> Vec<(String, String, Option<u64>)> {
    failing(v)
        .into_iter()
        .filter(|f| {
            let r = f["rule"].as_str().unwrap();
            r.starts_with("NOVA-NET-") || r == "NOVA-SM-003" || r == "NOVA-SM-005"
        })
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
                f["line"].as_u64(),
            )
        })
        .collect()
}

/// Spec mode: the network rules run on the rendered network and fail at the line to change.
#[test]
fn network_rules_fail_at_the_spec_line() {
    let base = net_spec("netgate");
    let p = Project::new(&base);
    let (_, v, stderr) = check_json(&p, &[]);
    assert_eq!(net_failures(&v), vec![], "{v:#}\n{stderr}");
    struct NetCase {
        reason: &'static str,
        from: &'static str,
        to: &'static str,
        want: &'static [(&'static str, &'static str)],
        at: &'static str,
    }
    let cases = [
        NetCase {
            reason: "no flow logs",
            from: "    flow_logs:\n      kms_key: phi\n      retention_days: 365\n",
            to: "",
            want: &[("NOVA-NET-002", "network.main")],
            at: "  main:",
        },
        NetCase {
            reason: "endpoints missing",
            from: "    endpoints: [s3, kms, logs, monitoring, sts, sagemaker.api, sagemaker.runtime, ecr.api, ecr.dkr]",
            to: "    endpoints: [s3, kms, sagemaker.runtime]",
            want: &[("NOVA-NET-008", "network.main")],
            at: "    endpoints: [s3, kms, sagemaker.runtime]",
        },
        NetCase {
            reason: "no endpoints at all",
            from: "    endpoints: [s3, kms, logs, monitoring, sts, sagemaker.api, sagemaker.runtime, ecr.api, ecr.dkr]\n",
            to: "",
            want: &[("NOVA-NET-008", "network.main")],
            at: "  main:",
        },
        NetCase {
            reason: "model outside a VPC",
            from: "      vpc:\n        network: main\n        security_groups: [inference]\n",
            to: "",
            want: &[("NOVA-SM-005", "sagemaker_model.m")],
            at: "    m:",
        },
        NetCase {
            reason: "model without network isolation",
            from: "      role: exec\n",
            to: "      role: exec\n      network_isolation: false\n",
            want: &[("NOVA-SM-003", "sagemaker_model.m")],
            at: "      network_isolation: false",
        },
        NetCase {
            reason: "open ingress, waived",
            from: "    egress:\n      - { port: 443, cidr: 10.30.0.0/16 }\n",
            to: "    ingress:\n      - { port: 443, cidr: 0.0.0.0/0 }\n    egress:\n      - { port: 443, cidr: 10.30.0.0/16 }\ncheck:\n  waive:\n    - { rule: NOVA-NET-001, address: security_group.inference, reason: public health check }\n",
            want: &[],
            at: "",
        },
    ];
    for c in &cases {
        assert!(base.contains(c.from), "{}: the edit must apply", c.reason);
        let yaml = base.replacen(c.from, c.to, 1);
        let p = Project::new(&yaml);
        let (code, v, stderr) = check_json(&p, &[]);
        assert_eq!(code, 3, "{}: exit {code}\n{v:#}\n{stderr}", c.reason);
        let got = net_failures(&v);
        let rules: Vec<(&str, &str)> = got
            .iter()
            .map(|(r, a, _)| (r.as_str(), a.as_str()))
            .collect();
        assert_eq!(rules, c.want.to_vec(), "{}: {v:#}", c.reason);
        for (_, _, line) in &got {
            assert_eq!(*line, Some(line_of(&yaml, c.at) as u64), "{}", c.reason);
        }
        if c.want.is_empty() {
            // The open group is reported, waived with its reason.
            let w: Vec<&Value> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["rule"] == "NOVA-NET-001")
                .collect();
            assert_eq!(w.len(), 1, "{v:#}");
            assert_eq!(w[0]["status"], "waived");
            assert_eq!(w[0]["address"], "security_group.inference");
        }
    }
    // Without the waiver, open ingress is a spec error at its line (no AWS call).
    let open = base.replacen(
        "    egress:\n      - { port: 443, cidr: 10.30.0.0/16 }\n",
        "    ingress:\n      - { port: 22, cidr: 0.0.0.0/0 }\n",
        1,
    );
    let p = Project::new(&open);
    let r = novactl(None, &["check", "-e", p.spec.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = line_of(&open, "      - { port: 22, cidr: 0.0.0.0/0 }");
    assert!(r.stderr.contains(&format!(":{line}")), "{}", r.stderr);
}

/// Live mode: after apply, hand changes made with the EC2 SDK are named by rule and address
/// by `check --live`, and the evidence report has the network section with its API calls.
#[tokio::test]
async fn network_rules_read_live_state_and_the_report_shows_the_network() {
    let emu = Emulator::start();
    let env = common::unique("netlive");
    let p = Project::new(&net_spec(&env));
    let spec = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["apply", "-e", spec, "--auto-approve"]).expect_code(0);
    let live = |emu: &Emulator| {
        let r = novactl(
            Some(emu),
            &["check", "-e", spec, "--live", "--format", "json"],
        );
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
        (r.code, v, r.stderr)
    };
    let (_, v, stderr) = live(&emu);
    assert_eq!(net_failures(&v), vec![], "{v:#}\n{stderr}");

    let ec2 = emu.ec2("us-east-1").await;
    let filter = |n: &str, val: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(n)
            .values(val)
            .build()
    };
    let vpc_id = ec2
        .describe_vpcs()
        .filters(filter("tag:novactl:environment", &env))
        .filters(filter("tag:novactl:address", "network.main"))
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    // A route to an internet gateway in subnet x's table.
    let table = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &vpc_id))
        .filters(filter("tag:novactl:part", "route-table:x"))
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .route_table_id()
        .unwrap()
        .to_string();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw_id = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(igw_id)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(igw_id)
        .send()
        .await
        .unwrap();
    // The inference group opened to the internet on SSH; a rule in the default group.
    let groups = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let id_of = |name: &str| {
        groups
            .security_groups()
            .iter()
            .find(|g| g.group_name() == Some(name))
            .and_then(|g| g.group_id())
            .unwrap_or_else(|| panic!("{name}: {groups:?}"))
            .to_string()
    };
    for (group, port) in [
        (id_of(&format!("{env}-inference")), 22),
        (id_of("default"), 443),
    ] {
        ec2.authorize_security_group_ingress()
            .group_id(group)
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .cidr_ip("0.0.0.0/0")
            .send()
            .await
            .unwrap();
    }
    // Flow logs off.
    let fl = ec2
        .describe_flow_logs()
        .filter(filter("resource-id", &vpc_id))
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = fl
        .flow_logs()
        .iter()
        .filter_map(|f| f.flow_log_id().map(str::to_string))
        .collect();
    assert!(!ids.is_empty());
    ec2.delete_flow_logs()
        .set_flow_log_ids(Some(ids))
        .send()
        .await
        .unwrap();

    let (code, v, stderr) = live(&emu);
    assert_eq!(code, 3, "{v:#}\n{stderr}");
    let mut got: Vec<(String, String)> = net_failures(&v)
        .into_iter()
        .map(|(r, a, _)| (r, a))
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("NOVA-NET-001", "security_group.inference"),
        ("NOVA-NET-002", "network.main"),
        ("NOVA-NET-005", "network.main"),
        ("NOVA-NET-007", "network.main"),
    ]
    .iter()
    .map(|(r, a)| (r.to_string(), a.to_string()))
    .collect();
    assert_eq!(got, want, "{v:#}");
    let route = failing(&v)
        .into_iter()
        .find(|f| f["rule"] == "NOVA-NET-005")
        .unwrap();
    assert!(
        route["message"].as_str().unwrap().contains(igw_id),
        "{route:#}"
    );
    assert_eq!(route["key"], "network.main.subnets.x", "{route:#}");

    // The report's network section: the parts as read, each citing its API call.
    let r = novactl(Some(&emu), &["report", "-e", spec, "--format", "json"]).expect_code(0);
    let m: Value = serde_json::from_str(&r.stdout).unwrap();
    let nets = m["network"].as_array().unwrap();
    assert_eq!(nets.len(), 1, "{:#}", m["network"]);
    assert_eq!(nets[0]["address"], "network.main");
    assert_eq!(nets[0]["vpc_id"], vpc_id.as_str());
    let rows = nets[0]["rows"].as_array().unwrap();
    let row = |part: &str| {
        rows.iter()
            .find(|r| r["part"] == part)
            .unwrap_or_else(|| panic!("{part}: {rows:#?}"))
    };
    assert_eq!(row("subnet x")["api_call"], "ec2:DescribeSubnets");
    assert!(row("subnet x")["read"]
        .as_str()
        .unwrap()
        .contains("10.30.1.0/24 in us-east-1a, public IP on launch off"));
    assert!(row("route table of x")["read"]
        .as_str()
        .unwrap()
        .contains(igw_id));
    assert_eq!(
        row("route table of x")["api_call"],
        "ec2:DescribeRouteTables"
    );
    assert_eq!(row("network ACL")["api_call"], "ec2:DescribeNetworkAcls");
    assert!(row("network ACL")["read"]
        .as_str()
        .unwrap()
        .contains("ingress 100 allow all all 10.30.0.0/16"));
    assert_eq!(row("endpoint kms")["api_call"], "ec2:DescribeVpcEndpoints");
    assert!(row("endpoint kms")["read"]
        .as_str()
        .unwrap()
        .contains("Interface, private DNS on"));
    assert!(row("endpoint s3")["read"]
        .as_str()
        .unwrap()
        .contains(&format!("arn:aws:s3:::{env}-models")));
    assert_eq!(row("flow logs")["read"], "none");
    assert!(row("default security group")["read"]
        .as_str()
        .unwrap()
        .contains("ingress tcp 443 0.0.0.0/0"));
    assert!(row(&format!("security group {env}-inference"))["read"]
        .as_str()
        .unwrap()
        .contains("ingress tcp 22 0.0.0.0/0"));
    let md = novactl(Some(&emu), &["report", "-e", spec]).expect_code(0);
    assert!(md.stdout.contains("## Network"), "{}", md.stdout);
    assert!(md
        .stdout
        .contains(&format!("### `network.main` ({vpc_id}, us-east-1)")));

    // apply repairs every hand change; the live check is clean again.
    novactl(Some(&emu), &["apply", "-e", spec, "--auto-approve"]).expect_code(0);
    let (_, v, stderr) = live(&emu);
    assert_eq!(net_failures(&v), vec![], "{v:#}\n{stderr}");
}
