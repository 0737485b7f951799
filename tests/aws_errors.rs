//! AWS failures through the binary: one line each with the operation, a code, the message and a
//! hint, never an SDK debug structure; exit 1.

mod common;

use std::process::{Command, Stdio};

use common::{novactl, novactl_bin, novactl_env, Emulator, Project, Run};
use serde_json::json;

const SPEC: &str =
    "environment: errs\nregion: us-east-1\nkms:\n  k: { alias: alias/errs-k }\ns3:\n  \
                    b:\n    name: novactl-errs-bucket\n    kms_key: k\n";

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The stderr of a failed run is one `error:` line, with no SDK internals in it.
fn one_error_line(r: &Run) -> &str {
    assert_eq!(r.code, 1, "exit 1\n{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line:\n{}", r.stderr);
    for leak in [
        "DispatchFailure {",
        "ConnectorError",
        "Some(",
        "source:",
        "Os {",
        "panicked",
    ] {
        assert!(!r.stderr.contains(leak), "no {leak} in:\n{}", r.stderr);
    }
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    lines[0]
}

#[test]
fn no_credentials_says_where_it_looked_and_what_to_set() {
    let p = Project::new(SPEC);
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(novactl_bin())
        .args(["plan", "-e", p.spec.to_str().unwrap()])
        .arg("--endpoint-url")
        .arg(format!("http://127.0.0.1:{}", closed_port()))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let line = one_error_line(&r);
    for want in [
        "sts:GetCallerIdentity failed: NoCredentials: no AWS credentials found",
        "environment (AWS_ACCESS_KEY_ID not set)",
        "profile `default`",
        "EC2 instance metadata (off: AWS_EC2_METADATA_DISABLED=true)",
        "hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        "--profile or AWS_PROFILE",
    ] {
        assert!(line.contains(want), "{want:?} in {line}");
    }
}

#[test]
fn a_closed_port_names_the_endpoint_and_where_it_came_from() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let p = Project::new(SPEC);
    let spec = p.spec.to_str().unwrap();
    let flag = novactl_env(None, &["plan", "-e", spec, "--endpoint-url", &url], &[]);
    let env = novactl_env(None, &["plan", "-e", spec], &[("AWS_ENDPOINT_URL", &url)]);
    let in_spec = Project::new(&format!("{SPEC}endpoint_url: {url}\n"));
    let from_spec = novactl(None, &["plan", "-e", in_spec.spec.to_str().unwrap()]);
    for (r, source) in [
        (&flag, "--endpoint-url".to_string()),
        (&env, "AWS_ENDPOINT_URL".to_string()),
        (
            &from_spec,
            format!("endpoint_url in {}", in_spec.spec.display()),
        ),
    ] {
        let line = one_error_line(r);
        let want = format!(
            "sts:GetCallerIdentity failed: ConnectionRefused: cannot reach {url}: connection \
             refused; hint: the endpoint {url} comes from {source}; is anything listening there?"
        );
        assert!(line.ends_with(&want), "{line}\nwanted {want}");
    }
}

#[test]
fn an_unknown_region_is_refused_at_its_key_before_any_call() {
    // No endpoint override: the spec's region would be AWS's own. Nothing is sent anywhere.
    let p = Project::new(&SPEC.replace("us-east-1", "us-esat-1"));
    let r = novactl(None, &["plan", "-e", p.spec.to_str().unwrap()]);
    let line = one_error_line(&r);
    assert!(
        line.contains(&format!("{}:2:", p.spec.display())),
        "file:line: {line}"
    );
    assert!(line.contains("region: `us-esat-1` is not an AWS region; did you mean us-east-1"));
    assert!(line.contains("NOVACTL_EXTRA_REGIONS=us-esat-1"), "{line}");
    assert!(!line.contains("AWS calls"), "{line}");
    // A region allowed explicitly goes on to the (here closed) endpoint of that region.
    let r = novactl_env(
        None,
        &["plan", "-e", p.spec.to_str().unwrap()],
        &[
            ("NOVACTL_EXTRA_REGIONS", "us-esat-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
    );
    assert!(
        one_error_line(&r).contains("ConnectionRefused"),
        "{}",
        r.stderr
    );
}

#[test]
fn retries_exhausted_and_bad_settings() {
    let emu = Emulator::start();
    let p = Project::new(SPEC);
    let spec = p.spec.to_str().unwrap();

    // One throttled answer is retried away by default...
    emu.faults(Some(json!({"script": [
        {"service": "sts", "operation": "GetCallerIdentity", "kind": "throttle"}
    ]})));
    let ok = novactl(Some(&emu), &["plan", "-e", spec]).expect_code(0);
    assert!(ok.stderr.contains("; 1 was a retry)"), "{}", ok.stderr);

    // ... and is the error with --max-attempts 1 (no retries), with the hint to raise it.
    emu.faults(Some(json!({"script": [
        {"service": "sts", "operation": "GetCallerIdentity", "kind": "throttle"}
    ]})));
    let r = novactl(Some(&emu), &["plan", "-e", spec, "--max-attempts", "1"]);
    let line = one_error_line(&r);
    assert!(
        line.contains(
            "sts:GetCallerIdentity failed: Throttling: Rate exceeded (injected by the novactl \
             test emulator); hint: AWS kept throttling the call through 1 attempt \
             (--max-attempts); wait and run again, or raise --max-attempts"
        ),
        "{line}"
    );

    // S3 answers HEAD requests without a body: the status is the code, with a hint.
    emu.faults(Some(json!({"script": [
        {"service": "s3", "operation": "HeadBucket", "kind": "throttle", "times": 2}
    ]})));
    let r = novactl_env(
        Some(&emu),
        &["plan", "-e", spec],
        &[("AWS_MAX_ATTEMPTS", "2")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("s3.b:"))
        .unwrap_or_else(|| panic!("the bucket's line:\n{}", r.stderr));
    assert!(
        line.contains(
            "s3:HeadBucket failed: HTTP503: AWS answered HTTP 503 Service Unavailable with no \
             error body (HEAD answers carry none); hint: the service was throttling (S3 answers \
             SlowDown as 503) or unavailable through 2 attempts (AWS_MAX_ATTEMPTS)"
        ),
        "{line}"
    );
    assert!(!r.stderr.contains("Some("), "{}", r.stderr);

    // Bad retry settings are usage errors naming the setting (the SDK itself would panic).
    for (env, want) in [
        (
            ("AWS_MAX_ATTEMPTS", "potato"),
            "AWS_MAX_ATTEMPTS=potato: expected a whole number",
        ),
        (
            ("AWS_MAX_ATTEMPTS", "0"),
            "AWS_MAX_ATTEMPTS=0: at least 1 attempt",
        ),
        (
            ("AWS_RETRY_MODE", "eager"),
            "AWS_RETRY_MODE=eager: expected `standard` or `adaptive`",
        ),
    ] {
        let r = novactl_env(Some(&emu), &["plan", "-e", spec], &[env]);
        assert!(one_error_line(&r).contains(want), "{}", r.stderr);
    }
    let r = novactl(Some(&emu), &["plan", "-e", spec, "--max-attempts", "0"]);
    assert!(one_error_line(&r).contains("--max-attempts 0: at least 1 attempt"));
}
