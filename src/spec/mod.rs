//! Stage 1 of the pipeline: load the spec file, check its shape, render its templates.
//!
//! * [`model`]: the typed spec (the contract's keys, strict).
//! * [`locate`]: key path -> line, for errors found after parsing.
//! * [`render`]: tera rendering with the spec's variables and other resources' attributes.
//! * [`input`]: reading input files safely (regular files, size limit, UTF-8).

pub mod accounts;
pub mod format;
pub mod input;
pub mod layers;
pub mod locate;
pub mod model;
pub mod render;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use sha2::{Digest, Sha256};

pub use layers::{Layered, Origins, VarSource};
pub use model::Spec;

/// A problem with the spec: always names the file, the line (when known) and the key at fault.
#[derive(Debug, Clone)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub col: Option<usize>,
    /// Dotted key path, e.g. `s3.models.kms_key`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.col {
                write!(f, ":{col}")?;
            }
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for SpecError {}

/// Every problem one check of the spec found, in file order, at most
/// [`input::MAX_ERRORS`] of them (`omitted` counts the rest).
#[derive(Debug, Clone, Default)]
pub struct SpecErrors {
    pub errors: Vec<SpecError>,
    pub omitted: usize,
}

impl SpecErrors {
    pub fn push(&mut self, e: SpecError) {
        let same = |o: &SpecError| {
            o.line == e.line && o.key == e.key && o.message == e.message && o.file == e.file
        };
        if self.errors.iter().any(same) {
            return;
        }
        if self.errors.len() >= input::MAX_ERRORS {
            self.omitted += 1;
        } else {
            self.errors.push(e);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Is the cap reached (further checks would only be counted)?
    pub fn full(&self) -> bool {
        self.errors.len() >= input::MAX_ERRORS
    }

    /// `Err(self)` in file order when anything was found.
    pub fn into_result(mut self) -> Result<(), SpecErrors> {
        if self.is_empty() {
            return Ok(());
        }
        self.errors
            .sort_by_key(|e| (e.line.unwrap_or(usize::MAX), e.col.unwrap_or(0)));
        Err(self)
    }

    /// One line per error, then how many more there were.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.errors.iter().map(|e| e.to_string()).collect();
        if self.omitted > 0 {
            out.push(format!(
                "... and {} more error(s) not shown (at most {} are listed)",
                self.omitted,
                input::MAX_ERRORS
            ));
        }
        out
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        SpecErrors {
            errors: vec![e],
            omitted: 0,
        }
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.lines().join("\n"))
    }
}

impl std::error::Error for SpecErrors {}

/// A parsed spec with what is needed to point back into its file.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub path: PathBuf,
    /// Directory that relative template paths are resolved against.
    pub dir: PathBuf,
    /// The merged spec as YAML (after `extend:` and `--var`); [`LoadedSpec::digest`] covers it.
    pub text: String,
    /// Where each key's value came from (file, line).
    pub locator: Origins,
}

impl LoadedSpec {
    /// Reads and parses the spec file and the bases it `extend`s ([`layers`]), with `vars`
    /// set from the command line or the environment. Before anything is parsed, each file
    /// must be a regular file of at most [`input::MAX_FILE_BYTES`], UTF-8, one YAML document,
    /// nested at most [`input::MAX_DEPTH`] deep, with finite numbers only; every such problem
    /// is reported, located, with every type error and unknown key (up to
    /// [`input::MAX_ERRORS`]). `-` and `/dev/stdin` read the spec from stdin.
    pub fn load_with(
        path: &Path,
        vars: &[(VarSource, String, String)],
    ) -> Result<Self, SpecErrors> {
        let mut layered = layers::load(path)?;
        layered.set_vars(vars);
        Self::from_layered(path, layered)
    }

    /// A spec whose (first) file's text is given.
    pub fn from_text(path: &Path, text: String) -> Result<Self, SpecErrors> {
        Self::from_layered(path, layers::from_text(path, &text)?)
    }

    fn from_layered(path: &Path, layered: Layered) -> Result<Self, SpecErrors> {
        let mut errs = SpecErrors::default();
        let spec = parse_all(path, &layered, &mut errs);
        let (Some(spec), true) = (spec, errs.is_empty()) else {
            return Err(errs.into_result().expect_err("an error was pushed"));
        };
        let (path, dir) = if layers::is_stdin(path) {
            (PathBuf::from("<stdin>"), PathBuf::from("."))
        } else {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (path.to_path_buf(), dir)
        };
        let loaded = LoadedSpec {
            spec,
            path,
            dir,
            text: serde_yaml::to_string(&layered.value).unwrap_or_default(),
            locator: layered.origins,
        };
        loaded.check_top_level()?;
        Ok(loaded)
    }

