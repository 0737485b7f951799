//! `validate`: load and check the spec with no AWS call.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::session::load;
use crate::ops::Failure;
use crate::shell::Shell;

pub fn validate(g: &GlobalOptions, sh: &Shell) -> Result<ExitCode, Failure> {
    let model = load(g)?;
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for d in &model.decls {
        *by_kind.entry(d.kind).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    sh.out(&format!(
        "{}: valid ({} resources; {})",
        model.spec.path.display(),
        model.decls.len(),
        kinds.join(", ")
    ));
    Ok(ExitCode::SUCCESS)
}
