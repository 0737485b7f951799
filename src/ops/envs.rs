//! `novactl envs DIR`: the environments of a directory, for a CI matrix. No AWS call.
//!
//! Every `*.yaml`/`*.yml` directly in DIR that names an `environment:` is loaded with the
//! spec loader (so whatever it resolves, `extend:` included, is resolved here too); a file
//! without `environment:` is a base of other specs and is skipped. A file that does not load
//! is reported on stderr and makes the exit 1, but the others are still listed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::ops::Failure;
use crate::shell::Shell;
use crate::spec::LoadedSpec;

/// One environment of the directory (`--json` prints a list of these).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EnvEntry {
    /// The spec's path as DIR/NAME (what `-e` takes).
    pub file: String,
    pub environment: String,
    /// The spec's `account_id`, else the account of `aws.assume_role.role_arn`, else null.
    pub account_id: Option<String>,
    pub region: String,
    /// `local` or `s3://BUCKET/PREFIX` (the state backend).
    pub backend: String,
    /// `dr.region`, when the spec has a DR region.
    pub dr_region: Option<String>,
    /// `aws.profile`.
    pub profile: Option<String>,
    /// `aws.assume_role.role_arn`.
    pub role_arn: Option<String>,
}

impl EnvEntry {
    fn of(file: &Path, loaded: &LoadedSpec) -> EnvEntry {
        let s = &loaded.spec;
        let aws = s.aws.clone().unwrap_or_default();
        let role_arn = aws.assume_role.map(|r| r.role_arn);
        let account_id = s.account_id.clone().or_else(|| {
            role_arn
                .as_deref()
                .filter(|a| crate::spec::accounts::role_arn_problem(a).is_ok())
                .and_then(|a| a.split(':').nth(4))
                .map(str::to_string)
        });
        let backend = match crate::state::S3Location::of(loaded) {
            Some(l) => format!("s3://{}/{}", l.bucket, l.prefix),
            None => "local".to_string(),
        };
        EnvEntry {
            file: file.display().to_string(),
            environment: s.environment.clone(),
            account_id,
            region: s.region.clone(),
            backend,
            dr_region: s.dr.as_ref().map(|d| d.region.clone()),
            profile: aws.profile,
            role_arn,
        }
    }
}

/// The spec files of `dir`, sorted by name.
fn spec_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Failure::Usage(format!("cannot read the directory {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Does the file name an `environment:` at its top level? (`None`: it is not YAML at all, the
/// loader says why.)
fn names_environment(path: &Path) -> Option<bool> {
    let text = crate::spec::input::read_text(path).ok()?;
    let v: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    Some(v.get("environment").is_some())
}

/// The environments of `dir` and the files that did not load (each with its error lines).
pub fn list(dir: &Path) -> Result<(Vec<EnvEntry>, Vec<Vec<String>>), Failure> {
    let mut envs = Vec::new();
    let mut errors = Vec::new();
    for f in spec_files(dir)? {
        if names_environment(&f) == Some(false) {
            continue;
        }
        match LoadedSpec::load_with(&f, &[]) {
            Ok(l) => envs.push(EnvEntry::of(&f, &l)),
            Err(e) => errors.push(e.lines()),
        }
    }
    Ok((envs, errors))
}

/// Prints the table (or JSON list) on stdout and each file that did not load on stderr.
pub fn run(dir: &Path, json: bool, sh: &Shell) -> Result<ExitCode, Failure> {
    let (envs, errors) = list(dir)?;
    if json {
        let text = serde_json::to_string_pretty(&envs)
            .map_err(|e| Failure::Usage(format!("cannot print the list as JSON: {e}")))?;
        sh.out(&text);
    } else if envs.is_empty() {
        sh.status(&format!("no environment spec in {}", dir.display()));
    } else {
        let mut t = comfy_table::Table::new();
        t.load_preset("     -             ").set_header([
            "File",
            "Environment",
            "Account",
            "Region",
            "State backend",
        ]);
        for e in &envs {
            t.add_row([
                e.file.clone(),
                e.environment.clone(),
                e.account_id.clone().unwrap_or_else(|| "-".into()),
                e.region.clone(),
                e.backend.clone(),
            ]);
        }
        sh.out(&t.trim_fmt());
    }
    if errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for line in errors.iter().flatten() {
        sh.error(line);
    }
    Err(Failure::Reported(format!(
        "{} spec file(s) in {} did not load (the others are listed)",
        errors.len(),
        dir.display()
    )))
}
