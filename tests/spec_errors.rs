//! A bad spec is one clear message with file, line and key, exit 1, no panic, and no AWS call:
//! every run points at a closed port, so an AWS call would surface as a connection error.

mod common;

use common::{novactl, Project, Run};

/// Runs `cmd` on `yaml` with AWS pointed at a port nobody listens on.
fn run(cmd: &str, yaml: &str) -> (Run, String) {
    let p = Project::new(yaml);
    let path = p.spec.to_str().unwrap().to_string();
    let mut args = vec![cmd, "-e", &path, "--endpoint-url", "http://127.0.0.1:9"];
    if cmd == "apply" {
        args.push("--auto-approve");
    }
    let r = novactl(None, &args);
    (r, path)
}

struct Case {
    reason: &'static str,
    yaml: &'static str,
    line: usize,
    key: &'static str,
    says: &'static str,
}

const HEAD: &str = "environment: prod\nregion: us-east-1\n";

#[test]
fn bad_specs_fail_with_file_line_and_key() {
    let cases = [
        Case {
            reason: "unknown key, with the nearest valid one",
            yaml: "kms:\n  phi:\n    alias: alias/x\n    rotaton: false\n",
            line: 6,
            key: "kms.phi.rotaton",
            says: "did you mean `rotation`",
        },
        Case {
            reason: "wrong type",
            yaml: "kms:\n  phi:\n    alias: alias/x\n    rotation: often\n",
            line: 6,
            key: "kms.phi",
            says: "rotation",
        },
        Case {
            reason: "dangling reference in a template",
            yaml: "kms:\n  phi:\n    alias: alias/x\n    description: \"{{ kms.nope.arn }}\"\n",
            line: 6,
            key: "kms.phi.description",
            says: "kms.nope",
        },
        Case {
            reason: "template syntax error",
            yaml: "kms:\n  phi:\n    alias: alias/x\n    description: \"{{ vars.x \"\n",
            line: 6,
            key: "kms.phi.description",
            says: "template",
        },
        Case {
            reason: "missing template file",
            yaml: "kms:\n  phi:\n    alias: alias/x\n    policy: ../policies/nope.json.tera\n",
            line: 6,
            key: "kms.phi.policy",
            says: "nope.json.tera",
        },
        Case {
            reason: "two keys with one alias",
            yaml: "kms:\n  a:\n    alias: alias/same\n  b:\n    alias: alias/same\n",
            line: 7,
            key: "kms.b.alias",
            says: "kms.a",
        },
        Case {
            reason: "value out of range",
            yaml: "kms:\n  phi:\n    alias: alias/x\n    deletion_window_days: 3\n",
            line: 6,
            key: "kms.phi.deletion_window_days",
            says: "7 to 30",
        },
        Case {
            reason: "dangling reference to a key",
            yaml: "kms:\n  phi:\n    alias: alias/x\ns3:\n  models:\n    name: my-models-bucket\n    kms_key: pii\n",
            line: 9,
            key: "s3.models.kms_key",
            says: "pii",
        },
        Case {
            reason: "two buckets with one name",
            yaml: "kms:\n  phi:\n    alias: alias/x\ns3:\n  a:\n    name: \"{{ environment }}-same\"\n    kms_key: phi\n  b:\n    name: prod-same\n    kms_key: phi\n",
            line: 11,
            key: "s3.b.name",
            says: "s3.a",
        },
        Case {
            reason: "dangling reference in a policy template",
            yaml: "kms:\n  phi:\n    alias: alias/x\niam:\n  r:\n    name: R\n    trust: [sagemaker.amazonaws.com]\n    policies:\n      p: ../policies/sagemaker-execution.json.tera\n",
            line: 11,
            key: "iam.r.policies.p",
            says: "s3",
        },
        Case {
            reason: "unknown top-level section",
            yaml: "kmss:\n  phi:\n    alias: alias/x\n",
            line: 3,
            key: "kmss",
            says: "did you mean `kms`",
        },
    ];
    for c in cases {
        for cmd in ["validate", "plan", "apply"] {
            let (r, path) = run(cmd, &format!("{HEAD}{}", c.yaml));
            let ctx = format!("{} ({cmd}):\n{}", c.reason, r.stderr);
            assert_eq!(r.code, 1, "{ctx}");
            let want = format!("{path}:{}:", c.line);
            assert!(r.stderr.contains(&want), "want {want}: {ctx}");
            assert!(r.stderr.contains(c.key), "want key {}: {ctx}", c.key);
            assert!(r.stderr.contains(c.says), "want {:?}: {ctx}", c.says);
            assert!(!r.stderr.contains("panicked"), "{ctx}");
            assert!(!r.stderr.contains("DispatchFailure"), "no AWS call: {ctx}");
            let first = r.stderr.lines().find(|l| l.starts_with("error:"));
            assert!(
                first.is_some_and(|l| l.contains(&want)),
                "the first error is the one located: {ctx}"
            );
            assert!(r.stdout.is_empty(), "{ctx}");
        }
    }
}

