//! SIGINT and SIGTERM during a whole-stack apply, at several moments (the emulator's `--delay`
//! slows S3 so that a signal lands while buckets are being configured): exit 130, a summary
//! on stderr, the audit record marked interrupted, the lock released, every bucket that exists
//! fully configured (after one signal), and the next apply converges.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    assert_bucket_configured, assert_no_changes, local_spec, novactl, novactl_bin, resource_count,
    Emulator, Project, Run, LOCAL_BUCKETS,
};
use serde_json::{json, Value};

/// When to signal: once stderr has a line containing `after` (when `None`: once the emulator
/// got the run's first KMS request, which is in the plan), send each of `signals` (100 ms
/// apart).
struct Moment {
    why: &'static str,
    after: Option<&'static str>,
    signals: &'static [&'static str],
    /// Per-service delays (ms) while the interrupted run runs.
    delays: Value,
}

/// Runs `apply` on `p`, signalling at `m`; returns the run and how long the signal took to end
/// it.
fn interrupted_apply(emu: &Emulator, p: &Project, m: &Moment) -> (Run, Duration) {
    let mut child = Command::new(novactl_bin())
        .args(["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"])
        .arg("--endpoint-url")
        .arg(&emu.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("NOVACTL_FAIL_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::null()) // nobody reads the plan: a full pipe would block the apply
        .stderr(Stdio::piped())
        .spawn()
        .expect("start novactl");
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    match m.after {
        None => wait_for_kms(emu),
        Some(after) => {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let line = rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .unwrap_or_else(|_| panic!("{}: never saw {after:?}", m.why));
                if line.contains(after) {
                    break;
                }
            }
        }
    }
    let signalled = Instant::now();
    for (i, sig) in m.signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{sig} {pid}");
    }
    let out = child.wait_with_output().expect("novactl ends");
    let took = signalled.elapsed();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: reader.join().unwrap(),
    };
    (run, took)
}

/// Waits until the emulator has counted a KMS request (counts reset by the caller).
fn wait_for_kms(emu: &Emulator) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while emu.faults(None)["by_service"]["kms"]["requests"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "no KMS request within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn last_audit(p: &Project) -> Value {
    let text = std::fs::read_to_string(p.path("environments/.novactl/local/audit.jsonl"))
        .expect("an audit record");
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

fn summary_counts(stderr: &str) -> (usize, usize, usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains("apply interrupted: "))
        .unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let n = |what: &str| -> usize {
        let before = line.split(what).next().unwrap();
        before
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        n(" finished"),
        n(" interrupted,"),
        n(" failed"),
        n(" never started"),
    )
}

