//! `schema`: the JSON Schema (draft 2020-12) of the environment spec, generated from the types
//! the parser uses ([`crate::spec::model::Spec`]), so it cannot disagree with `validate` about
//! which keys exist. Editors with yaml-language-server pick it up from a first line
//! `# yaml-language-server: $schema=novactl.schema.json`.

use std::process::ExitCode;

use serde_json::Value;

use crate::ops::Failure;
use crate::shell::Shell;

pub fn schema(sh: &Shell) -> Result<ExitCode, Failure> {
    sh.out(&serde_json::to_string_pretty(&spec_schema()).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

/// The spec's schema as JSON (see [`crate::spec::json_schema`]).
pub fn spec_schema() -> Value {
    crate::spec::json_schema()
}
