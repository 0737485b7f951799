//! `import`: the spec entry describing a live resource, printed (YAML in `fmt`'s canonical
//! form, under its section, ready to paste), with the template files it needs written beside
//! it (`--write DIR`). The mapping is each kind's ([`crate::resources::Reconciler::import`]);
//! this reads only, never writes to AWS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value};

use crate::ops::options::GlobalOptions;
use crate::ops::session::Session;
use crate::ops::Failure;
use crate::resources::kit::import::ImportRequest;
use crate::shell::Shell;

pub struct Options {
    /// The spec section (`s3`, `kms`, `cloudwatch.alarms` ...).
    pub kind: String,
    /// The live resource's id (a bucket name, a key id or alias ...).
    pub id: String,
    /// The logical name (`--as`); default: derived from the id.
    pub name: Option<String>,
    /// Where template files go (`--write DIR`).
    pub write: Option<PathBuf>,
}

/// The sections `import` takes, in registry order.
fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in crate::resources::registry() {
        if !out.contains(&k.info().section) {
            out.push(k.info().section);
        }
    }
    out
}

pub async fn import(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let registry = crate::resources::registry();
    // A section several kinds share (`cloudtrail`) means the kind of that name.
    let kind = registry
        .iter()
        .find(|k| k.info().section == o.kind && k.kind() == o.kind)
        .or_else(|| registry.iter().find(|k| k.info().section == o.kind))
        // A kind's own name (`security_group`, `log_group`).
        .or_else(|| registry.iter().find(|k| k.kind() == o.kind))
        .ok_or_else(|| {
            let all = sections();
            Failure::Usage(format!(
                "`{}` is not a spec section{} (sections: {})",
                o.kind,
                crate::suggest::did_you_mean(&o.kind, all.iter().copied()),
                all.join(", ")
            ))
        })?;
    if let Some(n) = &o.name {
        let valid = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(Failure::Usage(format!(
                "--as `{n}`: a logical name is lower-case letters, digits and `_`"
            )));
        }
    }
    let s = Session::connect(g, sh).await?;
    let cx = s.ctx();
    let req = ImportRequest {
        id: &o.id,
        region: &s.model.spec.spec.region,
        spec: &s.model.spec,
        decls: &s.model.decls,
    };
    let imported = crate::aws::on_behalf_of(kind.kind(), kind.import(&cx, &req))
        .await
        .map_err(|e| Failure::Aws(format!("import {} {}: {e}", o.kind, o.id)))?;
    let name = o.name.clone().unwrap_or(imported.name);
    let mut entry = imported.entry;
    let mut comments = imported.comments;
    for (key, file, text) in &imported.files {
        match &o.write {
            Some(dir) => {
                let path = dir.join(file);
                std::fs::create_dir_all(dir)
                    .and_then(|_| std::fs::write(&path, text))
                    .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
                let spec_dir = s.model.spec.path.parent().unwrap_or(Path::new("."));
                insert_file_key(&mut entry, key, relative(&path, spec_dir));
                sh.status(&format!("wrote {}", path.display()));
            }
            None => comments.push(format!(
                "`{key}` is left out (not managed): pass --write DIR to write it to a file"
            )),
        }
    }
    if s.model.decl(&format!("{}.{name}", kind.kind())).is_some() {
        comments.push(format!(
            "the spec already has {}.{name}: pick another name with --as",
            kind.kind()
        ));
    }
    let text = render(kind.info().section, &name, entry, &comments)?;
    sh.out(&text);
    s.summary(sh);
    sh.status(&format!(
        "paste it into the spec, then: novactl apply -e {} --adopt {}.{name}",
        g.env.as_deref().unwrap_or(Path::new("SPEC")).display(),
        kind.kind()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The entry under its section (`cloudwatch.alarms` nests), in `fmt`'s canonical form, with
/// the comments above it.
fn render(
    section: &str,
    name: &str,
    entry: Map<String, Value>,
    comments: &[String],
) -> Result<String, Failure> {
    let mut doc = Value::Object(Map::from_iter([(name.to_string(), Value::Object(entry))]));
    for part in section.rsplit('.') {
        doc = Value::Object(Map::from_iter([(part.to_string(), doc)]));
    }
    let yaml = serde_yaml::to_string(&doc).map_err(|e| Failure::Usage(e.to_string()))?;
    let yaml = crate::spec::format::format(&yaml, &crate::ops::schema::spec_schema())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let mut out = String::new();
    for c in comments {
        out.push_str(&format!("# {c}\n"));
    }
    out.push_str(&yaml);
    Ok(out)
}

/// Sets `key` to a file's path: `a.b` sets `b` of the map `a` (an IAM role's
/// `policies.<policy name>`; the name after the first dot may hold dots).
fn insert_file_key(entry: &mut Map<String, Value>, key: &str, path: String) {
    match key.split_once('.') {
        Some((outer, inner)) => {
            let slot = entry
                .entry(outer.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = slot {
                m.insert(inner.to_string(), Value::String(path));
            }
        }
        None => {
            entry.insert(key.to_string(), Value::String(path));
        }
    }
}

/// `path` as the spec refers to files: relative to the spec's directory where possible.
fn relative(path: &Path, spec_dir: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (p, base) = (abs(path), abs(spec_dir));
    let common = p
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return p.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in base.components().skip(common) {
        rel.push("..");
    }
    for c in p.components().skip(common) {
        rel.push(c);
    }
    rel.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_sits_under_its_section() {
        let entry = Map::from_iter([("name".to_string(), Value::String("Hi".into()))]);
        let text = render("cloudwatch.alarms", "hi", entry, &["a note".into()]).unwrap();
        assert_eq!(
            text,
            "# a note\ncloudwatch:\n  alarms:\n    hi:\n      name: Hi\n"
        );
    }

    #[test]
    fn a_dotted_file_key_nests_once() {
        let mut entry = Map::new();
        insert_file_key(&mut entry, "policy", "p.json".into());
        insert_file_key(&mut entry, "policies.s3.read", "a.json".into());
        insert_file_key(&mut entry, "policies.logs", "b.json".into());
        assert_eq!(
            Value::Object(entry),
            serde_json::json!({"policy": "p.json", "policies": {"s3.read": "a.json", "logs": "b.json"}})
        );
    }

    #[test]
    fn files_are_relative_to_the_spec() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("env")).unwrap();
        std::fs::create_dir_all(d.path().join("policies")).unwrap();
        let f = d.path().join("policies/p.json");
        std::fs::write(&f, "{}").unwrap();
        assert_eq!(relative(&f, &d.path().join("env")), "../policies/p.json");
    }
}
