//! `novactl validate`: the spec, its references and templates; no AWS call.

use std::process::ExitCode;

use crate::cli::Global;
use crate::ops::{self, Failure};
use crate::shell::Shell;

pub fn run(g: &Global, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::validate::validate(g, sh)
}
