//! `fmt`: rewrites the spec file in canonical form ([`crate::spec::format`]), or with
//! `--check` reports the difference and exits 1. The spec must be valid first (the same
//! checks as `validate`), so fmt never reorders a key it does not know.

use std::process::ExitCode;

use similar::TextDiff;

use crate::ops::options::GlobalOptions;
use crate::ops::session::{load, spec_path};
use crate::ops::Failure;
use crate::shell::Shell;
use crate::spec::format::format;

pub fn fmt(g: &GlobalOptions, check: bool, sh: &Shell) -> Result<ExitCode, Failure> {
    let path = spec_path(g)?;
    load(g)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    let formatted = format(&text, &crate::ops::schema::spec_schema())
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    if formatted == text {
        sh.status(&format!("{}: already formatted", path.display()));
        return Ok(ExitCode::SUCCESS);
    }
    let shown = path.display().to_string();
    if check {
        let diff = TextDiff::from_lines(&text, &formatted)
            .unified_diff()
            .context_radius(2)
            .header(&shown, &format!("{shown} (formatted)"))
            .to_string();
        sh.out(&diff);
        return Err(Failure::Reported(format!(
            "{shown} is not formatted; run: novactl fmt -e {shown}"
        )));
    }
    // Write beside it and rename: an interrupted fmt never leaves half a spec.
    let tmp = path.with_extension(format!("fmt.{}", std::process::id()));
    std::fs::write(&tmp, &formatted)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Failure::Usage(format!("cannot write {shown}: {e}")))?;
    sh.status(&format!("{shown}: formatted"));
    Ok(ExitCode::SUCCESS)
}
