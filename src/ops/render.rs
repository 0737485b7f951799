//! `render`: the merged spec (after `extend:` and `--var`) as YAML in `fmt`'s canonical key
//! order, optionally with each key's origin. A base (a file that is not a whole environment)
//! renders too: only the layers must load, not the schema's checks.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::session::{spec_path, spec_vars};
use crate::ops::Failure;
use crate::shell::Shell;
use crate::spec::format::format;
use crate::spec::layers;

pub fn render(g: &GlobalOptions, show_origin: bool, sh: &Shell) -> Result<ExitCode, Failure> {
    let path = spec_path(g)?;
    let mut merged = layers::load(&path)?;
    merged.set_vars(&spec_vars(g)?);
    let text = serde_yaml::to_string(&merged.value)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let text = format(&text, &crate::ops::schema::spec_schema())
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let text = if show_origin {
        merged.annotate(&text)
    } else {
        text
    };
    sh.out(text.trim_end());
    Ok(ExitCode::SUCCESS)
}
