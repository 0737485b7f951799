//! Runs that race or die: two applies of one spec started together, ten times from empty, on
//! both backends (exactly one writes; the other is refused naming the holder, or with
//! `--lock-timeout` waits and finds "No changes."), and a whole-stack apply killed (SIGKILL) at
//! 20 random points, each followed by a plain re-apply that converges with no duplicate and
//! no orphan. Live state is read back with the SDK.
//!
//! Emulator patch used: `patch_s3_conditional_writes_atomic` (the S3 lock).

mod common;

use std::time::Duration;

use common::{
    assert_no_changes, assert_no_duplicates, census, inventory, novactl, novactl_command,
    open_intents, unique, Emulator, Project, Run,
};

const CALLER: &str = "arn:aws:sts::123456789012:user/moto";

fn pair_spec(env: &str, state_bucket: Option<&str>) -> String {
    let mut s = format!("environment: {env}\nregion: us-east-1\n");
    if let Some(b) = state_bucket {
        s.push_str(&format!("state:\n  s3:\n    bucket: {b}\n"));
    }
    let (a, b) = (unique("phi"), unique("logs"));
    s.push_str(&format!(
        "kms:\n  phi:\n    alias: alias/{a}\n    deletion_window_days: 7\n  logs:\n    alias: alias/{b}\n    deletion_window_days: 7\n"
    ));
    s
}

/// Both runs hold the lock for a second once they have it (`NOVACTL_PAUSE_AT`), so that the
/// two always overlap however the machine schedules them.
const HOLD: (&str, &str) = ("NOVACTL_PAUSE_AT", "lock.acquired:1");

#[tokio::test]
async fn two_applies_started_together_ten_times_exactly_one_writes() {
    let emu = Emulator::start();
    let bucket = unique("pairs");
    let mut bootstrapped = false;
    for round in 0..10 {
        let on_s3 = round % 2 == 1;
        let wait = round % 4 >= 2;
        let env = format!("pair{round}");
        let p = Project::new(&pair_spec(&env, on_s3.then_some(bucket.as_str())));
        let path = p.spec.to_str().unwrap();
        if on_s3 && !bootstrapped {
            novactl(Some(&emu), &["bootstrap", "-e", path]).expect_code(0);
            bootstrapped = true;
        }
        let mut args = vec!["apply", "-e", path, "--auto-approve"];
        if wait {
            args.extend(["--lock-timeout", "60s"]);
        }
        let children: Vec<_> = (0..2)
            .map(|_| novactl_command(Some(&emu), &args, &[HOLD]).spawn().unwrap())
            .collect();
        let runs: Vec<Run> = children
            .into_iter()
            .map(|c| Run::from(c.wait_with_output().unwrap()))
            .collect();
        let why = format!("round {round} (s3: {on_s3}, --lock-timeout: {wait})");
        let writers: Vec<&Run> = runs
            .iter()
            .filter(|r| r.code == 0 && r.writes() > 0)
            .collect();
        assert_eq!(writers.len(), 1, "{why}: exactly one writes");
        let other = runs.iter().find(|r| !std::ptr::eq(*r, writers[0])).unwrap();
        if wait {
            assert_eq!(other.code, 0, "{why}: {}", other.stderr);
            assert!(
                other.stdout.starts_with("No changes."),
                "{why}: {}",
                other.stdout
            );
            assert_eq!(other.writes(), 0, "{why}");
            assert!(
                other.stderr.contains("waiting up to 1m"),
                "{why}: {}",
                other.stderr
            );
        } else {
            assert_eq!(other.code, 1, "{why}: {}", other.stderr);
            assert!(
                other.stderr.contains(&format!("locked by {CALLER}"))
                    && other.stderr.contains(" since "),
                "{why}: {}",
                other.stderr
            );
        }
        let live = census(&emu, "us-east-1", &env).await;
        assert_eq!(
            live,
            vec![
                ("kms:key".to_string(), "kms.logs".to_string()),
                ("kms:key".to_string(), "kms.phi".to_string()),
            ],
            "{why}: one key per address"
        );
        assert_no_changes(&emu, path);
    }
}

fn local_stack() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("tests/fixtures/shipped/local-full.yaml")).unwrap()
}

