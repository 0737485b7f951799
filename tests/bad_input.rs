//! Bad input fails at `validate`, before any AWS call, with a location: a table of inputs a
//! careless edit, a bad merge or a hostile file can produce. Each case runs the real binary
//! (AWS pointed at a closed port: an AWS call would show as a connection error) and must exit
//! 1 within a second with `file:line:` in its first error, and never panic.

mod common;

use std::time::{Duration, Instant};

use common::{novactl, Project};

const HEAD: &str = "environment: prod\nregion: us-east-1\n";

/// A spec body with one alarm whose fields are `fields` (YAML lines at alarm level).
fn alarm(fields: &str) -> String {
    let base = [
        ("name", "A"),
        ("namespace", "AWS/SageMaker"),
        ("metric", "ModelLatency"),
        ("statistic", "Average"),
        ("period", "60"),
        ("evaluation_periods", "5"),
        ("threshold", "100"),
        ("comparison", "GreaterThanThreshold"),
    ];
    let mut lines: Vec<String> = Vec::new();
    for (k, v) in base {
        if !fields
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{k}:")))
        {
            lines.push(format!("      {k}: {v}"));
        }
    }
    for l in fields.lines() {
        lines.push(format!("      {}", l.trim()));
    }
    format!("cloudwatch:\n  alarms:\n    a:\n{}\n", lines.join("\n"))
}

/// A spec body with a model and one endpoint whose extra fields are `fields`.
fn endpoint(fields: &str) -> String {
    let mut s = String::from(
        "kms:\n  phi: { alias: alias/p }\niam:\n  r: { name: R, trust: [sagemaker.amazonaws.com] }\n\
         sagemaker:\n  models:\n    m:\n      name: m\n      image: img\n      model_data: s3://b/m.tar.gz\n      role: r\n\
         \x20 endpoints:\n    e:\n      name: e\n      model: m\n      instance_type: ml.g5.2xlarge\n",
    );
    if !fields.contains("instance_count") {
        s.push_str("      instance_count: 1\n");
    }
    for l in fields.lines() {
        s.push_str(&format!("      {l}\n"));
    }
    s
}

fn kms(fields: &str) -> String {
    let mut s = String::from("kms:\n  phi:\n    alias: alias/p\n");
    for l in fields.lines() {
        s.push_str(&format!("    {l}\n"));
    }
    s
}

struct Case {
    reason: &'static str,
    /// The whole file when it starts with `environment:`, else a body after HEAD.
    yaml: String,
    /// Extra files (relative to the project root) written before the run.
    files: Vec<(&'static str, Vec<u8>)>,
    /// The first error is on the first line holding this text (`@N`: on line N).
    at: &'static str,
    /// Text the first error must contain.
    says: &'static str,
}

fn case(
    reason: &'static str,
    yaml: impl Into<String>,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        reason,
        yaml: yaml.into(),
        files: Vec::new(),
        at,
        says,
    }
}

/// The line `c.at` names in `text`.
fn line_of(c: &Case, text: &str) -> usize {
    if let Some(n) = c.at.strip_prefix('@') {
        return n.parse().unwrap();
    }
    text.lines()
        .position(|l| l.contains(c.at))
        .unwrap_or_else(|| panic!("{}: no line holds {:?}", c.reason, c.at))
        + 1
}

fn with_file(mut c: Case, path: &'static str, bytes: impl Into<Vec<u8>>) -> Case {
    c.files.push((path, bytes.into()));
    c
}

