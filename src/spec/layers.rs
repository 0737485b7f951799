//! Layered specs: `extend:`, YAML merge keys, `x-` keys, `--var`, and where every key came from.
//!
//! A spec file may `extend:` one or more base files (a string or a list; paths relative to the
//! extending file, or to the current directory for a spec read from stdin). Bases load
//! recursively, in order (a later base wins over an earlier one, the extending file over all of
//! them): mappings merge deeply, anything else (lists included) is replaced, and `null` removes
//! the key. YAML merge keys (`<<: *anchor`) are applied in each file; top-level `x-...` keys
//! (anchors for reuse) are dropped after merging, with `extend` itself.
//!
//! [`Origins`] records, for every key path of the merged spec, the file and line its value came
//! from, so every later error and finding points there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::input;
use super::locate;
use super::{SpecError, SpecErrors};

/// What `-e` names when the spec is read from stdin.
pub fn is_stdin(path: &Path) -> bool {
    path == Path::new("-") || path == Path::new("/dev/stdin")
}

/// Key path -> (file, line, column) of the merged spec.
#[derive(Debug, Default, Clone)]
pub struct Origins {
    files: Vec<PathBuf>,
    /// (index into `files`, line, column); line 0 means "not in a file" (`--var`).
    at: HashMap<String, (usize, usize, usize)>,
}

/// Where one key's value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin<'a> {
    pub file: &'a Path,
    /// `None` for a value given on the command line or in the environment.
    pub line: Option<usize>,
    pub col: Option<usize>,
}

impl Origins {
    /// The files the spec was read from (the spec first, then its bases).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Origin of `path`, or of its nearest recorded ancestor.
    pub fn origin(&self, path: &str) -> Option<Origin<'_>> {
        let mut p = path;
        loop {
            if let Some(&(f, line, col)) = self.at.get(p) {
                return Some(Origin {
                    file: &self.files[f],
                    line: (line > 0).then_some(line),
                    col: (line > 0).then_some(col),
                });
            }
            p = &p[..p.rfind('.')?];
        }
    }

    /// Line and column of `path` (or its nearest ancestor) in the file it came from.
    #[cfg(test)]
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let o = self.origin(path)?;
        Some((o.line?, o.col?))
    }

    fn file_index(&mut self, path: &Path) -> usize {
        match self.files.iter().position(|f| f == path) {
            Some(i) => i,
            None => {
                self.files.push(path.to_path_buf());
                self.files.len() - 1
            }
        }
    }

    fn remove_under(&mut self, p: &str) {
        let dotted = format!("{p}.");
        self.at.retain(|k, _| k != p && !k.starts_with(&dotted));
    }

    fn copy_under(&mut self, from: &Origins, p: &str) {
        let dotted = format!("{p}.");
        for (k, v) in &from.at {
            if k == p || k.starts_with(&dotted) {
                self.at.insert(k.clone(), *v);
            }
        }
    }
}

/// The merged spec: its value (without `extend` and `x-` keys) and every key's origin.
#[derive(Debug, Clone)]
pub struct Layered {
    pub value: Value,
    pub origins: Origins,
}

/// A mapping key as a path segment.
pub fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        _ => "?".into(),
    }
}

fn join(prefix: &str, seg: &str) -> String {
    if prefix.is_empty() {
        seg.to_string()
    } else {
        format!("{prefix}.{seg}")
    }
}

/// Reads `path` (stdin for `-` and `/dev/stdin`) and everything it extends, and merges them.
pub fn load(path: &Path) -> Result<Layered, SpecErrors> {
    let text = if is_stdin(path) {
        input::read_stdin()
    } else {
        input::read_text(path)
    };
    let text = text.map_err(|e| SpecError {
        file: path.to_path_buf(),
        line: e.line,
        col: e.col,
        key: String::new(),
        message: e.message,
    })?;
    from_text(path, &text)
}