#[tokio::test]
async fn a_whole_stack_apply_killed_at_20_random_points_converges_on_each_plain_reapply() {
    let emu = Emulator::start();
    let seed: u64 = std::env::var("NOVACTL_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        });
    // Printed so that a failure can be replayed: NOVACTL_KILL_SEED=<seed>.
    eprintln!("kill points: seed {seed} (NOVACTL_KILL_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);

    // The resources of the stack, from a reference apply.
    let reference = Project::new(&local_stack());
    let r = novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            reference.spec.to_str().unwrap(),
            "--auto-approve",
        ],
    )
    .expect_code(0);
    // One line when a change starts, one when it ends: a kill point is "after line k".
    let steps = r.stderr.lines().filter(|l| is_progress(l)).count();
    let spec_addresses: Vec<String> = inventory(&reference).into_iter().map(|(a, _)| a).collect();
    let n = spec_addresses.len();
    assert!(n >= 15, "the seed stack: {spec_addresses:?}");
    assert_eq!(steps, 2 * n, "{}", r.stderr);

    let (mut took_over, mut mid_apply) = (0, 0);
    for i in 0..20 {
        emu.reset();
        let p = Project::new(&local_stack());
        let path = p.spec.to_str().unwrap();
        // Killed after progress line `k` (0: before the first change starts) plus 0-40 ms.
        let k = rng.usize(0..steps);
        let jitter = Duration::from_millis(rng.u64(0..40));
        let killed = kill_after(
            novactl_command(Some(&emu), &["apply", "-e", path, "--auto-approve"], &[]),
            k,
            jitter,
        );
        let died_locked = p.path("environments/.novactl/local/lock.json").exists();
        let done = killed.iter().filter(|l| l.contains(": created")).count();
        if done < n && !killed.iter().any(|l| l.starts_with("Apply complete")) {
            mid_apply += 1;
        }
        eprintln!(
            "kill {i}: after progress line {k} + {jitter:?}: {done} of {n} resources reported created, last line: {}",
            killed.last().map(String::as_str).unwrap_or("(none)")
        );

        let again = novactl(Some(&emu), &["apply", "-e", path, "--auto-approve"]);
        let why = format!("kill {i} after line {k} + {jitter:?} (seed {seed})");
        assert_eq!(again.code, 0, "{why}\n{}\n{}", again.stdout, again.stderr);
        assert!(
            !again.stdout.contains("  ! "),
            "{why}: a conflict\n{}",
            again.stdout
        );
        if died_locked {
            took_over += 1;
            assert!(
                again.stderr.contains("took over the lock"),
                "{why}: {}",
                again.stderr
            );
        }
        assert_no_changes(&emu, path);
        let live = census(&emu, "us-east-1", "local").await;
        assert_no_duplicates(&live);
        let mut inv: Vec<String> = common::local_state(&p, "local", "inventory.json")
            .iter()
            .map(|e| e["address"].as_str().unwrap().to_string())
            .collect();
        inv.sort();
        assert_eq!(
            inv, spec_addresses,
            "{why}: the inventory names every resource once"
        );
        assert!(
            open_intents(&p, "local").is_empty(),
            "{why}: {:?}",
            open_intents(&p, "local")
        );
    }
    eprintln!(
        "{mid_apply} of 20 kills landed mid-apply; {took_over} left the lock behind (taken over \
         by the re-apply)"
    );
}

fn is_progress(line: &str) -> bool {
    ["+ ", "~ ", "-/+ ", "- "]
        .iter()
        .any(|p| line.starts_with(p))
}

/// Starts `cmd`, SIGKILLs it `jitter` after its `k`-th progress line on stderr (or when it
/// ends by itself first), and returns the stderr lines it printed.
fn kill_after(mut cmd: std::process::Command, k: usize, jitter: Duration) -> Vec<String> {
    use std::io::BufRead;
    // Nobody reads the plan on stdout: a pipe would fill (the seed stack's plan is larger
    // than a pipe's buffer) and block the apply before its first change.
    let mut child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut seen = 0;
    while seen < k {
        match rx.recv() {
            Ok(l) => {
                seen += usize::from(is_progress(&l));
                lines.push(l);
            }
            Err(_) => break, // it ended
        }
    }
    std::thread::sleep(jitter);
    let _ = child.kill(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
}
