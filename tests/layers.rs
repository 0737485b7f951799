//! The layering of `src/`, kept true: a module may import its own layer and the layers below
//! it, never one above. A fitness function in the sense of "Building Evolutionary
//! Architectures": it reads the sources (no build of the crate needed) and fails naming every
//! `crate::…` path that points up.
//!
//! Layers, lowest first (docs/architecture.md shows the same table):
//!
//! | rank | modules | may use |
//! |---|---|---|
//! | 0 | `address`, `suggest`, `redact`, `policy`, `interrupt`, `clock`, `permissions` | nothing of the crate above |
//! | 1 | `spec` | rank 0 |
//! | 2 | `aws`, `faults` | ranks 0–1 |
//! | 3 | `plan`, `cost` | ranks 0–2 and each other |
//! | 4 | `state` | ranks 0–3 |
//! | 5 | `resources` | ranks 0–4 |
//! | 6 | `graph`, `engine`, `discovery`, `apply`, `compliance`, `shell` | ranks 0–5 and each other |
//! | 7 | `ops` | ranks 0–6 |
//! | 8 | `commands`, `cli`, `main` | everything |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] = &[
    ("suggest", 0),
    ("redact", 0),
    ("policy", 0),
    ("interrupt", 0),
    ("address", 0),
    ("clock", 0),
    ("permissions", 0),
    ("spec", 1),
    ("aws", 2),
    ("faults", 2),
    ("plan", 3),
    ("cost", 3),
    ("state", 4),
    ("resources", 5),
    ("graph", 6),
    ("engine", 6),
    ("discovery", 6),
    ("apply", 6),
    ("compliance", 6),
    ("shell", 6),
    ("ops", 7),
    ("commands", 8),
    ("cli", 8),
    ("main", 8),
];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The top-level module a source file belongs to (`src/resources/kit/tags.rs` → `resources`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let first = first.as_os_str().to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// Every top-level module named by a `crate::` path in `text` (comments left out), with its
/// line: `crate::ops::Failure`, and each name in `use crate::{ops, spec::X}`.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            // `xcrate::` is another identifier.
            let before = rest[..at].chars().last();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                let mut depth = 0;
                let mut item = String::new();
                for c in inner.chars().chain([',']) {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            let name = item.trim().split("::").next().unwrap_or_default();
                            if !name.is_empty() {
                                out.push((i + 1, name.to_string()));
                            }
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((i + 1, name));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `file:line: <module> (rank r) imports <target> (rank t)` for every import that points up,
/// and `file: <module> is in no layer` for a module the table does not know.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let module = module_of(src, &file);
        let Some(own) = rank(&module) else {
            out.push(format!(
                "{}: module `{module}` is in no layer (add it to LAYERS in tests/layers.rs \
                 and to docs/architecture.md)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (line, target) in crate_refs(&text) {
            match rank(&target) {
                Some(t) if t > own => out.push(format!(
                    "{}:{line}: `{module}` (layer {own}) imports `crate::{target}` (layer {t})",
                    file.display()
                )),
                Some(_) => {}
                None => out.push(format!(
                    "{}:{line}: `crate::{target}` is in no layer",
                    file.display()
                )),
            }
        }
    }
    out
}

#[test]
fn no_module_imports_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = violations(&src);
    assert!(
        v.is_empty(),
        "imports that point up a layer ({}):\n  {}",
        v.len(),
        v.join("\n  ")
    );
}

#[test]
fn the_check_sees_an_upward_import_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("resources")).unwrap();
    std::fs::create_dir_all(src.join("ops")).unwrap();
    std::fs::write(
        src.join("resources/kms.rs"),
        "use crate::aws::AwsError;\n\
         use crate::ops::Failure;\n\
         use crate::{spec, commands::Args};\n\
         // crate::cli in a comment is not an import\n\
         fn f() -> crate::shell::Shell { todo!() }\n",
    )
    .unwrap();
    std::fs::write(src.join("ops/run.rs"), "use crate::resources::Decl;\n").unwrap();
    std::fs::write(src.join("widgets.rs"), "").unwrap();
    let v = violations(&src);
    let found: BTreeMap<String, usize> = v.iter().fold(BTreeMap::new(), |mut m, l| {
        let key = l.rsplit('`').nth(1).unwrap_or(l).to_string();
        *m.entry(key).or_default() += 1;
        m
    });
    assert_eq!(v.len(), 4, "{v:#?}");
    assert!(v
        .iter()
        .any(|l| l.contains("kms.rs:2:") && l.contains("crate::ops")));
    assert!(v
        .iter()
        .any(|l| l.contains("kms.rs:3:") && l.contains("crate::commands")));
    assert!(v
        .iter()
        .any(|l| l.contains("kms.rs:5:") && l.contains("crate::shell")));
    assert!(v.iter().any(|l| l.contains("`widgets` is in no layer")));
    assert!(
        !found.contains_key("crate::cli"),
        "comments are not imports"
    );
}
