//! The command line as a new user meets it: the quick start from `init` to `destroy`, the
//! inspection and authoring commands (`show`, `output`, `graph`, `fmt`, `schema`, `man`,
//! `completions`), `apply PLAN`, `--region`, and the output rules of issue 12 ("Output a
//! person enjoys"), with snapshots of the plan text and the apply summary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{novactl, novactl_bin, novactl_env, unique, Emulator, Project};
use serde_json::Value;

/// One emulator for the tests here that use their own names.
fn emu() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(Emulator::start)
}

/// A small stack: a key, a bucket encrypted with it, a role whose policy names both.
fn small_spec(env: &str, name: &str) -> String {
    format!(
        r#"# a small stack
environment: {env}
region: us-east-1
kms:
  data:
    alias: alias/{name}
    description: data key
    deletion_window_days: 7
s3:
  data:
    name: {name}-data     # the bucket
    kms_key: data
iam:
  app:
    name: {name}-app
    trust: [ecs-tasks.amazonaws.com]
"#
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The moto venv's python (it has `jsonschema` and `yaml`, moto's own dependencies).
fn venv_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("NOVACTL_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".moto-venv"))
        .join("bin/python")
}

/// Runs novactl on a pseudo-terminal; (exit code, everything it wrote).
fn on_terminal(args: &[&str], env: &[(&str, &str)], typed: Option<(&str, f64)>) -> (i32, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("python3");
    cmd.arg(root.join("tests/common/pty_run.py"));
    if let Some((text, after)) = typed {
        cmd.args(["--type", text, "--after", &after.to_string()]);
    }
    cmd.arg("--").arg(novactl_bin()).args(args);
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("NOVACTL_ENV")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run pty_run.py");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const ESC: &str = "\u{1b}[";

#[tokio::test]
async fn quick_start_from_init_to_apply_to_destroy() {
    // As the README says: init, validate, plan, apply, then destroy; in a fresh directory.
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = novactl(None, &["init", "--example", "seed", s(d)]).expect_code(0);
    for f in [
        "environments/prod.yaml",
        "environments/local.yaml",
        "environments/base.yaml",
        "policies/kms-phi.json.tera",
        "templates/dashboards/mentallama.json.tera",
        "novactl.schema.json",
        ".github/workflows/novactl.yml",
    ] {
        assert!(d.join(f).is_file(), "{f} written:\n{}", r.stdout);
    }
    workflow_names(d, "environments/prod.yaml");
    // A second init does not overwrite.
    let again = novactl(None, &["init", "--example", "seed", s(d)]).expect_code(1);
    assert!(again.stderr.contains("not overwriting"), "{}", again.stderr);

    let spec = d.join("environments/local.yaml");
    let spec = s(&spec);
    novactl(None, &["validate", "-e", spec]).expect_code(0);
    // As the README: plan --out, then apply that plan (no -e, no question).
    let plan_file = d.join("plan.json");
    let plan = novactl(
        Some(&emu),
        &[
            "plan",
            "-e",
            spec,
            "--detailed-exitcode",
            "--out",
            s(&plan_file),
        ],
    )
    .expect_code(2);
    let creates: usize = plan
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Plan: ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a Plan: line:\n{}", plan.stdout));
    assert!(creates >= 15, "the seed stack: {}", plan.stdout);
    let applied = novactl(Some(&emu), &["apply", s(&plan_file)]).expect_code(0);
    assert!(
        applied
            .stderr
            .contains(&format!("Apply complete: {creates} resource(s)")),
        "{}",
        applied.stderr
    );
    common::assert_no_changes(&emu, spec);

    // `output` gives scripts the live ARNs.
    let out = json(
        &novactl(Some(&emu), &["output", "-e", spec, "--json"])
            .expect_code(0)
            .stdout,
    );
    let arn = common::kms_key(&emu, "alias/novamind-local-phi")
        .await
        .unwrap()
        .arn
        .unwrap();
    assert_eq!(out["kms.phi"]["arn"], arn.as_str(), "{out:#}");
    assert_eq!(
        out["s3.models"]["arn"],
        "arn:aws:s3:::novamind-local-models"
    );
    assert_eq!(
        out["sagemaker_endpoint.mentallama"]["name"],
        "mentallama-endpoint"
    );
    assert!(
        out["sagemaker_endpoint.mentallama"]["config_name"]
            .as_str()
            .is_some_and(|c| c.starts_with("mentallama-endpoint-")),
        "{out:#}"
    );
    let one = novactl(Some(&emu), &["output", "-e", spec, "kms.phi.arn"]).expect_code(0);
    assert_eq!(one.stdout.trim(), arn, "a bare value for scripts");
    let text = novactl(Some(&emu), &["output", "-e", spec]).expect_code(0);
    assert!(
        text.stdout
            .lines()
            .any(|l| l == format!("kms.phi.arn = {arn}")),
        "{}",
        text.stdout
    );
    let bad = novactl(Some(&emu), &["output", "-e", spec, "kms.phi.arnn"]).expect_code(1);
    assert!(bad.stderr.contains("did you mean `arn`"), "{}", bad.stderr);

    // The access-log bucket holds logs by now: destroy refuses it (non-empty) without --force,
    // naming it.
    let d = novactl(Some(&emu), &["destroy", "-e", spec, "--auto-approve"]).expect_code(1);
    assert!(
        d.stderr.contains("s3.access_logs") && d.stderr.contains("not empty"),
        "{}",
        d.stderr
    );
    // With --force it empties the buckets first (the access-log bucket does not log into
    // itself, so it can be emptied although every request writes a log object at once here).
    let s3 = emu.s3("us-east-1").await;
    novactl(
        Some(&emu),
        &["destroy", "-e", spec, "--auto-approve", "--force"],
    )
    .expect_code(0);
    let gone = s3
        .head_bucket()
        .bucket("novamind-local-models")
        .send()
        .await;
    assert!(gone.is_err(), "the bucket is gone after destroy");
    let plan = novactl(Some(&emu), &["plan", "-e", spec, "--detailed-exitcode"]).expect_code(2);
    assert!(plan.stdout.contains("+ s3.models"), "{}", plan.stdout);
}

#[test]
fn init_without_an_example_writes_a_small_valid_project() {
    let dir = tempfile::tempdir().unwrap();
    novactl(None, &["init", s(dir.path())]).expect_code(0);
    workflow_names(dir.path(), "environments/dev.yaml");
    let spec = dir.path().join("environments/dev.yaml");
    let r = novactl(None, &["validate", "-e", s(&spec)]).expect_code(0);
    assert!(r.stdout.contains("valid (6 resources"), "{}", r.stdout);
    novactl(None, &["fmt", "--check", "-e", s(&spec)]).expect_code(0);
}

#[test]
fn show_renders_a_saved_plan_without_aws() {
    let p = Project::new(&small_spec(
        &unique("show").replace('-', ""),
        &unique("show"),
    ));
    let plan_file = p.path("plan.json");
    let made = novactl(
        Some(emu()),
        &["plan", "-e", s(&p.spec), "--out", s(&plan_file)],
    )
    .expect_code(0);
    // No emulator, no endpoint: show reads only the file.
    let shown = novactl(None, &["show", s(&plan_file)]).expect_code(0);
    assert!(
        made.stdout.starts_with(&shown.stdout),
        "the plan as plan printed it:\n{}\n---\n{}",
        shown.stdout,
        made.stdout
    );
    let shown = novactl(None, &["show", s(&plan_file), "--json"]).expect_code(0);
    assert_eq!(
        json(&shown.stdout),
        json(&std::fs::read_to_string(&plan_file).unwrap())
    );
    std::fs::write(p.path("bad.json"), r#"{"format_version": "9.9"}"#).unwrap();
    let bad = novactl(None, &["show", s(&p.path("bad.json"))]).expect_code(1);
    assert!(
        bad.stderr.contains("plan format 9.9 is not supported"),
        "{}",
        bad.stderr
    );
}

#[test]
fn apply_of_a_saved_plan_needs_no_spec_flag_and_does_not_ask_again() {
    let name = unique("saved");
    let p = Project::new(&small_spec(&name.replace('-', ""), &name));
    let plan_file = p.path("plan.json");
    novactl(
        Some(emu()),
        &["plan", "-e", s(&p.spec), "--out", s(&plan_file)],
    )
    .expect_code(0);
    // Another spec named with -e: refused before anything is read.
    let other = p.path("environments/other.yaml");
    std::fs::write(&other, small_spec("other", "other")).unwrap();
    let r = novactl(Some(emu()), &["apply", "-e", s(&other), s(&plan_file)]).expect_code(1);
    assert!(r.stderr.contains("was made from"), "{}", r.stderr);
    // No -e, no --auto-approve, stdin not a terminal: applies (a reviewed plan).
    let r = novactl(Some(emu()), &["apply", s(&plan_file)]).expect_code(0);
    assert!(
        r.stderr.contains("Apply complete: 3 resource(s)"),
        "{}",
        r.stderr
    );
    common::assert_no_changes(emu(), s(&p.spec));

    // A plan whose spec moved away is refused, naming it.
    let plan2 = p.path("plan2.json");
    novactl(Some(emu()), &["plan", "-e", s(&p.spec), "--out", s(&plan2)]).expect_code(0);
    std::fs::rename(&p.spec, p.path("environments/moved.yaml")).unwrap();
    let r = novactl(Some(emu()), &["apply", s(&plan2)]).expect_code(1);
    assert!(r.stderr.contains("no longer there"), "{}", r.stderr);
}

#[test]
fn graph_prints_every_dependency_as_dot_and_mermaid() {
    let p = Project::new(&small_spec("graph", "graph-x"));
    let dot = novactl(None, &["graph", "-e", s(&p.spec)])
        .expect_code(0)
        .stdout;
    assert!(dot.starts_with("digraph \"graph\" {"), "{dot}");
    assert!(dot.contains("\"s3.data\" -> \"kms.data\";"), "{dot}");
    assert!(
        dot.contains("\"kms.data\" [label = \"kms.data\\nalias/graph-x\"];"),
        "{dot}"
    );
    assert_eq!(
        dot.matches(" -> ").count(),
        1,
        "only the bucket refers to another:\n{dot}"
    );
    let m = novactl(None, &["graph", "-e", s(&p.spec), "--format", "mermaid"])
        .expect_code(0)
        .stdout;
    assert!(m.starts_with("flowchart RL\n"), "{m}");
    assert!(m.contains("  s3_data --> kms_data\n"), "{m}");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/prod.yaml");
    let dot = novactl(None, &["graph", "-e", s(&shipped)])
        .expect_code(0)
        .stdout;
    for edge in [
        "\"sagemaker_endpoint.mentallama\" -> \"sagemaker_model.mentallama\";",
        "\"sagemaker_model.mentallama\" -> \"iam.sagemaker_execution\";",
        "\"cloudtrail.hipaa\" -> \"log_group.hipaa\";",
    ] {
        assert!(dot.contains(edge), "{edge} in:\n{dot}");
    }
}

#[test]
fn fmt_check_passes_on_shipped_specs_and_fmt_restores_a_scrambled_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["environments/prod.yaml", "environments/local.yaml"] {
        let r = novactl(None, &["fmt", "--check", "-e", s(&root.join(f))]).expect_code(0);
        assert!(r.stdout.is_empty(), "{f}: {}", r.stdout);
    }
    // prod.yaml rendered whole, with sections and keys out of order and odd indentation.
    let original =
        std::fs::read_to_string(root.join("tests/fixtures/shipped/prod-full.yaml")).unwrap();
    let (head, rest) = original.split_at(original.find("\nkms:\n").unwrap() + 1);
    let (kms, rest) = rest.split_at(rest.find("\ns3:\n").unwrap() + 1);
    let moved = format!("{head}{rest}\n{kms}").replace(
        "environment: prod\nregion: us-east-1\n",
        "region: us-east-1\nenvironment: prod\n",
    );
    // The iam section indented with four spaces per level instead of two.
    let (a, b) = moved.split_at(moved.find("\niam:\n").unwrap() + 1);
    let (iam, c) = b.split_at(b.find("\nsagemaker:\n").unwrap() + 1);
    let iam: String = iam
        .lines()
        .map(|l| {
            let n = l.len() - l.trim_start().len();
            format!("{}{}\n", " ".repeat(2 * n), l.trim_start())
        })
        .collect();
    let scrambled = format!("{a}{iam}{c}");
    assert_ne!(scrambled, original);
    let p = Project::new(&scrambled);
    let r = novactl(None, &["fmt", "--check", "-e", s(&p.spec)]).expect_code(1);
    assert!(
        r.stdout.contains("+kms:") && r.stdout.contains("-kms:"),
        "a diff:\n{}{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.contains("is not formatted"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&p.spec).unwrap(),
        scrambled,
        "--check writes nothing"
    );
    novactl(None, &["fmt", "-e", s(&p.spec)]).expect_code(0);
    let formatted = std::fs::read_to_string(&p.spec).unwrap();
    assert_eq!(
        formatted, original,
        "back to the canonical file, comments and all"
    );
    novactl(None, &["fmt", "--check", "-e", s(&p.spec)]).expect_code(0);
}

#[test]
fn schema_validates_shipped_and_test_specs_and_rejects_unknown_keys() {
    let schema = novactl(None, &["schema"]).expect_code(0).stdout;
    let dir = tempfile::tempdir().unwrap();
    let schema_file = dir.path().join("schema.json");
    std::fs::write(&schema_file, &schema).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The shipped specs rendered whole (an overlay alone is not a complete spec).
    let mut specs: Vec<PathBuf> = [
        "tests/fixtures/shipped/prod-full.yaml",
        "tests/fixtures/shipped/local-full.yaml",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    novactl(None, &["init", s(&dir.path().join("minimal"))]).expect_code(0);
    specs.push(dir.path().join("minimal/environments/dev.yaml"));
    let test_spec = dir.path().join("small.yaml");
    std::fs::write(&test_spec, small_spec("t", "t")).unwrap();
    specs.push(test_spec);
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        small_spec("t", "t").replace("    kms_key: data\n", "    kms_kye: data\n"),
    )
    .unwrap();
    // The standard validator (python-jsonschema, Draft 2020-12) over each spec as YAML.
    let check = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for f in sys.argv[2:]:
    errs = sorted(e.message for e in v.iter_errors(yaml.safe_load(open(f))))
    print(json.dumps({"file": f, "errors": errs}))
"#;
    let mut args = vec![schema_file.clone()];
    args.extend(specs.iter().cloned());
    args.push(bad.clone());
    let out = Command::new(venv_python())
        .arg("-c")
        .arg(check)
        .args(&args)
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(json)
        .collect();
    assert_eq!(lines.len(), specs.len() + 1);
    for l in &lines[..specs.len()] {
        assert_eq!(l["errors"], serde_json::json!([]), "{l}");
    }
    let errs = lines[specs.len()]["errors"].to_string();
    assert!(errs.contains("kms_kye"), "the unknown key is named: {errs}");
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let r = novactl(None, &["man", s(dir.path())]).expect_code(0);
    for page in [
        "novactl.1",
        "novactl-plan.1",
        "novactl-apply.1",
        "novactl-permissions.1",
    ] {
        let f = dir.path().join(page);
        let text = std::fs::read_to_string(&f).unwrap_or_else(|_| panic!("{page}:\n{}", r.stdout));
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH"),
            "{page}"
        );
    }
    let plan = std::fs::read_to_string(dir.path().join("novactl-plan.1")).unwrap();
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
    assert!(
        !dir.path().join("novactl-help.1").exists(),
        "no page for `help`"
    );
    // The synopsis is what a user types (`novactl plan`, `novactl dr drill`), not the page name.
    let synopsis = |page: &str| {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        let after = text
            .split(".SH SYNOPSIS\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{page} has a SYNOPSIS:\n{text}"))
            .to_string();
        after
    };
    for (page, typed) in [
        ("novactl.1", "\\fBnovactl\\fR "),
        ("novactl-plan.1", "\\fBnovactl plan\\fR "),
        ("novactl-dr-drill.1", "\\fBnovactl dr drill\\fR "),
        ("novactl-state-list.1", "\\fBnovactl state list\\fR "),
    ] {
        let s = synopsis(page);
        assert!(s.starts_with(typed), "{page}: {s}");
    }
    // The NAME section and the title keep the page name.
    let drill = std::fs::read_to_string(dir.path().join("novactl-dr-drill.1")).unwrap();
    assert!(drill.contains(".TH novactl-dr-drill 1"), "{drill}");
}

#[test]
fn completions_help_has_install_lines_per_shell() {
    let r = novactl(None, &["completions", "--help"]).expect_code(0);
    for line in [
        "~/.local/share/bash-completion/completions/novactl",
        "~/.zfunc/_novactl",
        "~/.config/fish/completions/novactl.fish",
        "$PROFILE",
    ] {
        assert!(r.stdout.contains(line), "{line}:\n{}", r.stdout);
    }
    let bash = novactl(None, &["completions", "bash"]).expect_code(0);
    assert!(bash.stdout.contains("permissions"), "new commands complete");
}

#[test]
fn region_flag_overrides_the_spec_and_aws_region_disagreeing_is_a_warning() {
    let name = unique("region");
    let p = Project::new(&small_spec(&name.replace('-', ""), &name));
    let r = novactl_env(
        Some(emu()),
        &["plan", "-e", s(&p.spec), "--region", "eu-west-1", "--json"],
        &[],
    )
    .expect_code(0);
    let plan = json(&r.stdout);
    assert_eq!(plan["region"], "eu-west-1");
    assert!(plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["region"] == "eu-west-1"));
    let r = novactl_env(
        Some(emu()),
        &["plan", "-e", s(&p.spec)],
        &[("AWS_REGION", "us-west-2")],
    )
    .expect_code(0);
    assert!(r.stdout.contains("region us-east-1"), "{}", r.stdout);
    assert!(
        r.stderr.contains("warning: AWS_REGION=us-west-2 differs")
            && r.stderr.contains("us-east-1 (from `region` in"),
        "{}",
        r.stderr
    );
    let r = novactl(None, &["validate", "-e", s(&p.spec), "--region", "moon"]).expect_code(1);
    assert!(
        r.stderr.contains("--region moon: not an AWS region"),
        "{}",
        r.stderr
    );
}