/// As [`load`], with the first file's text given.
pub fn from_text(path: &Path, text: &str) -> Result<Layered, SpecErrors> {
    let mut loader = Loader {
        origins: Origins::default(),
        stack: Vec::new(),
        errs: SpecErrors::default(),
    };
    let shown = if is_stdin(path) {
        PathBuf::from("<stdin>")
    } else {
        path.to_path_buf()
    };
    if !is_stdin(path) {
        loader
            .stack
            .push(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
    }
    let merged = loader.file(&shown, path, text);
    loader.errs.into_result()?;
    let Some((mut value, origins)) = merged else {
        return Err(SpecError {
            file: shown,
            line: None,
            col: None,
            key: "extend".into(),
            message: "the spec and its bases could not be merged".into(),
        }
        .into());
    };
    if let Value::Mapping(m) = &mut value {
        m.retain(|k, _| !matches!(k, Value::String(s) if s.starts_with("x-") || s == "extend"));
    }
    let mut layered = Layered {
        value,
        origins: Origins {
            files: loader.origins.files,
            at: origins.at,
        },
    };
    layered.origins.at.retain(|k, _| {
        let top = k.split('.').next().unwrap_or(k);
        !top.starts_with("x-") && top != "extend"
    });
    Ok(layered)
}

struct Loader {
    /// Collects the file list; `at` unused here.
    origins: Origins,
    /// Canonical paths of the files being loaded (cycle detection).
    stack: Vec<PathBuf>,
    errs: SpecErrors,
}

impl Loader {
    fn err(&mut self, file: &Path, line: usize, col: usize, key: &str, message: String) {
        self.errs.push(SpecError {
            file: file.to_path_buf(),
            line: Some(line),
            col: Some(col),
            key: key.to_string(),
            message,
        });
    }

    /// One file (`shown` is how errors name it, `real` where it is) merged over its bases.
    fn file(&mut self, shown: &Path, real: &Path, text: &str) -> Option<(Value, Origins)> {
        let (locator, problems) = locate::scan(text);
        let fatal = problems.iter().any(|p| p.fatal);
        let mut problem_lines = Vec::new();
        for p in problems {
            problem_lines.push(p.line);
            self.err(shown, p.line, p.col, &p.key, p.message);
        }
        if fatal {
            return None;
        }
        let mut value: Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
                // A duplicate key the scan reported fails serde too (at the mapping's line):
                // the scan's words, at the second occurrence, say it better.
                if problem_lines.is_empty() {
                    let mut msg = e.to_string();
                    if let Some(i) = msg.find(" at line ") {
                        msg.truncate(i);
                    }
                    self.err(shown, line, col, "", msg);
                }
                return None;
            }
        };
        if value.is_null() {
            value = Value::Mapping(Mapping::new());
        }
        if !value.is_mapping() {
            self.err(
                shown,
                1,
                1,
                "",
                "a spec is a mapping of keys (environment:, region:, ...)".into(),
            );
            return None;
        }
        if let Err(e) = value.apply_merge() {
            self.err(shown, 1, 1, "", format!("a YAML merge key (`<<`): {e}"));
            return None;
        }
        let idx = self.origins.file_index(shown);
        let mut origins = Origins::default();
        record(&value, "", &mut |p| {
            if let Some((l, c)) = locator.find(p) {
                origins.at.insert(p.to_string(), (idx, l, c));
            }
        });
        let bases = match value.as_mapping_mut().and_then(|m| m.remove("extend")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![("extend".to_string(), s)],
            Some(Value::Sequence(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    let key = format!("extend.{i}");
                    match item {
                        Value::String(s) => out.push((key, s)),
                        _ => {
                            let (l, c) = locator.find(&key).unwrap_or((1, 1));
                            self.err(shown, l, c, &key, "must be a file path".into());
                        }
                    }
                }
                out
            }
            Some(_) => {
                let (l, c) = locator.find("extend").unwrap_or((1, 1));
                self.err(
                    shown,
                    l,
                    c,
                    "extend",
                    "must be a file path or a list of file paths".into(),
                );
                Vec::new()
            }
        };
        if bases.is_empty() {
            return Some((value, origins));
        }
        let dir = if is_stdin(real) {
            PathBuf::from(".")
        } else {
            real.parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
        };
        let mut acc: Option<(Value, Origins)> = None;
        let mut failed = false;
        for (key, rel) in bases {
            let (l, c) = locator.find(&key).unwrap_or((1, 1));
            let base = dir.join(&rel);
            let canon = std::fs::canonicalize(&base).unwrap_or_else(|_| base.clone());
            if let Some(i) = self.stack.iter().position(|p| p == &canon) {
                let chain: Vec<String> = self.stack[i..]
                    .iter()
                    .chain(std::iter::once(&canon))
                    .map(|p| p.display().to_string())
                    .collect();
                self.err(
                    shown,
                    l,
                    c,
                    &key,
                    format!("`extend` makes a cycle: {}", chain.join(" -> ")),
                );
                failed = true;
                continue;
            }
            let text = match input::read_text(&base) {
                Ok(t) => t,
                Err(e) => {
                    self.err(
                        shown,
                        l,
                        c,
                        &key,
                        format!("cannot extend `{rel}`: {}", e.message),
                    );
                    failed = true;
                    continue;
                }
            };
            self.stack.push(canon);
            let loaded = self.file(&base, &base, &text);
            self.stack.pop();
            match (loaded, acc.take()) {
                (None, prev) => {
                    failed = true;
                    acc = prev;
                }
                (Some(b), None) => acc = Some(b),
                (Some((bv, bo)), Some((mut av, mut ao))) => {
                    merge(&mut av, &mut ao, bv, &bo, "");
                    acc = Some((av, ao));
                }
            }
        }
        if failed {
            return None;
        }
        let (mut av, mut ao) = acc?;
        merge(&mut av, &mut ao, value, &origins, "");
        Some((av, ao))
    }
}