#[test]
fn a_missing_spec_file_is_a_clear_error() {
    let r = novactl(None, &["plan", "-e", "/nonexistent/spec.yaml"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("/nonexistent/spec.yaml"), "{}", r.stderr);
    let r = novactl(None, &["plan"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--env"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_1_never_2() {
    // Exit 2 means "changes pending" to `plan --detailed-exitcode` callers.
    let r = novactl(None, &["plan", "--detailed-exitcode", "--no-such-flag"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);
    let r = novactl(None, &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("plan"), "{}", r.stdout);
}

#[test]
fn the_shipped_environments_validate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for env in ["prod", "local"] {
        let f = root.join(format!("environments/{env}.yaml"));
        let r = novactl(None, &["validate", "-e", f.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{env}: {}", r.stderr);
        assert!(r.stdout.contains("valid"), "{}", r.stdout);
    }
}

/// Error lines of `validate` on `yaml` (one per error, `file:line:col: key: message`).
fn error_lines(yaml: &str) -> Vec<String> {
    let (r, path) = run("validate", yaml);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.stderr
        .lines()
        .filter(|l| l.contains(&path))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_misspelt_key_of_the_file_is_reported_in_one_run() {
    let yaml = "environment: prod\nregion: us-east-1\nvras:\n  a: 1\nkms:\n  phi:\n    alias: alias/x\n    descripton: d\n    rotaton: true\ns3:\n  data:\n    name: b\n    kms_kye: phi\n    versoning: true\nsns:\n  t:\n    name: t\n    tgas: {}\n";
    let lines = error_lines(yaml);
    let want = [
        (3, "vras", "vars"),
        (8, "kms.phi.descripton", "description"),
        (9, "kms.phi.rotaton", "rotation"),
        (13, "s3.data.kms_kye", "kms_key"),
        (14, "s3.data.versoning", "versioning"),
        (18, "sns.t.tgas", "tags"),
    ];
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for ((line, key, mean), got) in want.iter().zip(&lines) {
        assert!(got.contains(&format!(":{line}:")), "{line} in {got}");
        assert!(
            got.contains(&format!("{key}: unknown key")),
            "{key} in {got}"
        );
        assert!(
            got.contains(&format!("did you mean `{mean}`")),
            "{mean} in {got}"
        );
    }
}

#[test]
fn every_wrong_type_of_the_file_is_reported_in_one_run() {
    let yaml = "environment: prod\nregion: us-east-1\nkms:\n  phi:\n    alias: alias/x\n    rotation: often\ns3:\n  data:\n    name: b\n    kms_key: phi\n    versioning: sometimes\nsagemaker:\n  endpoints:\n    e:\n      name: e\n      model: m\n      instance_type: ml.m5.large\n      instance_count: many\n";
    let lines = error_lines(yaml);
    let want = [
        (6, "kms.phi.rotation"),
        (11, "s3.data.versioning"),
        (18, "sagemaker.endpoints.e.instance_count"),
    ];
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for ((line, key), got) in want.iter().zip(&lines) {
        assert!(got.contains(&format!(":{line}:")), "{line} in {got}");
        assert!(
            got.contains(&format!("{key}: invalid type")),
            "{key} in {got}"
        );
    }
}

/// Issue 19: what the first plan would refuse, `validate` refuses, offline and located: each
/// case fails `validate`, `check`, `permissions` and `plan` with exit 1, `file:line:` of the
/// key in its first error line, the rule or nearest valid value, and no AWS call.
#[test]
fn validation_is_complete_offline() {
    struct Gap {
        reason: &'static str,
        yaml: String,
        files: Vec<(&'static str, &'static str)>,
        line: usize,
        says: &'static [&'static str],
    }
    let waive = |rule: &str, address: &str| {
        format!(
            "environment: prod\nregion: us-east-1\ncheck:\n  waive:\n    - rule: {rule}\n      \
             address: {address}\n      reason: pilot\nkms:\n  phi:\n    alias: alias/x\n"
        )
    };
    let dr = "dr:\n  region: us-west-2\n  replicate:\n    kms: [phi]\n";
    let gaps = vec![
        Gap {
            reason: "misspelt region (with an endpoint override)",
            yaml: "environment: prod\nregion: us-esat-1\nkms:\n  phi:\n    alias: alias/x\n".into(),
            files: vec![],
            line: 2,
            says: &["us-esat-1", "did you mean us-east-1", "NOVACTL_EXTRA_REGIONS"],
        },
        Gap {
            reason: "misspelt DR region",
            yaml: format!(
                "{HEAD}kms:\n  phi:\n    alias: alias/x\n{}",
                dr.replace("us-west-2", "us-wset-2")
            ),
            files: vec![],
            line: 7,
            says: &["dr.region", "did you mean us-west-2"],
        },
        Gap {
            reason: "undefined variable in an inline template",
            yaml: format!(
                "{HEAD}vars:\n  project: p\nkms:\n  phi:\n    alias: \"alias/{{{{ vars.projct }}}}\"\n"
            ),
            files: vec![],
            line: 7,
            says: &["kms.phi.alias", "`vars.projct` is not defined", "did you mean `vars.project`"],
        },
        Gap {
            reason: "undefined variable in a template file",
            yaml: format!(
                "{HEAD}vars:\n  project: p\nkms:\n  phi:\n    alias: alias/x\n    policy: ../policies/typo.json.tera\n"
            ),
            files: vec![(
                "policies/typo.json.tera",
                "{\n  \"Version\": \"2012-10-17\",\n  \"Id\": \"{{ vars.projcet }}\"\n}\n",
            )],
            line: 8,
            says: &["kms.phi.policy", "typo.json.tera", "line 3", "did you mean `vars.project`"],
        },
        Gap {
            reason: "waiver for an address not in the spec",
            yaml: waive("NOVA-KMS-001", "kms.ph"),
            files: vec![],
            line: 6,
            says: &["check.waive.0.address", "kms.ph", "did you mean `kms.phi`"],
        },
        Gap {
            reason: "waiver for a DR twin that does not exist",
            yaml: waive("NOVA-KMS-001", "dr.kms.phi"),
            files: vec![],
            line: 6,
            says: &["check.waive.0.address", "dr.kms.phi", "did you mean `kms.phi`"],
        },
        Gap {
            reason: "waiver for a rule that does not exist",
            yaml: waive("NOVA-KMS-01", "kms.phi"),
            files: vec![],
            line: 5,
            says: &["check.waive.0.rule", "NOVA-KMS-01", "did you mean `NOVA-KMS-001`"],
        },
        Gap {
            reason: "a logical name with a dot",
            yaml: format!("{HEAD}kms:\n  a.b:\n    alias: alias/x\n"),
            files: vec![],
            line: 4,
            says: &["`a.b` holds `.`", "lower-case letter"],
        },
        Gap {
            reason: "an empty logical name",
            yaml: format!("{HEAD}kms:\n  \"\":\n    alias: alias/x\n"),
            files: vec![],
            line: 4,
            says: &["is empty", "lower-case letter"],
        },
        Gap {
            reason: "a logical name with capitals",
            yaml: format!("{HEAD}kms:\n  phi:\n    alias: alias/x\ns3:\n  Models:\n    name: n-models-x\n    kms_key: phi\n"),
            files: vec![],
            line: 7,
            says: &["s3.Models", "starts with `M`"],
        },
    ];
    let waiver_ok = waive("NOVA-KMS-001", "dr.kms.phi").replace("kms:\n", &format!("{dr}kms:\n"));
    for g in gaps {
        let p = Project::new(&g.yaml);
        for (rel, text) in &g.files {
            std::fs::write(p.path(rel), text).unwrap();
        }
        let path = p.spec.to_str().unwrap().to_string();
        for cmd in ["validate", "check", "permissions", "plan"] {
            let r = novactl(
                None,
                &[cmd, "-e", &path, "--endpoint-url", "http://127.0.0.1:9"],
            );
            let ctx = format!("{} ({cmd}):\n{}", g.reason, r.stderr);
            assert_eq!(r.code, 1, "{ctx}");
            let first = r.stderr.lines().find(|l| l.starts_with("error:"));
            let want = format!("{path}:{}:", g.line);
            assert!(
                first.is_some_and(|l| l.contains(&want)),
                "want {want}: {ctx}"
            );
            for s in g.says {
                assert!(r.stderr.contains(s), "want {s:?}: {ctx}");
            }
            for never in ["__tera", "panicked", "DispatchFailure", "Failed to render"] {
                assert!(!r.stderr.contains(never), "{never}: {ctx}");
            }
            assert!(r.stdout.is_empty(), "{ctx}");
        }
    }
    // A waiver of a DR twin that exists is valid; an unknown region is allowed by the escape.
    let p = Project::new(&waiver_ok);
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = Project::new("environment: prod\nregion: mars-north-9\n");
    let spec = p.spec.to_str().unwrap();
    novactl(None, &["validate", "-e", spec]).expect_code(1);
    let r = common::novactl_env(
        None,
        &["validate", "-e", spec],
        &[("NOVACTL_EXTRA_REGIONS", "mars-north-9")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `--target` and `--adopt` name addresses of the spec: another is refused before any AWS
/// call, with the nearest address.
#[test]
fn a_target_or_adoption_not_in_the_spec_is_refused_offline() {
    let p = Project::new(&format!("{HEAD}kms:\n  phi:\n    alias: alias/x\n"));
    let path = p.spec.to_str().unwrap().to_string();
    for (cmd, flag) in [
        ("plan", "--target"),
        ("plan", "--adopt"),
        ("apply", "--target"),
        ("apply", "--adopt"),
    ] {
        let mut args = vec![cmd, "-e", &path, "--endpoint-url", "http://127.0.0.1:9"];
        if cmd == "apply" {
            args.push("--auto-approve");
        }
        args.extend([flag, "kms.ph"]);
        let r = novactl(None, &args);
        let ctx = format!("{cmd} {flag}:\n{}", r.stderr);
        assert_eq!(r.code, 1, "{ctx}");
        assert!(
            r.stderr
                .contains(&format!("{flag} kms.ph: no such resource")),
            "{ctx}"
        );
        assert!(r.stderr.contains("did you mean `kms.phi`"), "{ctx}");
        assert!(
            !r.stderr.contains("DispatchFailure") && !r.stderr.contains("127.0.0.1:9"),
            "{ctx}"
        );
    }
}

/// `fmt` keeps a byte-order mark where it is and normalises the spacing after a key.
#[test]
fn fmt_keeps_a_bom_and_normalises_spacing() {
    let body = format!("{HEAD}kms:\n  phi:\n    alias: alias/x   # the key\n");
    let p = Project::new(&format!("\u{feff}{body}"));
    let spec = p.spec.to_str().unwrap().to_string();
    novactl(None, &["validate", "-e", &spec]).expect_code(0);
    novactl(None, &["fmt", "--check", "-e", &spec]).expect_code(0);
    novactl(None, &["fmt", "-e", &spec]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(&p.spec).unwrap(),
        format!("\u{feff}{body}")
    );
    let spaced = body
        .replace("region: ", "region:     ")
        .replace("alias: ", "alias:    ");
    p.write_spec(&spaced);
    let r = novactl(None, &["fmt", "--check", "-e", &spec]).expect_code(1);
    assert!(r.stdout.contains("region:     us-east-1"), "{}", r.stdout);
    novactl(None, &["fmt", "-e", &spec]).expect_code(0);
    assert_eq!(std::fs::read_to_string(&p.spec).unwrap(), body);
}

/// A reference inside a template file (a dashboard's body) is a graph edge.
#[test]
fn a_dashboard_template_reference_is_a_graph_edge() {
    let p = Project::new(&format!(
        "{HEAD}kms:\n  k:\n    alias: alias/x\ns3:\n  data:\n    name: x-data-bucket-1\n    kms_key: k\n\
         cloudwatch:\n  dashboards:\n    d:\n      name: d\n      template: ../templates/d.json.tera\n"
    ));
    std::fs::write(
        p.path("templates/d.json.tera"),
        "{\"widgets\": [{\"type\": \"text\", \"x\": 0, \"y\": 0, \"width\": 6, \"height\": 3, \
         \"properties\": {\"markdown\": \"{{ s3.data.name }}\"}}]}\n",
    )
    .unwrap();
    let r = novactl(None, &["graph", "-e", p.spec.to_str().unwrap()]).expect_code(0);
    assert!(
        r.stdout
            .contains("\"cloudwatch_dashboard.d\" -> \"s3.data\""),
        "{}",
        r.stdout
    );
    std::fs::write(
        p.path("templates/d.json.tera"),
        "{\"widgets\": [{\"type\": \"text\", \"x\": 0, \"y\": 0, \"width\": 6, \"height\": 3, \
         \"properties\": {\"markdown\": \"x\"}}]}\n",
    )
    .unwrap();
    let r = novactl(None, &["graph", "-e", p.spec.to_str().unwrap()]).expect_code(0);
    assert!(
        !r.stdout
            .contains("\"cloudwatch_dashboard.d\" -> \"s3.data\""),
        "{}",
        r.stdout
    );
}

/// The starter stack passes its own `check`; every spec `init` writes carries the schema line.
#[test]
fn init_writes_specs_that_pass_check_and_name_the_schema() {
    for example in [None, Some("seed")] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let args: Vec<&str> = match example {
            None => vec!["init", d],
            Some(e) => vec!["init", "--example", e, d],
        };
        novactl(None, &args).expect_code(0);
        let envs = dir.path().join("environments");
        for f in std::fs::read_dir(&envs).unwrap().flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap();
            assert!(
                text.starts_with("# yaml-language-server: $schema=../novactl.schema.json\n"),
                "{}",
                f.path().display()
            );
        }
        if example.is_none() {
            let spec = envs.join("dev.yaml");
            let r = novactl(None, &["check", "-e", spec.to_str().unwrap()]);
            assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        }
    }
}
