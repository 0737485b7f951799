//! Several `-e` on `validate`, `plan` and `check`: each environment runs on its own, as a
//! child `novactl` with the same command line and one `-e`, all at once. Their output is
//! buffered and printed grouped per environment (in `-e` order), then one summary; the exit
//! code is the worst of theirs. A child process per environment keeps every environment's
//! credentials, endpoint, secrets and error context apart.
//!
//! * Text: for each environment a `=== FILE ===` header and its standard output; its
//!   standard error follows on stderr, each line prefixed with `[FILE] `.
//! * JSON (`plan --json`/`--format json`, `check --format json`): one JSON array on stdout, one
//!   object per environment: `file`, `exit_code`, `output` (the document the command prints
//!   for one environment, `null` when it failed).
//! * The summary (a row per environment: file, exit code, result, its count line) goes to
//!   stderr, like every command's closing summary, and is shown with `-q` too.
//! * Refused: `apply` (one environment at a time; exit 1), `plan --out`, `plan --lock`,
//!   `check --out`, `check --format sarif`, and every other command.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Cli, Cmd};
use crate::ops::Failure;
use crate::shell::Shell;

/// What one environment's child left.
struct Outcome {
    file: PathBuf,
    code: i32,
    stdout: String,
    stderr: String,
}

/// How bad an exit code is: errors (1, 130, anything unknown) above "changes" (2) and
/// "violations" (3), above success (0).
fn severity(code: i32) -> u8 {
    match code {
        0 => 0,
        2 | 3 => 1,
        1 => 2,
        _ => 3,
    }
}

/// The worst of the exit codes (the first of equally bad ones).
pub fn worst(codes: &[i32]) -> i32 {
    codes
        .iter()
        .copied()
        .fold(0, |w, c| if severity(c) > severity(w) { c } else { w })
}

/// The command line without its `-e`/`--env` options (the children get one each).
pub fn without_env(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip = false;
    let mut rest = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        let s = a.to_string_lossy();
        if rest {
            out.push(a.clone());
        } else if s == "--" {
            rest = true;
            out.push(a.clone());
        } else if s == "-e" || s == "--env" {
            skip = true;
        } else if s.starts_with("--env=") || (s.starts_with("-e") && !s.starts_with("--")) {
            // `--env=F`, `-eF`, `-e=F`
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Runs `cli`'s command once per `-e`, concurrently, and reports as the module says.
pub fn run(cli: &Cli, sh: &Shell) -> Result<ExitCode, Failure> {
    let files = &cli.global.env;
    let json = match &cli.cmd {
        Cmd::Validate => false,
        Cmd::Plan(a) => {
            if a.out.is_some() {
                return Err(Failure::Usage(
                    "plan --out saves one environment's plan: give one -e with --out".into(),
                ));
            }
            if a.lock {
                return Err(Failure::Usage(
                    "plan --lock holds one environment's lock: give one -e with --lock".into(),
                ));
            }
            crate::commands::plan::format(a.json, a.format)? == crate::ops::plan::Format::Json
        }
        Cmd::Check(a) if a.out.is_some() => {
            return Err(Failure::Usage(
                "check --out writes one environment's result: give one -e with --out".into(),
            ))
        }
        Cmd::Check(a) => match a.format {
            crate::commands::check::Format::Sarif => {
                return Err(Failure::Usage(
                    "check --format sarif writes one environment's log: give one -e, or use \
                     --format json for several"
                        .into(),
                ))
            }
            crate::commands::check::Format::Json => true,
            crate::commands::check::Format::Text => false,
        },
        Cmd::Apply(_) => {
            // An error like any other (exit 1): apply's contract is 0 or 1.
            return Err(Failure::Usage(format!(
                "apply changes one environment at a time: {} -e were given; run `novactl apply \
                 -e FILE` once per environment (plan, check and validate take several -e)",
                files.len()
            )));
        }
        _ => {
            return Err(Failure::Usage(format!(
                "several -e ({}) are taken by validate, plan and check only; this command \
                 works on one environment",
                files.len()
            )))
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Usage(format!("cannot find the novactl executable: {e}")))?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let base = without_env(&args);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                let (exe, base) = (&exe, &base);
                s.spawn(move || run_one(exe, base, f))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("environment runner"))
            .collect()
    });
    for o in &outcomes {
        let tag = o.file.display().to_string();
        if !json {
            sh.out(&format!("=== {tag} ==="));
            if !o.stdout.trim().is_empty() {
                sh.out(o.stdout.trim_end());
            }
        }
        for line in o.stderr.lines() {
            sh.notice(&format!("[{tag}] {line}"));
        }
    }
    if json {
        let docs: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                serde_json::json!({
                    "file": o.file.display().to_string(),
                    "exit_code": o.code,
                    "output": serde_json::from_str::<serde_json::Value>(&o.stdout).ok(),
                })
            })
            .collect();
        sh.out(&serde_json::to_string_pretty(&docs).unwrap_or_default());
    }
    sh.summary(&summary(&cli.cmd, &outcomes));
    let code = worst(&outcomes.iter().map(|o| o.code).collect::<Vec<_>>());
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn run_one(exe: &std::path::Path, base: &[OsString], file: &std::path::Path) -> Outcome {
    let out = std::process::Command::new(exe)
        .args(base)
        .arg("-e")
        .arg(file)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) => Outcome {
            file: file.to_path_buf(),
            code: o.status.code().unwrap_or(1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Err(e) => Outcome {
            file: file.to_path_buf(),
            code: 1,
            stdout: String::new(),
            stderr: format!("error: cannot run novactl for this environment: {e}"),
        },
    }
}