/// Calls `f` with every key path of `v` (mapping keys and sequence items).
fn record(v: &Value, prefix: &str, f: &mut dyn FnMut(&str)) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let p = join(prefix, &key_text(k));
                f(&p);
                record(v, &p, f);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                let p = join(prefix, &i.to_string());
                f(&p);
                record(v, &p, f);
            }
        }
        _ => {}
    }
}

/// Merges `over` into `dst`: mappings deeply (`over` wins), anything else replaced, `null`
/// removes the key. Origins follow the values.
pub fn merge(dst: &mut Value, dst_o: &mut Origins, over: Value, over_o: &Origins, prefix: &str) {
    if !(dst.is_mapping() && over.is_mapping()) {
        dst_o.remove_under(prefix);
        dst_o.copy_under(over_o, prefix);
        *dst = over;
        return;
    }
    let (Value::Mapping(d), Value::Mapping(o)) = (dst, over) else {
        unreachable!("both are mappings")
    };
    for (k, v) in o {
        let p = join(prefix, &key_text(&k));
        if v.is_null() {
            d.remove(&k);
            dst_o.remove_under(&p);
            continue;
        }
        match d.get_mut(&k) {
            Some(existing @ Value::Mapping(_)) if v.is_mapping() => {
                if let Some(at) = over_o.at.get(&p) {
                    dst_o.at.insert(p.clone(), *at);
                }
                merge(existing, dst_o, v, over_o, &p);
            }
            _ => {
                dst_o.remove_under(&p);
                dst_o.copy_under(over_o, &p);
                d.insert(k, v);
            }
        }
    }
}

/// Where a `vars` value set outside the files came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VarSource {
    /// `--var KEY=VALUE`
    Flag,
    /// `NOVACTL_VAR_<KEY>`
    Env,
}

