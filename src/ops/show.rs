//! `show`: render a saved plan (text, JSON or Markdown) without reading anything else.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::ops::plan::Format;
use crate::ops::Failure;
use crate::plan::{markdown, render, Plan, FORMAT_VERSION};
use crate::shell::Shell;

pub struct Options {
    pub plan: PathBuf,
    pub format: Format,
}

pub fn show(o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let plan = read_plan(&o.plan)?;
    match o.format {
        Format::Json => sh.out(&render::json(&plan)),
        // A saved plan records no findings: the Markdown has no HIPAA section.
        Format::Markdown => sh.out(&markdown::markdown(&markdown::Review {
            plan: &plan,
            saved: Some(&o.plan),
            findings: None,
            cost: None,
        })),
        Format::Text => {
            sh.status(&format!(
                "Saved plan {} (novactl {}, spec {}):",
                o.plan.display(),
                plan.novactl_version,
                plan.spec_file
            ));
            sh.out(&render::text(&plan, sh));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a plan written by `plan --out`, refusing other files and other plan formats.
pub fn read_plan(file: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    // The format version first, so a newer plan gets that message rather than a field error.
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{} is not a novactl plan (not JSON: {e})",
            file.display()
        ))
    })?;
    match raw.get("format_version").and_then(|v| v.as_str()) {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(Failure::Usage(format!(
                "{}: plan format {other} is not supported (this novactl writes {FORMAT_VERSION})",
                file.display()
            )))
        }
        None => {
            return Err(Failure::Usage(format!(
                "{} is not a novactl plan (no format_version)",
                file.display()
            )))
        }
    }
    serde_json::from_value(raw)
        .map_err(|e| Failure::Usage(format!("{} is not a novactl plan: {e}", file.display())))
}
