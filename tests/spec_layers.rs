//! Layered specs: `extend:`, `render`, origins of errors, `--var` / `NOVACTL_VAR_*`, stdin.
//! No AWS call anywhere here (AWS points at a closed port).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{novactl, novactl_command, novactl_env, Project};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap()
}

#[test]
fn the_shipped_overlays_render_to_the_full_specs_they_replace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (overlay, full) in [("prod", "prod-full"), ("local", "local-full")] {
        let spec = root.join(format!("environments/{overlay}.yaml"));
        let lines = std::fs::read_to_string(&spec).unwrap().lines().count();
        assert!(
            lines < 30,
            "{overlay}.yaml is a short overlay ({lines} lines)"
        );
        let r = novactl(None, &["render", "-e", s(&spec)]).expect_code(0);
        let want =
            std::fs::read_to_string(root.join(format!("tests/fixtures/shipped/{full}.yaml")))
                .unwrap();
        assert_eq!(yaml(&r.stdout), yaml(&want), "{overlay}:\n{}", r.stdout);
        novactl(None, &["validate", "-e", s(&spec)]).expect_code(0);
    }
    // The base is not an environment: it renders, and validate says what it lacks.
    let base = root.join("environments/base.yaml");
    let r = novactl(None, &["render", "-e", s(&base)]).expect_code(0);
    assert!(!yaml(&r.stdout)
        .as_mapping()
        .unwrap()
        .contains_key("environment"));
    let r = novactl(None, &["validate", "-e", s(&base)]).expect_code(1);
    assert!(r.stderr.contains("environment"), "{}", r.stderr);
}

/// A project with `base.yaml` beside the spec.
fn layered(base: &str, top: &str) -> Project {
    let p = Project::new(top);
    std::fs::write(p.spec.parent().unwrap().join("base.yaml"), base).unwrap();
    p
}

const BASE: &str = "region: us-east-1\nvars:\n  project: nova\n  team: ml\nkms:\n  data:\n    alias: alias/{{ vars.project }}-data\ns3:\n  data:\n    name: \"{{ vars.project }}-{{ environment }}-data\"\n    kms_key: data\n    versioning: true\n";

#[test]
fn render_merges_and_show_origin_names_file_and_line() {
    let p = layered(
        BASE,
        "extend: base.yaml\nenvironment: dev\ns3:\n  data:\n    versioning: null\n    force_destroy: true\n",
    );
    let r = novactl(None, &["render", "-e", s(&p.spec)]).expect_code(0);
    let v = yaml(&r.stdout);
    assert_eq!(v["environment"], yaml("dev"));
    assert_eq!(v["s3"]["data"]["kms_key"], yaml("data"));
    assert_eq!(v["s3"]["data"]["force_destroy"], yaml("true"));
    assert!(v["s3"]["data"].get("versioning").is_none(), "{}", r.stdout);
    assert!(v.get("extend").is_none(), "{}", r.stdout);
    // `fmt`'s order: environment before region, whatever the files said.
    assert!(
        r.stdout.find("environment:") < r.stdout.find("region:"),
        "{}",
        r.stdout
    );
    let r = novactl(None, &["render", "--show-origin", "-e", s(&p.spec)]).expect_code(0);
    let line_of = |key: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("{key} in\n{}", r.stdout))
            .to_string()
    };
    assert!(line_of("region:").ends_with("base.yaml:1"), "{}", r.stdout);
    assert!(
        line_of("kms_key:").ends_with("base.yaml:11"),
        "{}",
        r.stdout
    );
    assert!(
        line_of("force_destroy:").ends_with("test.yaml:6"),
        "{}",
        r.stdout
    );
    // Still valid YAML with the comments.
    assert_eq!(yaml(&r.stdout), v);
}