// ---- Output a person enjoys -------------------------------------------------------------

#[test]
fn progress_is_one_line_per_resource_with_one_clock_and_a_summary_table() {
    let name = unique("progress");
    let p = Project::new(&small_spec(&name.replace('-', ""), &name));
    let r = novactl(Some(emu()), &["apply", "-e", s(&p.spec), "--auto-approve"]).expect_code(0);
    for addr in ["kms.data", "s3.data", "iam.app"] {
        let done: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with(&format!("+ {addr}: created in ")))
            .collect();
        assert_eq!(done.len(), 1, "{addr}: one closing line:\n{}", r.stderr);
        assert!(
            done[0].ends_with('s') && !done[0].contains("(0m"),
            "one clock: {}",
            done[0]
        );
    }
    let table: Vec<&str> = r
        .stderr
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Address"))
        .take(5)
        .collect();
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>(),
        ["Address", "Action", "Result", "Time"],
        "{}",
        r.stderr
    );
    let rows: Vec<Vec<&str>> = table[2..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut addrs: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    addrs.sort();
    assert_eq!(addrs, ["iam.app", "kms.data", "s3.data"], "{}", r.stderr);
    assert!(
        rows.iter().all(|r| r[1] == "create" && r[2] == "ok"),
        "{rows:?}"
    );
}