/// One row per environment: file, result, and its closing count line.
fn summary(cmd: &Cmd, outcomes: &[Outcome]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset("     -             ").set_header([
        "Environment file",
        "Exit",
        "Result",
        "Counts",
    ]);
    for o in outcomes {
        let result = match (cmd, o.code) {
            (_, 0) => "ok",
            (Cmd::Plan(_), 2) => "changes",
            (Cmd::Check(_), 3) => "violations",
            (_, 130) => "interrupted",
            _ => "error",
        };
        t.add_row([
            o.file.display().to_string(),
            o.code.to_string(),
            result.to_string(),
            counts(o),
        ]);
    }
    let codes: Vec<i32> = outcomes.iter().map(|o| o.code).collect();
    format!(
        "Summary of {} environments (exit {}, the worst):\n{}",
        outcomes.len(),
        worst(&codes),
        t.trim_fmt()
    )
}

/// The line that sums up an environment's run: the plan's `Plan: ...`/`No changes.` line,
/// else the last line it printed (the error, for a failure).
fn counts(o: &Outcome) -> String {
    let plan_line = o
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("Plan:") || l.starts_with("No changes"));
    let last = |s: &str| {
        s.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::to_string)
    };
    let line = plan_line.map(str::to_string).or_else(|| {
        if o.code == 1 {
            last(&o.stderr).or_else(|| last(&o.stdout))
        } else {
            last(&o.stdout).or_else(|| last(&o.stderr))
        }
    });
    let mut line = line.unwrap_or_default().trim().to_string();
    // `FILE: valid (...)`: the file is the row's first column already.
    if let Some(rest) = line.strip_prefix(&format!("{}: ", o.file.display())) {
        line = rest.to_string();
    }
    if line.chars().count() > 100 {
        line = line.chars().take(97).collect::<String>() + "...";
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_exit_code() {
        assert_eq!(worst(&[0, 0]), 0);
        assert_eq!(worst(&[0, 2, 0]), 2);
        assert_eq!(worst(&[3, 0]), 3);
        assert_eq!(worst(&[2, 1, 0]), 1);
        assert_eq!(worst(&[1, 130]), 130);
    }

    #[test]
    fn env_options_are_dropped() {
        let a: Vec<OsString> = [
            "plan", "-e", "a.yaml", "--env", "b.yaml", "--env=c", "-ed.yaml", "--json", "-v",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let got: Vec<String> = without_env(&a)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["plan", "--json", "-v"]);
    }
}