    /// An error at `key` (a dotted path), located in the file its value came from.
    pub fn error(&self, key: &str, message: impl Into<String>) -> SpecError {
        // A key that is not in the file (a missing required key) is located at the start of
        // the document that lacks it.
        let (file, line, col) = match self.locator.origin(key) {
            Some(o) => (o.file.to_path_buf(), o.line, o.col),
            None => (self.path.clone(), Some(1), Some(1)),
        };
        SpecError {
            file,
            line,
            col,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Resolves a template path written in the spec (relative to the spec file).
    pub fn template_path(&self, rel: &str) -> PathBuf {
        let p = Path::new(rel);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// Digest of the spec text and the template files it names: a saved plan records it, and
    /// applying that plan after either changed is refused.
    pub fn digest(&self, template_files: &[PathBuf]) -> String {
        let mut h = Sha256::new();
        h.update(self.text.as_bytes());
        for f in template_files {
            h.update(f.to_string_lossy().as_bytes());
            if let Ok(bytes) = input::read_bytes(f) {
                h.update(&bytes);
            }
        }
        hex::encode(h.finalize())
    }

    fn check_top_level(&self) -> Result<(), SpecErrors> {
        let mut errs = SpecErrors::default();
        let s = &self.spec;
        let name_ok = |v: &str| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !name_ok(&s.environment) {
            errs.push(self.error(
                "environment",
                "must be a non-empty name of letters, digits, '-' or '_'",
            ));
        }
        if !looks_like_region(&s.region) {
            errs.push(self.error(
                "region",
                format!("`{}` is not an AWS region name (e.g. us-east-1)", s.region),
            ));
        }
        if let Some(a) = &s.account_id {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                errs.push(self.error("account_id", "must be a 12-digit AWS account id"));
            }
        }
        accounts::check(self, &mut errs);
        if let Some(dr) = &s.dr {
            if !looks_like_region(&dr.region) {
                errs.push(self.error(
                    "dr.region",
                    format!("`{}` is not an AWS region name", dr.region),
                ));
            }
            if dr.region == s.region {
                errs.push(self.error(
                    "dr.region",
                    "the DR region must differ from the primary region",
                ));
            }
        }
        errs.into_result()
    }
}

pub fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Every type error and unknown key of the merged spec (up to the cap): serde stops at the
/// first, so the offending key is taken out and the parse runs again.
fn parse_all(path: &Path, l: &Layered, errs: &mut SpecErrors) -> Option<Spec> {
    let mut v = l.value.clone();
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..input::MAX_ERRORS * 4 {
        let text = serde_yaml::to_string(&v).unwrap_or_default();
        let e = match serde_yaml::from_str::<Spec>(&text) {
            Ok(s) => return errs.is_empty().then_some(s),
            Err(e) => e,
        };
        let (key, message) = describe(&e, &text);
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_string);
        if let Some(field) = &missing {
            let full = if key.is_empty() {
                field.clone()
            } else {
                format!("{key}.{field}")
            };
            if removed.contains(&full) {
                // Only the consequence of taking out a wrong value: not reported again.
                if key.is_empty() {
                    if let Value::Mapping(m) = &mut v {
                        m.insert(Value::String(field.clone()), Value::String(String::new()));
                    }
                } else if !remove(&mut v, &key) {
                    return None;
                }
                removed.push(key);
                continue;
            }
        }
        let err = located(path, l, &key, message);
        // A non-finite number already reported on that line says it better.
        if !errs
            .errors
            .iter()
            .any(|o| o.file == err.file && o.line == err.line)
        {
            errs.push(err);
        }
        if errs.full() {
            return None;
        }
        match missing {
            Some(field) if key.is_empty() => {
                if let Value::Mapping(m) = &mut v {
                    m.insert(Value::String(field), Value::String(String::new()));
                }
            }
            _ => {
                if key.is_empty() || !remove(&mut v, &key) {
                    return None;
                }
                removed.push(key);
            }
        }
    }
    None
}

fn located(path: &Path, l: &Layered, key: &str, message: String) -> SpecError {
    let (file, line, col) = match l.origins.origin(key) {
        Some(o) => (o.file.to_path_buf(), o.line, o.col),
        None => (
            l.origins
                .files()
                .first()
                .cloned()
                .unwrap_or_else(|| path.to_path_buf()),
            Some(1),
            Some(1),
        ),
    };
    SpecError {
        file,
        line,
        col,
        key: key.to_string(),
        message,
    }
}

/// Takes the value at a dotted path out of `v`; false when there is none.
fn remove(v: &mut Value, key: &str) -> bool {
    let (parent, last) = match key.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, key),
    };
    let mut cur = v;
    if let Some(parent) = parent {
        for seg in parent.split('.') {
            let next = match cur {
                Value::Mapping(m) => m
                    .iter_mut()
                    .find(|(k, _)| layers::key_text(k) == seg)
                    .map(|(_, v)| v),
                Value::Sequence(s) => seg.parse::<usize>().ok().and_then(|i| s.get_mut(i)),
                _ => None,
            };
            let Some(next) = next else {
                return false;
            };
            cur = next;
        }
    }
    match cur {
        Value::Mapping(m) => {
            let k = m.keys().find(|k| layers::key_text(k) == last).cloned();
            k.is_some_and(|k| m.remove(&k).is_some())
        }
        Value::Sequence(s) => match last.parse::<usize>() {
            Ok(i) if i < s.len() => {
                s.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// The key and message of a serde_yaml error (on the merged spec's text), with the nearest
/// valid key for an unknown one.
fn describe(e: &serde_yaml::Error, text: &str) -> (String, String) {
    let mut msg = e.to_string();
    // serde_yaml appends " at line L column C"; the origin gives the position.
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    // serde_yaml prefixes the key path ("s3.models: unknown field ...").
    let (mut key, mut rest) = match msg.split_once(": ") {
        Some((k, r)) if !k.contains(' ') => (k.to_string(), r.to_string()),
        _ => (String::new(), msg.clone()),
    };
    // serde_yaml writes list items as `lifecycle[0]`; key paths here are `lifecycle.0`.
    key = key.replace('[', ".").replace(']', "");
    if let Some(unknown) = rest.strip_prefix("unknown field `") {
        if let Some((field, expected)) = unknown.split_once('`') {
            let valid: Vec<&str> = expected
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            let field = field.to_string();
            rest = if valid.is_empty() {
                format!("unknown key `{field}`: this map takes no keys")
            } else {
                format!(
                    "unknown key `{field}`{}; valid keys here: {}",
                    crate::suggest::did_you_mean(&field, valid.iter().copied()),
                    valid.join(", ")
                )
            };
            key = if key.is_empty() {
                field
            } else {
                format!("{key}.{field}")
            };
            return (key, rest);
        }
    }
    // A wrong scalar: the key on the error's line is more precise than serde's path.
    let scalar = (rest.starts_with("invalid type: ") || rest.starts_with("invalid value: "))
        && !rest.starts_with("invalid type: map")
        && !rest.starts_with("invalid type: sequence");
    if let (true, Some(loc)) = (scalar, e.location()) {
        let (locator, _) = locate::scan(text);
        if let Some(at) = locator.key_at(loc.line(), loc.column()) {
            if at.len() > key.len() && (key.is_empty() || at.starts_with(&format!("{key}."))) {
                key = at;
            }
        }
    }
    (key, rest)
}

/// The spec's JSON Schema (draft 2020-12), generated from the types the parser uses
/// ([`model::Spec`]), so it cannot disagree with `validate` about which keys exist.
pub fn json_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(Spec)).unwrap_or(serde_json::Value::Null);
    schema["title"] = serde_json::Value::String("novactl environment spec".into());
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<LoadedSpec, SpecError> {
        LoadedSpec::from_text(Path::new("env.yaml"), text.to_string())
            .map_err(|mut e| e.errors.remove(0))
    }

    #[test]
    fn unknown_key_names_line_key_and_nearest_valid_key() {
        let err = load("environment: prod\nregion: us-east-1\nkms:\n  phi:\n    alias: alias/x\n    rotaton: true\n")
            .unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
        assert_eq!(err.key, "kms.phi.rotaton", "{err}");
        assert!(err.message.contains("did you mean `rotation`"), "{err}");
        assert!(err.to_string().starts_with("env.yaml:6:"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = load("environment: prod\nregion: us-east-1\ns3:\n  b:\n    name: x\n    kms_key: k\n    versioning: sometimes\n").unwrap_err();
        assert_eq!(err.line, Some(7), "{err}");
        assert!(err.key.starts_with("s3.b"), "{err}");
    }

    #[test]
    fn missing_required_key_is_reported() {
        let err = load("environment: prod\n").unwrap_err();
        assert!(err.message.contains("region"), "{err}");
    }

    #[test]
    fn bad_region_and_account() {
        let err = load("environment: prod\nregion: moon\n").unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("region", Some(2)));
        let err = load("environment: prod\nregion: us-east-1\naccount_id: \"12\"\n").unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("account_id", Some(3)));
    }
}
