//! `novactl schema`: JSON Schema of the spec, for editors and CI; no AWS call.

use std::process::ExitCode;

use crate::ops::{self, Failure};
use crate::shell::Shell;

pub fn run(sh: &Shell) -> Result<ExitCode, Failure> {
    ops::schema::schema(sh)
}
