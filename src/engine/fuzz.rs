//! Fuzz test of the whole offline check (`validate`): a seeded generator mutates the shipped
//! specs thousands of times and runs load + model build on each mutant, in-process.
//!
//! Asserted for every mutant: no panic, no hang (each case within [`CASE_BUDGET`], watched
//! from another thread), and every error it reports carries a line. A failure prints the seed,
//! the case number and the mutant, so it can be replayed with `NOVACTL_FUZZ_SEED`.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::engine::{Model, OFFLINE_ACCOUNT};
use crate::spec::{LoadedSpec, SpecErrors};

/// Mutants per run (a few thousand; about 10 s on the 2-core machine in a debug build).
const CASES: usize = 3000;
/// Longest one case may take before it counts as a hang.
const CASE_BUDGET: Duration = Duration::from_secs(5);

/// Values a careless edit or a hostile file puts where a scalar was.
const POOL: &[&str] = &[
    ".nan",
    ".inf",
    "-.inf",
    "1e999",
    "-1",
    "0",
    "99999999999",
    "2147483648",
    "0.5",
    "~",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: c}}",
    "&anchor x",
    "*anchor",
    "!!binary aGk=",
    "\"{{ kms.phi.arn }}\"",
    "\"{{ kms.nope.arn }}\"",
    "\"{{ sagemaker.endpoints.mentallama.arn }}\"",
    "\"{{ s3.models.name }}\"",
    "\"{{ vars.missing }}\"",
    "\"{% if x %}\"",
    "\"{{\"",
    "../policies/nope.json.tera",
    "/dev/zero",
    "/tmp",
    "alias/aws/x",
    "ml.bogus",
    "UPPER_case",
    "'single'",
    "\"a\\x07b\"",
    "- item",
    "---",
    "...",
];

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The shipped specs rendered whole (their `extend:` merged).
    [
        "tests/fixtures/shipped/local-full.yaml",
        "tests/fixtures/shipped/prod-full.yaml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.join(f)).expect("seed spec"))
    .collect()
}

/// One random edit of `text`.
fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return POOL[rng.usize(..POOL.len())].to_string();
    }
    let n = lines.len();
    let i = rng.usize(..n);
    match rng.u8(..12) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => lines.swap(i, rng.usize(..n)),
        3 | 4 => {
            // A new value after the key.
            let pick = POOL[rng.usize(..POOL.len())];
            if let Some((k, _)) = lines[i].split_once(": ") {
                lines[i] = format!("{k}: {pick}");
            } else {
                lines[i] = format!("{} {pick}", lines[i]);
            }
        }
        5 => {
            let indent = " ".repeat(rng.usize(1..4));
            lines[i] = if rng.bool() {
                format!("{indent}{}", lines[i])
            } else {
                lines[i].trim_start().to_string()
            };
        }
        6 => {
            let keep = rng.usize(..n);
            lines.truncate(keep);
        }
        7 => lines.insert(i, "---".into()),
        8 => {
            let k = rng.usize(1..200);
            lines[i] = format!("{}{}", lines[i], "[".repeat(k));
        }
        9 => {
            // A typo in a key or value: one character replaced.
            let chars: Vec<char> = lines[i].chars().collect();
            if !chars.is_empty() {
                let at = rng.usize(..chars.len());
                let c = rng.alphanumeric();
                lines[i] = chars[..at]
                    .iter()
                    .chain(std::iter::once(&c))
                    .chain(&chars[at + 1..])
                    .collect();
            }
        }
        10 => {
            let noise: String = (0..rng.usize(1..8))
                .map(|_| char::from(rng.u8(0x20..0x7f)))
                .collect();
            lines.insert(i, noise);
        }
        _ => {
            let pick = POOL[rng.usize(..POOL.len())];
            lines.insert(i, format!("{}x{i}: {pick}", " ".repeat(rng.usize(..6))));
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Load and build, as `validate` does; the errors it reports.
fn check(path: &Path, text: String) -> Result<(), SpecErrors> {
    let spec = LoadedSpec::from_text(path, text)?;
    Model::build(spec, OFFLINE_ACCOUNT).map(drop)
}

#[test]
fn mutated_specs_never_panic_hang_or_go_unlocated() {
    let seed: u64 = std::env::var("NOVACTL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let seeds = seeds();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/fuzz.yaml");
    let (tx, rx) = mpsc::channel::<(usize, String, Result<bool, String>, Duration)>();
    let worker = {
        let path: PathBuf = path.clone();
        std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(seed);
            for case in 0..CASES {
                let mut text = seeds[rng.usize(..seeds.len())].clone();
                for _ in 0..rng.usize(1..4) {
                    text = mutate(&mut rng, &text);
                }
                let started = Instant::now();
                let input = text.clone();
                let outcome = std::panic::catch_unwind(|| check(&path, text))
                    .map_err(|p| {
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    })
                    .map(|r| match r {
                        Ok(()) => Ok(true),
                        Err(errs) => match errs.errors.iter().find(|e| e.line.is_none()) {
                            Some(e) => Err(format!("error without a line: {e}")),
                            None if errs.errors.is_empty() => Err("an empty error list".into()),
                            None => Ok(false),
                        },
                    });
                let result = match outcome {
                    Ok(r) => r,
                    Err(panic) => Err(format!("panicked: {panic}")),
                };
                if tx.send((case, input, result, started.elapsed())).is_err() {
                    return;
                }
            }
        })
    };
    let mut invalid = 0;
    let mut slowest = Duration::ZERO;
    for expected in 0..CASES {
        let (case, input, result, took) = rx
            .recv_timeout(CASE_BUDGET)
            .unwrap_or_else(|_| panic!("case {expected} (seed {seed}) hung for {CASE_BUDGET:?}"));
        slowest = slowest.max(took);
        match result {
            Err(why) => panic!("case {case} (seed {seed}): {why}\n--- input\n{input}"),
            Ok(false) => invalid += 1,
            Ok(true) => {}
        }
        assert!(took < CASE_BUDGET, "case {case} took {took:?}");
    }
    worker.join().expect("worker");
    // The generator must produce both outcomes to test anything.
    assert!(
        invalid > CASES / 2,
        "only {invalid} of {CASES} mutants were invalid"
    );
    assert!(invalid < CASES, "every mutant was invalid");
    #[allow(clippy::print_stderr)] // the test's own summary line
    let () = eprintln!("{CASES} mutants (seed {seed}): {invalid} invalid, slowest {slowest:?}");
}
