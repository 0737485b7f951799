//! `init`: writes a project skeleton (`environments/`, `policies/`, `templates/`) and the spec's
//! JSON Schema beside them. The files are compiled in: the `seed` example is the repository's
//! own `environments/`, `policies/` and `templates/` (so it is exactly what the tests apply),
//! the default is the small project in `src/ops/init/minimal/`. Both get the CI workflow
//! `src/ops/init/ci/novactl.yml` (pull request: plan comment and SARIF; main: apply the
//! reviewed plan; nightly: drift) for their first environment.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::ops::Failure;
use crate::shell::Shell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Example {
    /// The MentaLLaMA HIPAA stack.
    Seed,
}

pub struct Options {
    pub dir: PathBuf,
    pub example: Option<Example>,
    pub force: bool,
}

/// (path in the project, contents).
type Files = &'static [(&'static str, &'static str)];

const MINIMAL: Files = &[
    (
        "environments/dev.yaml",
        include_str!("minimal/environments/dev.yaml"),
    ),
    (
        "policies/kms-data.json.tera",
        include_str!("minimal/policies/kms-data.json.tera"),
    ),
    (
        "policies/app-data.json.tera",
        include_str!("minimal/policies/app-data.json.tera"),
    ),
    (
        "templates/dashboards/overview.json.tera",
        include_str!("minimal/templates/dashboards/overview.json.tera"),
    ),
];

const SEED: Files = &[
    (
        "environments/prod.yaml",
        include_str!("../../../environments/prod.yaml"),
    ),
    (
        "environments/local.yaml",
        include_str!("../../../environments/local.yaml"),
    ),
    // The base the two extend (first is the workflow's spec, so not this one).
    (
        "environments/base.yaml",
        include_str!("../../../environments/base.yaml"),
    ),
    (
        "policies/kms-phi.json.tera",
        include_str!("../../../policies/kms-phi.json.tera"),
    ),
    (
        "policies/sagemaker-execution.json.tera",
        include_str!("../../../policies/sagemaker-execution.json.tera"),
    ),
    (
        "policies/api-service.json.tera",
        include_str!("../../../policies/api-service.json.tera"),
    ),
    (
        "templates/dashboards/mentallama.json.tera",
        include_str!("../../../templates/dashboards/mentallama.json.tera"),
    ),
];

/// The GitHub Actions workflow `init` writes (`.github/workflows/novactl.yml`), for the spec
/// `environments/dev.yaml`; [`workflow`] names another.
pub const WORKFLOW: &str = include_str!("ci/novactl.yml");

/// Where `init` writes [`WORKFLOW`].
pub const WORKFLOW_PATH: &str = ".github/workflows/novactl.yml";

/// The workflow for the spec `spec` (a path relative to the project).
pub fn workflow(spec: &str) -> String {
    WORKFLOW.replace(
        "\n  SPEC: environments/dev.yaml\n",
        &format!("\n  SPEC: {spec}\n"),
    )
}

pub fn init(o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let files = match o.example {
        None => MINIMAL,
        Some(Example::Seed) => SEED,
    };
    let schema =
        serde_json::to_string_pretty(&crate::ops::schema::spec_schema()).unwrap_or_default() + "\n";
    let mut all: Vec<(&str, &str)> = files.to_vec();
    all.push(("novactl.schema.json", schema.as_str()));
    let ci = workflow(files[0].0);
    all.push((WORKFLOW_PATH, ci.as_str()));
    if !o.force {
        let existing: Vec<String> = all
            .iter()
            .map(|(rel, _)| o.dir.join(rel))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Failure::Usage(format!(
                "not overwriting what is there (pass --force to replace): {}",
                existing.join(", ")
            )));
        }
    }
    for (rel, text) in &all {
        write(&o.dir.join(rel), &with_schema_line(rel, text))?;
        sh.out(&o.dir.join(rel).display().to_string());
    }
    let first = o.dir.join(files[0].0);
    sh.status(&format!(
        "Wrote {} files. Next: novactl validate -e {}",
        all.len(),
        first.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The line that ties a spec to `novactl.schema.json` in editors (the YAML language server):
/// every environment `init` writes starts with it.
const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../novactl.schema.json\n";

/// `text` with [`SCHEMA_LINE`] on top when `rel` is a spec under `environments/` without one.
fn with_schema_line(rel: &str, text: &str) -> String {
    let spec = rel.starts_with("environments/") && rel.ends_with(".yaml");
    if spec && !text.contains("yaml-language-server: $schema=") {
        format!("{SCHEMA_LINE}{text}")
    } else {
        text.to_string()
    }
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))
}