fn cases() -> Vec<Case> {
    let deep_brackets = format!(
        "vars:\n  x: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_maps = format!(
        "vars:\n  x: {}1{}\n",
        "{a: ".repeat(100_000),
        "}".repeat(100_000)
    );
    let mut deep_block = String::from("vars:\n");
    for i in 1..=100 {
        deep_block.push_str(&format!("{}k{i}:\n", " ".repeat(i * 2)));
    }
    deep_block.push_str(&format!("{}v\n", " ".repeat(202)));
    let laughs = {
        let mut s = String::from("vars:\n  a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (p, n) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            s.push_str(&format!(
                "  {n}: &{n} [{}]\n",
                vec![format!("*{p}"); 9].join(", ")
            ));
        }
        s
    };
    vec![
        case("threshold .nan", alarm("threshold: .nan"), "threshold:", "not a finite number"),
        case("threshold .inf", alarm("threshold: .inf"), "threshold:", "not a finite number"),
        case("threshold -.inf", alarm("threshold: -.Inf"), "threshold:", "not a finite number"),
        case("threshold too large for a double", alarm("threshold: 1e999"), "threshold:", "not a finite number"),
        case("NaN in vars", "vars:\n  x: .NaN\n", "x:", "not a finite number"),
        case(
            "target value .nan",
            endpoint("autoscaling: { min: 1, max: 2, target_invocations_per_instance: .nan }"),
            "autoscaling",
            "not a finite number",
        ),
        case(
            "target value 0",
            endpoint("autoscaling: { min: 1, max: 2, target_invocations_per_instance: 0 }"),
            "autoscaling",
            "target_invocations_per_instance",
        ),
        case("period 45", alarm("period: 45"), "period:", "10, 20, 30 or a multiple of 60"),
        case("period 0", alarm("period: 0"), "period:", "not a valid period"),
        case("evaluation_periods 0", alarm("evaluation_periods: 0"), "evaluation_periods:", "at least 1"),
        case(
            "evaluation window over a day",
            alarm("period: 60\nevaluation_periods: 1441"),
            "evaluation_periods:",
            "at most 86400",
        ),
        case(
            "evaluation window over a week",
            alarm("period: 3600\nevaluation_periods: 169"),
            "evaluation_periods:",
            "at most 604800",
        ),
        case("period larger than an i32", alarm("period: 99999999999"), "period:", "period"),
        case("deletion window 31 days", kms("deletion_window_days: 31"), "deletion_window_days", "7 to 30"),
        case("deletion window negative", kms("deletion_window_days: -1"), "deletion_window_days", "u32"),
        case("instance_count 0", endpoint("instance_count: 0"), "instance_count", "at least 1"),
        case(
            "sampling percent 101",
            "kms:\n  phi: { alias: alias/p }\ns3:\n  logs: { name: logs-bucket-x, kms_key: phi }\n"
                .to_string()
                + &endpoint("data_capture: { bucket: logs, sampling_percent: 101 }")
                    .replacen("kms:\n  phi: { alias: alias/p }\n", "", 1),
            "data_capture",
            "0 to 100",
        ),
        case("autoscaling min 0", endpoint("autoscaling: { min: 0, max: 2, target_invocations_per_instance: 5 }"), "autoscaling", "at least 1"),
        case("autoscaling max below min", endpoint("autoscaling: { min: 3, max: 2, target_invocations_per_instance: 5 }"), "autoscaling", "below min"),
        case(
            "negative cooldown",
            endpoint("autoscaling: { min: 1, max: 2, target_invocations_per_instance: 5, scale_in_cooldown: -5 }"),
            "autoscaling",
            "scale_in_cooldown",
        ),
        case("timeout 0 minutes", endpoint("timeout_minutes: 0"), "timeout_minutes", "1 to 1440"),
        case("timeout of years", endpoint("timeout_minutes: 99999999999"), "timeout_minutes", "1 to 1440"),
        case(
            "lifecycle expire_days 0",
            "kms:\n  phi: { alias: alias/p }\ns3:\n  b:\n    name: bucket-x1\n    kms_key: phi\n    lifecycle:\n      - { id: r, expire_days: 0 }\n",
            "expire_days",
            "greater than 0",
        ),
        case(
            "log retention 2 days",
            "kms:\n  phi: { alias: alias/p }\ns3:\n  t: { name: trail-bucket-x, kms_key: phi }\ncloudtrail:\n  c:\n    name: trail\n    bucket: t\n    log_group: /g\n    log_retention_days: 2\n",
            "log_retention_days",
            "nearest: 1",
        ),
        case("self-reference through a template", kms("description: \"{{ kms.phi.arn }}\""), "description", "reference cycle"),
        case(
            "cross-reference cycle",
            "kms:\n  a:\n    alias: alias/a\n    description: \"{{ kms.b.arn }}\"\n  b:\n    alias: alias/b\n    description: \"{{ kms.a.id }}\"\n",
            "description",
            "kms.a -> kms.b -> kms.a",
        ),
        with_file(
            case(
                "cycle through a policy template file",
                "kms:\n  a:\n    alias: alias/a\n    policy: ../policies/cyc.json.tera\n  b:\n    alias: alias/b\n    description: \"{{ kms.a.arn }}\"\n",
                "  a:",
                "reference cycle",
            ),
            "policies/cyc.json.tera",
            &b"{\"Statement\": [{\"Resource\": \"{{ kms.b.arn }}\"}]}"[..],
        ),
        case("two YAML documents", "kms: {}\n---\ns3: {}\n", "---", "second YAML document"),
        case("invalid UTF-8", "vars:\n  x: \"caf\u{FFFD}\"\n", "caf", "UTF-8"),
        with_file(
            case("invalid UTF-8 in a policy template", kms("policy: ../policies/bad.json.tera"), "policy:", "not UTF-8"),
            "policies/bad.json.tera",
            &b"{\"Version\": \"2012-10-17\", \"x\": \"\xff\"}"[..],
        ),
        case("policy path is /dev/zero", kms("policy: /dev/zero"), "policy:", "not a regular file"),
        case("policy path is a directory", kms("policy: ../policies"), "policy:", "a directory"),
        case("policy path is a FIFO", kms("policy: ../policies/fifo"), "policy:", "not a regular file"),
        with_file(
            case("policy template over 1 MiB", kms("policy: ../policies/big.json.tera"), "policy:", "larger than"),
            "policies/big.json.tera",
            vec![b' '; 1024 * 1024 + 1],
        ),
        case("100k nested brackets", deep_brackets, "x:", "deeper than 64"),
        case("100k nested flow maps", deep_maps, "x:", "deeper than 64"),
        case("100 nested block mappings", deep_block, "k64:", "deeper than 64"),
        case("alias expansion bomb", laughs, "@1", "repetition limit"),
        case("a key twice in one mapping", "kms:\n  a: { alias: alias/a }\n  a: { alias: alias/b }\n", "alias/b", "appears twice"),
        case("tab indentation", "kms:\n\ta: 1\n", "\ta", "cannot start any token"),
        case("empty file", "environment_missing: true\n".replace("environment_missing: true\n", ""), "@1", "missing field `environment`"),
        case("count larger than an i32", endpoint("instance_count: 2147483648"), "instance_count", "i32"),
        case(
            "moved: to an address the spec lacks",
            kms("deletion_window_days: 7") + "moved:\n  - from: kms.old\n    to: kms.phii\n",
            "to: kms.phii",
            "kms.phii is not in the spec",
        ),
        case(
            "moved: from is not an address",
            kms("deletion_window_days: 7") + "moved:\n  - { from: phi-old, to: kms.phi }\n",
            "from: phi-old",
            "not a resource address",
        ),
        case("several errors: the first in file order", kms("deletion_window_days: 99\ndescription: \"{{ nope }}\"") + "s3:\n  x: { name: UPPER, kms_key: phi }\n", "deletion_window_days", "7 to 30"),
    ]
}

