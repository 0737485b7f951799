//! `novactl validate`: the spec, its references and templates; no AWS call.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

pub fn run(g: &GlobalOptions, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::validate::validate(g, sh)
}
