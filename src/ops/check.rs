//! `check`: the HIPAA gate on the spec (no AWS call) or, with `--live`, on what `observe`
//! reads; and the gate plan and apply run on the desired state.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::compliance::{self, output, Evaluation, Mode, Severity, World};
use crate::engine::Model;
use crate::ops::options::GlobalOptions;
use crate::ops::session::{self, Session};
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

pub struct Options {
    pub live: bool,
    pub format: Format,
    pub out: Option<PathBuf>,
    pub catalogue: bool,
    /// Lowest severity that makes the check fail (exit 3).
    pub fail_on: Severity,
    pub parallelism: usize,
}

/// Exit code of a check with violations (the CLI contract).
pub const VIOLATIONS: u8 = 3;

pub async fn check(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    if o.catalogue {
        sh.out(&output::catalogue_markdown());
        return Ok(ExitCode::SUCCESS);
    }
    let spec_file = session::spec_path(g)?.display().to_string();
    let evaluated = async {
        Ok(if o.live {
            let s = Session::connect(g, sh).await?;
            let eval = live(&s, o.parallelism, &spec_file, sh).await?.0;
            sh.status(&s.aws.summary());
            eval
        } else {
            spec_mode(&session::load(g)?, &spec_file)?
        })
    };
    let eval = match evaluated.await {
        Ok(eval) => eval,
        Err(f) if o.format == Format::Sarif => {
            // The SARIF file is there even when the check could not run (a pipeline uploads it
            // `if: always()`); the exit code is still 1.
            let text = match &f {
                Failure::Spec(errs) => output::sarif_failure(
                    &errs.errors,
                    (errs.omitted > 0)
                        .then(|| format!("{} more error(s) not listed", errs.omitted))
                        .as_deref(),
                ),
                other => {
                    output::sarif_failure(&[], Some(&crate::redact::scrub(&other.to_string())))
                }
            };
            write_out(&o.out, &text, sh)?;
            return Err(f);
        }
        Err(f) => return Err(f),
    };
    let text = match o.format {
        Format::Text => output::text(&eval, sh),
        Format::Json => output::json(&eval),
        Format::Sarif => output::sarif(&eval),
    };
    write_out(&o.out, &text, sh)?;
    for w in &eval.unused_waivers {
        if o.format != Format::Text {
            sh.warn(&format!("the waiver for {w} matches no finding; remove it"));
        }
    }
    Ok(if eval.blocking(o.fail_on).is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(VIOLATIONS)
    })
}

/// Writes `text` to `out`, or to stdout without one.
pub fn write_out(out: &Option<PathBuf>, text: &str, sh: &Shell) -> Result<(), Failure> {
    match out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
            sh.status(&format!("Wrote {}.", path.display()));
        }
        None => sh.out(text),
    }
    Ok(())
}

/// The rules on the spec's rendered desired state. No AWS call.
pub fn spec_mode(model: &Model, spec_file: &str) -> Result<Evaluation, Failure> {
    let world = World {
        mode: Mode::Spec,
        spec: &model.spec,
        account: model.account_id.clone(),
        subjects: compliance::spec_subjects(model)?,
    };
    Ok(compliance::evaluate(&world, spec_file)?)
}

/// The rules on live state; also returns the addresses not found live.
pub async fn live(
    s: &Session,
    parallelism: usize,
    spec_file: &str,
    sh: &Shell,
) -> Result<(Evaluation, Vec<String>), Failure> {
    let obs = s.observe(parallelism, crate::discovery::Mode::Off).await?;
    live_of(s, &obs, spec_file, sh)
}

/// The rules on live state already observed (`drift` observes once for its plan and this),
/// warning about the spec's resources not found live.
pub fn live_of(
    s: &Session,
    obs: &crate::engine::Observations,
    spec_file: &str,
    sh: &Shell,
) -> Result<(Evaluation, Vec<String>), Failure> {
    let (eval, missing) = live_mode(&s.model, obs, spec_file)?;
    if !missing.is_empty() {
        sh.warn(&format!(
            "{} resource(s) of the spec do not exist live and were not checked: {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    Ok((eval, missing))
}

/// The rules on observations already made (`plan`'s); also returns the addresses not live.
pub fn live_mode(
    model: &Model,
    obs: &crate::engine::Observations,
    spec_file: &str,
) -> Result<(Evaluation, Vec<String>), Failure> {
    let (subjects, missing) = compliance::live_subjects(model, obs)?;
    let world = World {
        mode: Mode::Live,
        spec: &model.spec,
        account: model.account_id.clone(),
        subjects,
    };
    Ok((compliance::evaluate(&world, spec_file)?, missing))
}

/// The lines plan prints under the plan: every unwaived finding of the desired state.
pub fn gate_text(eval: &Evaluation) -> Option<String> {
    let v: Vec<_> = eval.violations().collect();
    if v.is_empty() {
        return None;
    }
    let errors = v
        .iter()
        .filter(|o| o.rule.severity == Severity::Error)
        .count();
    let mut s = format!(
        "\nCompliance: {} finding(s) in the desired state ({errors} error: apply refuses them \
         without --allow-noncompliant):\n",
        v.len()
    );
    for o in v {
        s.push_str(&format!(
            "  {} {} {}: {} ({}{})\n",
            if o.rule.severity == Severity::Error {
                "!"
            } else {
                "?"
            },
            o.rule.id,
            o.address,
            o.message,
            eval.spec_file,
            o.line.map(|l| format!(":{l}")).unwrap_or_default()
        ));
    }
    Some(s)
}

/// The apply gate: `Err` naming every unwaived error-severity finding, unless `allow`; with
/// `allow`, the notes for the audit record.
pub fn gate(
    model: &Model,
    spec_file: &str,
    allow: bool,
    sh: &Shell,
) -> Result<Vec<String>, Failure> {
    let eval = spec_mode(model, spec_file)?;
    let blocking = eval.blocking(Severity::Error);
    let lines: Vec<String> = blocking
        .iter()
        .map(|o| {
            format!(
                "{} on {}: {} ({}{})",
                o.rule.id,
                o.address,
                o.message,
                spec_file,
                o.line.map(|l| format!(":{l}")).unwrap_or_default()
            )
        })
        .collect();
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    if !allow {
        return Err(Failure::Reported(format!(
            "refusing to apply: {} unwaived error-severity compliance finding(s); nothing was \
             changed. Fix the spec, waive them (check.waive, with a reason), or pass \
             --allow-noncompliant (recorded in the audit trail):\n  {}",
            lines.len(),
            lines.join("\n  ")
        )));
    }
    sh.warn(&format!(
        "--allow-noncompliant: applying with {} error-severity finding(s) (recorded in the \
         audit record):\n  {}",
        lines.len(),
        lines.join("\n  ")
    ));
    Ok(lines
        .into_iter()
        .map(|l| format!("--allow-noncompliant: {l}"))
        .collect())
}