#[test]
fn quiet_prints_only_the_summary_and_errors() {
    let name = unique("quiet");
    let p = Project::new(&small_spec(&name.replace('-', ""), &name));
    let r = novactl(
        Some(emu()),
        &["apply", "-q", "-e", s(&p.spec), "--auto-approve"],
    )
    .expect_code(0);
    assert_eq!(r.stdout, "", "no plan text with -q");
    assert!(
        !r.stderr.contains("created in"),
        "no progress lines:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Address") && r.stderr.contains("s3.data"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("AWS calls ("), "{}", r.stderr);
    assert!(
        r.stderr.contains("Apply complete: 3 resource(s)"),
        "{}",
        r.stderr
    );
    // An error still shows.
    let r = novactl(None, &["apply", "-q", "-e", s(&p.path("none.yaml"))]).expect_code(1);
    assert!(r.stderr.contains("error:"), "{}", r.stderr);
}

#[test]
fn timings_leave_out_the_time_at_the_prompt() {
    let name = unique("prompt");
    let p = Project::new(&small_spec(&name.replace('-', ""), &name));
    let endpoint = emu().endpoint.clone();
    let started = std::time::Instant::now();
    let (code, out) = on_terminal(
        &[
            "apply",
            "-e",
            s(&p.spec),
            "--endpoint-url",
            &endpoint,
            "--no-color",
        ],
        &[],
        Some(("yes", 3.0)),
    );
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Only 'yes' will be accepted"),
        "it asked:\n{out}"
    );
    let line = out
        .lines()
        .rfind(|l| l.contains("AWS calls ("))
        .expect("summary line");
    let secs: f64 = line
        .rsplit(" in ")
        .next()
        .and_then(|t| t.trim().trim_end_matches('s').parse().ok())
        .unwrap_or_else(|| panic!("a time in {line:?}"));
    assert!(wall >= 3.0, "the prompt waited 3 s");
    assert!(
        secs < 3.0,
        "reported {secs} s of a {wall:.1} s run that waited 3 s at the prompt"
    );
}