#[test]
fn an_error_in_a_base_points_at_the_base_and_missing_or_cyclic_bases_at_extend() {
    let base = BASE.replace("versioning: true", "versioning: sometimes");
    let p = layered(&base, "environment: dev\nextend: base.yaml\n");
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(
        r.stderr.contains("base.yaml:12") && r.stderr.contains("s3.data.versioning"),
        "{}",
        r.stderr
    );
    // A dangling reference found after parsing, in the base: located there too.
    let base = BASE.replace("kms_key: data", "kms_key: nope");
    let p = layered(&base, "environment: dev\nextend: base.yaml\n");
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(r.stderr.contains("base.yaml:11"), "{}", r.stderr);

    let p = layered(
        BASE,
        "environment: dev\nextend:\n  - base.yaml\n  - missing.yaml\n",
    );
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(
        r.stderr.contains("test.yaml:4") && r.stderr.contains("missing.yaml"),
        "{}",
        r.stderr
    );
    let p = layered(
        "extend: test.yaml\n",
        "environment: dev\nextend: base.yaml\n",
    );
    let r = novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(1);
    assert!(r.stderr.contains("cycle"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn merge_keys_and_x_keys_are_accepted() {
    let p = Project::new(
        "environment: dev\nregion: us-east-1\nx-bucket: &bucket\n  kms_key: data\n  versioning: true\nkms:\n  data:\n    alias: alias/d\ns3:\n  a:\n    <<: *bucket\n    name: dev-a-bucket\n  b:\n    <<: *bucket\n    name: dev-b-bucket\n",
    );
    novactl(None, &["validate", "-e", s(&p.spec)]).expect_code(0);
    let r = novactl(None, &["render", "-e", s(&p.spec)]).expect_code(0);
    let v = yaml(&r.stdout);
    assert_eq!(v["s3"]["b"]["kms_key"], yaml("data"));
    assert!(v.get("x-bucket").is_none(), "{}", r.stdout);
}

#[test]
fn var_flag_beats_environment_beats_file() {
    let p = layered(
        BASE,
        "extend: base.yaml\nenvironment: dev\nvars:\n  team: web\n",
    );
    let r = novactl_env(
        None,
        &[
            "render",
            "-e",
            s(&p.spec),
            "--var",
            "project=flagged",
            "--show-origin",
        ],
        &[
            ("NOVACTL_VAR_project", "from-env"),
            ("NOVACTL_VAR_extra", "e"),
        ],
    )
    .expect_code(0);
    let v = yaml(&r.stdout);
    assert_eq!(v["vars"]["project"], yaml("flagged"), "{}", r.stdout);
    assert_eq!(v["vars"]["extra"], yaml("e"));
    assert_eq!(v["vars"]["team"], yaml("web"));
    assert!(r.stdout.contains("# --var project"), "{}", r.stdout);
    assert!(r.stdout.contains("# NOVACTL_VAR_extra"), "{}", r.stdout);
    // The environment beats the file; and every command that loads a spec honours it.
    let r = novactl_env(
        None,
        &["render", "-e", s(&p.spec)],
        &[("NOVACTL_VAR_team", "ops")],
    )
    .expect_code(0);
    assert_eq!(yaml(&r.stdout)["vars"]["team"], yaml("ops"));
    let r = novactl(
        None,
        &["permissions", "-e", s(&p.spec), "--var", "project=zeta"],
    )
    .expect_code(0);
    assert!(r.stdout.contains("zeta-dev-data"), "{}", r.stdout);
    // A malformed --var is a usage error (exit 1 like every usage error: 2 means "changes").
    for bad in ["novalue", "=x", "9a=b", "a.b=c"] {
        let r = novactl(None, &["render", "-e", s(&p.spec), "--var", bad]).expect_code(1);
        assert!(r.stderr.contains("--var"), "{bad}: {}", r.stderr);
    }
}

#[test]
fn the_spec_can_come_from_stdin_with_bases_relative_to_the_current_directory() {
    let p = layered(BASE, "unused: x\n");
    let dir = p.spec.parent().unwrap();
    for name in ["-", "/dev/stdin"] {
        let mut child = novactl_command(None, &["render", "-e", name], &[])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"extend: base.yaml\nenvironment: piped\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = yaml(&text);
        assert_eq!(v["environment"], yaml("piped"));
        assert_eq!(v["vars"]["team"], yaml("ml"));
    }
}

#[test]
fn check_findings_point_at_the_base_the_value_came_from() {
    let base = BASE.replace("versioning: true", "versioning: false");
    let p = layered(&base, "extend: base.yaml\nenvironment: dev\n");
    let spec = s(&p.spec);
    let r = novactl(
        None,
        &["check", "-e", spec, "--endpoint-url", "http://127.0.0.1:9"],
    )
    .expect_code(3);
    assert!(
        r.stdout.contains("base.yaml:12 (s3.data.versioning)"),
        "{}",
        r.stdout
    );
    let r = novactl(
        None,
        &[
            "check",
            "-e",
            spec,
            "--format",
            "sarif",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
    )
    .expect_code(3);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let hit = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ruleId"] == "NOVA-S3-003")
        .expect("the versioning finding");
    let loc = &hit["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("base.yaml"),
        "{loc}"
    );
    assert_eq!(loc["region"]["startLine"], 12);
}