#[test]
fn bad_input_fails_validate_fast_with_a_location() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut slowest = Duration::ZERO;
    for c in cases {
        let yaml = if c.yaml.starts_with("environment:") || c.yaml.is_empty() {
            c.yaml.clone()
        } else {
            format!("{HEAD}{}", c.yaml)
        };
        let p = Project::new("");
        // The invalid UTF-8 case writes its bytes itself: a Rust string cannot hold them.
        let bytes = if c.reason == "invalid UTF-8" {
            yaml.replace('\u{FFFD}', "\u{1}")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xe9 } else { b })
                .collect()
        } else {
            yaml.into_bytes()
        };
        std::fs::write(&p.spec, &bytes).unwrap();
        for (rel, content) in &c.files {
            std::fs::write(p.path(rel), content).unwrap();
        }
        if c.reason == "policy path is a FIFO" {
            let fifo = p.path("policies/fifo");
            let ok = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap();
            assert!(ok.success(), "mkfifo");
        }
        let path = p.spec.to_str().unwrap().to_string();
        let started = Instant::now();
        let r = novactl(
            None,
            &[
                "validate",
                "-e",
                &path,
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
        );
        let took = started.elapsed();
        slowest = slowest.max(took);
        let ctx = format!("{} ({took:?}):\n--- stderr\n{}", c.reason, r.stderr);
        assert_eq!(r.code, 1, "{ctx}");
        assert!(took < Duration::from_secs(1), "took {took:?}: {ctx}");
        let first = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line: {ctx}"));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let want = format!("error: {path}:{}:", line_of(&c, &text));
        assert!(first.starts_with(&want), "want {want}: {ctx}");
        assert!(first.contains(c.says), "want {:?}: {ctx}", c.says);
        assert!(!r.stderr.contains("panicked"), "{ctx}");
        assert!(!r.stderr.contains("DispatchFailure"), "no AWS call: {ctx}");
        assert!(r.stdout.is_empty(), "{ctx}");
    }
    eprintln!("slowest case: {slowest:?}");
}

#[test]
fn every_error_of_one_run_is_reported_in_file_order() {
    let yaml = format!(
        "{HEAD}kms:\n  a:\n    alias: alias/a\n    deletion_window_days: 99\n  b:\n    alias: nope\n\
         s3:\n  x: {{ name: UPPER, kms_key: a }}\n  y: {{ name: y-bucket-1, kms_key: missing }}\n"
    );
    let p = Project::new(&yaml);
    let path = p.spec.to_str().unwrap();
    let r = novactl(None, &["validate", "-e", path]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let located: Vec<usize> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("error: {path}:")))
        .map(|rest| rest.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(located, [6, 8, 10, 11], "{}", r.stderr);
    // Later stages (references, templates) run once these are fixed.
    let fixed = yaml
        .replace("99", "7")
        .replace("alias: nope", "alias: alias/b")
        .replace("UPPER", "x-bucket-1")
        .replace("kms_key: missing", "kms_key: b")
        + "sns:\n  t: { name: t, kms_key: \"{{ kms.zz.arn }}\" }\niam:\n  r: { name: R, trust: [x], description: \"{{ s3.nope.arn }}\" }\n";
    p.write_spec(&fixed);
    let r = novactl(None, &["validate", "-e", path]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .count(),
        2,
        "{}",
        r.stderr
    );
}

#[test]
fn a_spec_that_is_not_a_regular_file_or_too_large_is_refused() {
    for (path, says) in [("/dev/zero", "not a regular file"), ("/tmp", "a directory")] {
        let started = Instant::now();
        let r = novactl(None, &["validate", "-e", path]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    let p = Project::new(&format!("{HEAD}# {}\n", "x".repeat(1024 * 1024)));
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("larger than 1048576 bytes"),
        "{}",
        r.stderr
    );
}
