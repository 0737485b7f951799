//! `plan`: observe, diff, print (text, JSON or Markdown), optionally save.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::options::Scope;
use crate::ops::run::Run;
use crate::ops::session::{warn_deletes, Session};
use crate::ops::Failure;
use crate::plan::{markdown, render};
use crate::shell::Shell;

/// How `plan` and `show` print a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// A pull-request comment ([`crate::plan::markdown`]).
    Markdown,
}

pub struct Options {
    pub detailed_exitcode: bool,
    pub format: Format,
    pub out: Option<PathBuf>,
    /// Hold the lock while planning (`--lock`).
    pub lock: bool,
    pub scope: Scope,
    /// A price file over the shipped table (`--prices`).
    pub prices: Option<PathBuf>,
    /// The destroy as a plan (`--destroy`); `force`: it empties non-empty buckets.
    pub destroy: Option<Destroy>,
}

/// `plan --destroy [--force]`.
#[derive(Debug, Clone, Copy)]
pub struct Destroy {
    pub force: bool,
}

pub async fn plan(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let _graceful = crate::interrupt::graceful();
    // A bad price file fails before any AWS call.
    let prices = crate::cost::Prices::load(o.prices.as_deref()).map_err(Failure::Usage)?;
    let s = Session::connect_for(g, &o.scope, sh).await?;
    let lock = match o.lock {
        true => Some(Run::lock_only(&s, "plan", sh).await?),
        false => None,
    };
    let planned = crate::interrupt::or_stop("while planning", async {
        match o.destroy {
            Some(d) => crate::ops::destroy::plan_destroy(&s, d.force, o.scope.parallelism).await,
            None => s.plan(&o.scope, &o.scope.adopt).await,
        }
    })
    .await;
    if let Some(l) = lock {
        l.end(Failure::status_of(&planned), sh).await;
    }
    let (mut plan, obs) = planned?;
    crate::ops::rolled_back::warn_held(&plan, sh);
    plan.cost = Some(crate::cost::estimate(&plan, &prices));
    // A destroy creates nothing: the compliance findings of the desired state do not apply.
    let gate = match o.destroy {
        Some(_) => None,
        None => Some(crate::ops::check::spec_mode(
            &s.model,
            &s.spec_file.display().to_string(),
        )?),
    };
    let findings = gate.as_ref().and_then(crate::ops::check::gate_text);
    match o.format {
        Format::Json | Format::Markdown => {
            let review = match &gate {
                Some(g) => Some(crate::ops::review::findings(&s.model, &obs, &plan, g)?),
                None => None,
            };
            sh.out(&match o.format {
                Format::Json => render::json(&plan),
                _ => markdown::markdown(&markdown::Review {
                    plan: &plan,
                    saved: o.out.as_deref(),
                    findings: review.as_ref(),
                    cost: None,
                }),
            });
            if let Some(f) = &findings {
                sh.warn(f.trim_start());
            }
        }
        Format::Text => {
            let mut text = render::text(&plan, sh);
            if let Some(f) = &findings {
                text.push_str(f);
            }
            sh.out(&text);
        }
    }
    warn_deletes(&plan, sh);
    if let Some(out) = &o.out {
        write_private(out, &render::json(&plan))
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", out.display())))?;
        sh.status(&format!("Saved the plan to {}.", out.display()));
    }
    s.summary(sh);
    let refused = plan.refusals();
    if o.detailed_exitcode && !refused.is_empty() {
        // 2 would tell a pipeline "apply this"; apply would refuse it.
        let lines: Vec<String> = refused
            .iter()
            .map(|(a, why)| format!("  {a}: {why}"))
            .collect();
        return Err(Failure::Reported(format!(
            "apply would refuse this plan ({} change(s)):\n{}",
            refused.len(),
            lines.join("\n")
        )));
    }
    Ok(if o.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes a plan file readable by its owner only (0600), also when it existed before.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(crate::redact::scrub(text).as_bytes())
}