#[tokio::test]
async fn drift_only_for_changes_outside_novactl_spec_change_otherwise() {
    let name = unique("labels");
    let env = name.replace('-', "");
    let p = Project::new(&small_spec(&env, &name));
    novactl(Some(emu()), &["apply", "-e", s(&p.spec), "--auto-approve"]).expect_code(0);
    // An edit of the spec: a spec change.
    p.write_spec(&small_spec(&env, &name).replace("description: data key", "description: other"));
    let r = novactl(Some(emu()), &["plan", "-e", s(&p.spec)]).expect_code(0);
    assert!(r.stdout.contains("~ kms.data"), "{}", r.stdout);
    assert!(
        r.stdout.contains("(spec change: description)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("drift"), "{}", r.stdout);
    novactl(Some(emu()), &["apply", "-e", s(&p.spec), "--auto-approve"]).expect_code(0);
    // A change made outside novactl: drift.
    let kms = emu().kms("us-east-1").await;
    let key = common::kms_key(emu(), &format!("alias/{name}"))
        .await
        .unwrap()
        .key_id;
    kms.update_key_description()
        .key_id(key)
        .description("changed by hand")
        .send()
        .await
        .unwrap();
    let r = novactl(Some(emu()), &["plan", "-e", s(&p.spec)]).expect_code(0);
    assert!(
        r.stdout
            .contains("(drift in description (changed outside novactl since the last apply))"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("spec change"), "{}", r.stdout);
}

#[test]
fn parallelism_must_be_at_least_one() {
    for cmd in ["plan", "apply", "destroy", "check", "report"] {
        let r = novactl(None, &[cmd, "-e", "x.yaml", "--parallelism", "0"]).expect_code(1);
        assert!(r.stderr.contains("--parallelism"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn colours_only_on_a_terminal_that_can_show_them() {
    let p = Project::new("environment: dev\nregion: moon\n");
    let spec = p.spec.to_str().unwrap().to_string();
    // Shell output (an error) and clap's usage error, on a colour terminal: coloured.
    let (code, out) = on_terminal(&["validate", "-e", &spec], &[], None);
    assert_eq!(code, 1);
    assert!(out.contains(ESC), "coloured on a terminal: {out:?}");
    let (code, out) = on_terminal(&["plan", "--no-such-flag"], &[], None);
    assert_eq!(code, 1);
    assert!(
        out.contains(ESC),
        "clap colours usage errors on a terminal: {out:?}"
    );
    for (args, env) in [
        (vec!["--no-color", "validate", "-e", spec.as_str()], vec![]),
        (
            vec!["validate", "-e", spec.as_str()],
            vec![("TERM", "dumb")],
        ),
        (
            vec!["validate", "-e", spec.as_str()],
            vec![("NO_COLOR", "1")],
        ),
        (vec!["plan", "--no-such-flag", "--no-color"], vec![]),
        (vec!["plan", "--no-such-flag"], vec![("TERM", "dumb")]),
        (vec!["plan", "--no-such-flag"], vec![("NO_COLOR", "1")]),
    ] {
        let (code, out) = on_terminal(&args, &env, None);
        assert_eq!(code, 1, "{args:?} {env:?}: {out}");
        assert!(!out.contains(ESC), "{args:?} {env:?}: no colour: {out:?}");
    }
}

#[test]
fn suggestions_only_when_they_are_close() {
    let alarm = |stat: &str| {
        format!(
            "environment: dev\nregion: us-east-1\ncloudwatch:\n  alarms:\n    a:\n      name: a\n      \
             namespace: AWS/SageMaker\n      metric: ModelLatency\n      statistic: {stat}\n      \
             period: 60\n      evaluation_periods: 1\n      threshold: 1\n      comparison: \
             GreaterThanThreshold\n"
        )
    };
    let p = Project::new(&alarm("p99"));
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(r.stderr.contains("`p99` is not one of"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("did you mean"),
        "nothing is close to p99: {}",
        r.stderr
    );
    p.write_spec(&alarm("Averag"));
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(
        r.stderr.contains("(did you mean `Average`?)"),
        "{}",
        r.stderr
    );
    p.write_spec(
        "environment: dev\nregion: us-east-1\nkms:\n  k:\n    alias: alias/k\n    colour: red\n",
    );
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(
        r.stderr.contains("unknown key `colour`; valid keys here:"),
        "{}",
        r.stderr
    );
}

// ---- Snapshots ----------------------------------------------------------------------------

/// Volatile parts of output: times, generated names.
fn filters(name: &str) -> Vec<(String, String)> {
    vec![
        (regex_escape(name), "[NAME]".into()),
        (
            r"/[^ ()]*/environments/".into(),
            "[DIR]/environments/".into(),
        ),
        (r"\d+\.\d+s".into(), "[TIME]".into()),
        (r"\d+m\d\ds".into(), "[TIME]".into()),
        (
            r"prices of \d{4}-\d\d-\d\d".into(),
            "prices of [DATE]".into(),
        ),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn snapshot_of_plan_text_and_apply_summary() {
    let name = format!("snap{}", unique("").trim_start_matches('-'));
    let p = Project::new(&small_spec(&name, &name));
    let plan = novactl(Some(emu()), &["plan", "-e", s(&p.spec)]).expect_code(0);
    let apply = novactl(
        Some(emu()),
        &["apply", "-q", "-e", s(&p.spec), "--auto-approve"],
    )
    .expect_code(0);
    let f = filters(&name);
    let settings = {
        let mut st = insta::Settings::clone_current();
        for (re, with) in &f {
            st.add_filter(re, with.as_str());
        }
        st
    };
    settings.bind(|| {
        insta::assert_snapshot!("plan_text", plan.stdout);
        insta::assert_snapshot!("apply_summary", apply.stderr);
    });
}

/// `init` wrote the CI workflow, YAML, for the project's spec (a file it wrote).
fn workflow_names(dir: &std::path::Path, spec: &str) {
    let text = std::fs::read_to_string(dir.join(".github/workflows/novactl.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is YAML");
    assert_eq!(doc["env"]["SPEC"].as_str(), Some(spec), "{text}");
    assert!(dir.join(spec).is_file());
    assert!(text.contains("novactl apply plan.json"), "{text}");
}
