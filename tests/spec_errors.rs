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