#[tokio::test]
async fn interrupted_applies_stop_cleanly_and_the_next_apply_converges() {
    let emu = Emulator::start();
    let moments = [
        Moment {
            why: "SIGINT while buckets are being configured",
            after: Some("+ s3."),
            signals: &["INT"],
            delays: json!({"s3": 150}),
        },
        Moment {
            why: "SIGTERM (a CI cancel) after the roles started",
            after: Some("+ iam.sagemaker_execution ..."),
            signals: &["TERM"],
            delays: json!({"s3": 100, "sagemaker": 200}),
        },
        Moment {
            why: "SIGINT once the endpoint is being made",
            after: Some("+ sagemaker_endpoint.mentallama ..."),
            signals: &["INT"],
            delays: json!({"sagemaker": 200, "application-autoscaling": 200}),
        },
        Moment {
            why: "two SIGINTs: abort at once",
            after: Some("+ s3."),
            signals: &["INT", "INT"],
            delays: json!({"s3": 300}),
        },
    ];
    for m in &moments {
        emu.reset();
        emu.faults(Some(json!({ "delays": m.delays })));
        let p = Project::new(&local_spec());
        let path = p.spec.to_str().unwrap();
        let (run, took) = interrupted_apply(&emu, &p, m);
        emu.faults(Some(json!({"delays": {}})));
        let why = m.why;
        assert_eq!(run.code, 130, "{why}: exit 130\n{}", run.stderr);
        let aborted = m.signals.len() > 1;
        if aborted {
            assert!(run.stderr.contains("aborting now"), "{why}: {}", run.stderr);
            assert!(took < Duration::from_secs(3), "{why}: abort took {took:?}");
        } else if m.signals[0] == "INT" {
            assert!(
                run.stderr
                    .contains("SIGINT received: stopping after in-flight changes"),
                "{why}: {}",
                run.stderr
            );
        } else {
            assert!(
                run.stderr.contains("SIGTERM received"),
                "{why}: {}",
                run.stderr
            );
        }
        let (finished, cut, failed, never) = summary_counts(&run.stderr);
        assert_eq!(failed, 0, "{why}: {}", run.stderr);
        assert!(never > 0, "{why}: something never started: {}", run.stderr);
        assert_eq!(
            finished + cut + never,
            resource_count(&p),
            "{why}: {}",
            run.stderr
        );
        if aborted {
            assert!(
                cut > 0,
                "{why}: the buckets in flight were cut off: {}",
                run.stderr
            );
        }
        assert!(!run.stderr.contains("panicked"), "{why}: {}", run.stderr);

        // The audit record says so; the lock is released.
        let audit = last_audit(&p);
        assert_eq!(audit["interrupted"], true, "{why}: {audit}");
        assert_eq!(audit["exit_status"], 130, "{why}: {audit}");
        let results: Vec<&str> = audit["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["result"].as_str().unwrap())
            .collect();
        assert_eq!(
            results.iter().filter(|r| **r == "not-started").count(),
            never,
            "{why}: {audit}"
        );
        assert_eq!(results.iter().filter(|r| **r == "ok").count(), finished);
        assert!(
            !p.path("environments/.novactl/local/lock.json").exists(),
            "{why}: lock released"
        );

        // After one signal, every bucket that exists is fully configured.
        let s3 = emu.s3("us-east-1").await;
        let live: Vec<String> = s3
            .list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect();
        if !aborted {
            for b in &live {
                assert_bucket_configured(&s3, b).await;
            }
        }
        eprintln!(
            "{why}: exit 130 {took:?} after the signal; {finished} finished, {cut} interrupted, \
             {never} never started; {} bucket(s) live",
            live.len()
        );

        // The next apply converges: no lock to take over, everything made, then no changes.
        // An abort can cut a bucket off between CreateBucket and its tags (the emulator still
        // finishes a request whose client is gone): such a bucket plans as a conflict, and
        // `--adopt` (the documented recovery) takes it over.
        let mut args = vec!["apply", "-e", path, "--auto-approve"];
        let conflicts: Vec<String> = common::changes(&common::plan_json(&emu, &p))
            .into_iter()
            .filter(|(_, action, _)| action == "conflict")
            .map(|(address, _, _)| address)
            .collect();
        assert!(aborted || conflicts.is_empty(), "{why}: {conflicts:?}");
        for c in &conflicts {
            args.extend(["--adopt", c.as_str()]);
        }
        if !conflicts.is_empty() {
            eprintln!("{why}: adopted {conflicts:?}, cut off before their tags");
        }
        let next = novactl(Some(&emu), &args).expect_code(0);
        assert!(
            !next.stderr.contains("took over the lock"),
            "{why}: {}",
            next.stderr
        );
        assert_no_changes(&emu, path);
        for b in LOCAL_BUCKETS {
            assert_bucket_configured(&s3, b).await;
        }
    }
}

#[tokio::test]
async fn an_interrupted_plan_exits_130_and_changes_nothing() {
    let emu = Emulator::start_with(&["--delay", "kms=3000"]);
    let p = Project::new(&local_spec());
    // The plan's first KMS read waits 3 s: the signal lands while reading live state.
    emu.faults(Some(json!({"reset_counts": true})));
    let m = Moment {
        why: "SIGINT during the plan of an apply",
        after: None,
        signals: &["INT"],
        delays: json!({}),
    };
    let started = Instant::now();
    let (run, took) = interrupted_apply(&emu, &p, &m);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("interrupted while planning; nothing was changed"),
        "{}",
        run.stderr
    );
    assert!(
        took < Duration::from_millis(2500),
        "stopped at once: {took:?} (run {:?})",
        started.elapsed()
    );
    let audit = last_audit(&p);
    assert_eq!(audit["interrupted"], true, "{audit}");
    assert_eq!(audit["changes"], json!([]), "{audit}");

    // `plan` itself, the same way.
    emu.faults(Some(json!({"reset_counts": true})));
    let plan = Command::new(novactl_bin())
        .args([
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--endpoint-url",
            &emu.endpoint,
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_kms(&emu);
    Command::new("kill")
        .args(["-INT", &plan.id().to_string()])
        .status()
        .unwrap();
    let out = plan.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while planning; nothing was changed"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no plan printed");
    emu.faults(Some(json!({"delays": {}})));
    let s3 = emu.s3("us-east-1").await;
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    let kms = emu.kms("us-east-1").await;
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
}

/// Runs `novactl args` on a terminal (util-linux `script` gives it a pty), types Ctrl-C once
/// the output after the plan contains `after`, and returns (exit code, everything printed).
fn ctrl_c_on_a_terminal(emu: &Emulator, args: &[&str], after: &str) -> (i32, String) {
    use std::io::{Read, Write};
    let quoted: Vec<String> = std::iter::once(novactl_bin().display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .chain(["--endpoint-url".to_string(), emu.endpoint.clone()])
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let mut child = Command::new("script")
        .args(["-qefc", &quoted.join(" "), "/dev/null"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script` gives the run a terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let chunk = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("never saw {after:?}:\n{}", String::from_utf8_lossy(&seen)));
        seen.extend(chunk);
        let text = String::from_utf8_lossy(&seen);
        if text
            .rsplit("Plan: ")
            .next()
            .is_some_and(|t| t.contains(after))
        {
            break;
        }
    }
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let status = child.wait().expect("script ends");
    drop(child.stdin.take());
    reader.join().unwrap();
    while let Ok(chunk) = rx.try_recv() {
        seen.extend(chunk);
    }
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&seen).into_owned(),
    )
}

#[tokio::test]
async fn ctrl_c_on_a_terminal_at_the_prompt_and_during_apply() {
    let emu = Emulator::start_with(&["--delay", "s3=150"]);
    let p = Project::new(&local_spec());
    let path = p.spec.to_str().unwrap();
    let s3 = emu.s3("us-east-1").await;

    // At the confirmation prompt: nothing changed.
    let (code, out) = ctrl_c_on_a_terminal(&emu, &["apply", "-e", path], "Only 'yes'");
    assert_eq!(code, 130, "{out}");
    assert!(
        out.contains("stopping after in-flight changes (Ctrl-C again to abort)"),
        "{out}"
    );
    assert!(
        out.contains("interrupted at the confirmation prompt; nothing was changed"),
        "{out}"
    );
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());

    // During the apply: the key is done, buckets are in flight.
    let (code, out) = ctrl_c_on_a_terminal(
        &emu,
        &["apply", "-e", path, "--auto-approve"],
        "kms.phi: created",
    );
    assert_eq!(code, 130, "{out}");
    assert!(
        out.contains("stopping after in-flight changes (Ctrl-C again to abort)"),
        "{out}"
    );
    assert!(out.contains("apply interrupted: "), "{out}");
    assert!(!out.contains("panicked"), "{out}");
    emu.faults(Some(json!({"delays": {}})));
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        assert_bucket_configured(&s3, b.name().unwrap()).await;
    }
    novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]).expect_code(0);
    assert_no_changes(&emu, path);
}