impl Layered {
    /// Sets `vars.KEY` to each string value (later entries win; give the environment's first,
    /// then the flags', so a flag beats the environment, which beats the files).
    pub fn set_vars(&mut self, vars: &[(VarSource, String, String)]) {
        if vars.is_empty() {
            return;
        }
        let Value::Mapping(root) = &mut self.value else {
            return;
        };
        let entry = root
            .entry(Value::String("vars".into()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if entry.is_null() {
            *entry = Value::Mapping(Mapping::new());
        }
        // A `vars` that is not a mapping is a type error reported by the parse.
        let Value::Mapping(m) = entry else {
            return;
        };
        for (source, k, v) in vars {
            let label = match source {
                VarSource::Flag => format!("--var {k}"),
                VarSource::Env => format!("NOVACTL_VAR_{k}"),
            };
            let idx = self.origins.file_index(Path::new(&label));
            m.insert(Value::String(k.clone()), Value::String(v.clone()));
            let p = format!("vars.{k}");
            self.origins.remove_under(&p);
            self.origins.at.insert(p, (idx, 0, 0));
        }
    }

    /// `text` (this spec rendered as YAML) with each key's origin as a trailing comment.
    pub fn annotate(&self, text: &str) -> String {
        let (locator, _) = locate::scan(text);
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            out.push_str(line);
            let label = locator
                .key_at(i + 1, line.len() + 1)
                .and_then(|k| self.origin_label(&k));
            if let Some(label) = label {
                out.push_str("  # ");
                out.push_str(&label);
            }
            out.push('\n');
        }
        out
    }

    /// The `--show-origin` label of `path`: `file:line`, or the flag/variable that set it.
    pub fn origin_label(&self, path: &str) -> Option<String> {
        let o = self.origins.origin(path)?;
        Some(match o.line {
            Some(l) => format!("{}:{l}", o.file.display()),
            None => o.file.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn yaml(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn maps_merge_deeply_lists_are_replaced_and_null_removes() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "base.yaml",
            "region: us-east-1\nvars:\n  a: 1\n  b: 2\ntags:\n  T: x\nlist: [1, 2, 3]\ngone: yes\n",
        );
        let top = write(
            d.path(),
            "top.yaml",
            "extend: base.yaml\nvars:\n  b: 3\nlist: [9]\ngone: null\nenvironment: dev\n",
        );
        let l = load(&top).unwrap();
        assert_eq!(
            l.value,
            yaml("region: us-east-1\nvars: {a: 1, b: 3}\ntags: {T: x}\nlist: [9]\nenvironment: dev\n")
        );
        let base = d.path().join("base.yaml");
        assert_eq!(l.origins.origin("vars.a").unwrap().file, base.as_path());
        assert_eq!(l.origins.origin("vars.a").unwrap().line, Some(3));
        assert_eq!(l.origins.origin("vars.b").unwrap().file, top.as_path());
        assert_eq!(l.origins.origin("vars.b").unwrap().line, Some(3));
        assert_eq!(l.origins.origin("list.0").unwrap().file, top.as_path());
        assert!(l.origins.origin("gone").is_none());
    }

    #[test]
    fn bases_load_recursively_and_later_bases_win() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        write(d.path(), "root.yaml", "a: root\nb: root\nc: root\n");
        write(d.path(), "sub/mid.yaml", "extend: ../root.yaml\nb: mid\n");
        write(d.path(), "other.yaml", "c: other\n");
        let top = write(d.path(), "top.yaml", "extend: [sub/mid.yaml, other.yaml]\n");
        let l = load(&top).unwrap();
        assert_eq!(l.value, yaml("a: root\nb: mid\nc: other\n"));
    }

    #[test]
    fn cycles_and_missing_bases_are_errors_at_the_extend_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.yaml", "x: 1\nextend: b.yaml\n");
        write(d.path(), "b.yaml", "extend: [a.yaml]\n");
        let e = load(&d.path().join("a.yaml")).unwrap_err();
        let e = &e.errors[0];
        assert!(e.message.contains("cycle"), "{e}");
        assert!(e.file.ends_with("b.yaml") && e.line == Some(1), "{e}");
        let m = write(
            d.path(),
            "m.yaml",
            "environment: x\nextend:\n  - nope.yaml\n",
        );
        let e = load(&m).unwrap_err();
        let e = &e.errors[0];
        assert!(e.message.contains("cannot extend `nope.yaml`"), "{e}");
        assert_eq!((e.file.as_path(), e.line), (m.as_path(), Some(3)), "{e}");
    }

    #[test]
    fn merge_keys_apply_and_x_keys_are_dropped() {
        let d = tempfile::tempdir().unwrap();
        let f = write(
            d.path(),
            "f.yaml",
            "x-bucket: &b\n  kms_key: phi\n  versioning: true\ns3:\n  data:\n    <<: *b\n    name: n\n",
        );
        let l = load(&f).unwrap();
        assert_eq!(
            l.value,
            yaml("s3:\n  data:\n    kms_key: phi\n    versioning: true\n    name: n\n")
        );
        assert_eq!(l.origins.find("s3.data.name"), Some((7, 5)));
    }

    #[test]
    fn vars_flag_beats_env_beats_file() {
        let mut l = from_text(
            Path::new("f.yaml"),
            "vars:\n  a: file\n  b: file\n  c: file\n",
        )
        .unwrap();
        l.set_vars(&[
            (VarSource::Env, "a".into(), "env".into()),
            (VarSource::Env, "b".into(), "env".into()),
            (VarSource::Flag, "a".into(), "flag".into()),
        ]);
        assert_eq!(l.value, yaml("vars: {a: flag, b: env, c: file}"));
        assert_eq!(l.origin_label("vars.a").unwrap(), "--var a");
        assert_eq!(l.origin_label("vars.b").unwrap(), "NOVACTL_VAR_b");
        assert_eq!(l.origin_label("vars.c").unwrap(), "f.yaml:4");
    }
}
