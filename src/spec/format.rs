//! `novactl fmt`: a spec rewritten in canonical key order and indentation, comments kept.
//!
//! No YAML crate keeps comments through a parse and re-emit, so this works on lines:
//!
//! 1. Each line is a blank, a comment, or content. A sequence item that opens a mapping
//!    (`- id: x`) is split into the dash and the mapping's first line, so every block is a
//!    run of lines at one indentation.
//! 2. Lines become a tree of blocks (mappings and sequences). Every entry owns the blank and
//!    comment lines just above it (they move with it), the text of its line (kept verbatim:
//!    quoting, flow collections, trailing comments) and any continuation lines (block scalars,
//!    multi-line flow values; re-indented as a whole, their inner layout kept). Comments
//!    below the last entry of a block, indented like that block, stay at its end.
//! 3. Mapping entries are ordered as the spec's types declare their fields (the same JSON
//!    Schema `novactl schema` prints); maps of user names (`s3:`, `vars:`, `tags:`) keep the
//!    user's order. The tree is written back with two spaces per level, sequences indented
//!    under their key, runs of blank lines collapsed to one. The comments above the first key
//!    of the file are its header and stay on top.
//! 4. The result must parse to the same YAML value as the input and hold the same comments;
//!    if not (YAML this does not understand), nothing is written and the file is left as is.

use serde_json::Value;

/// Why a file could not be formatted (it is never written then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

const STEP: usize = 2;

/// One logical line: physical lines, with `- key: v` split in two.
#[derive(Debug, Clone)]
enum Line {
    Blank,
    Comment {
        indent: usize,
        text: String,
    },
    Content {
        indent: usize,
        text: String,
        no: usize,
    },
    /// A sequence dash; `inline` is a scalar item written on the same line.
    Dash {
        indent: usize,
        inline: Option<String>,
        no: usize,
    },
}

impl Line {
    fn indent(&self) -> Option<usize> {
        match self {
            Line::Blank => None,
            Line::Comment { indent, .. }
            | Line::Content { indent, .. }
            | Line::Dash { indent, .. } => Some(*indent),
        }
    }
    fn is_content(&self) -> bool {
        matches!(self, Line::Content { .. } | Line::Dash { .. })
    }
}

/// A blank or comment line above an entry or at the end of a block.
#[derive(Debug, Clone)]
enum Extra {
    Blank,
    Comment(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Seq,
}

#[derive(Debug, Clone)]
struct Block {
    kind: Kind,
    entries: Vec<Entry>,
    trailer: Vec<Extra>,
}

#[derive(Debug, Clone)]
struct Entry {
    leading: Vec<Extra>,
    /// Map: the whole line (`key: value  # c`). Seq: the inline item, if any.
    head: Option<String>,
    /// Map: the key, unquoted, for ordering.
    key: Option<String>,
    /// Continuation lines: (indent relative to the entry, text).
    cont: Vec<(usize, String)>,
    child: Option<Block>,
}

/// The comment part of a line (from a `#` that starts a comment), if any.
fn comment_start(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => {
                if c == '#' && prev_space {
                    return Some(i);
                }
                if (c == '"' || c == '\'') && prev_space_or_start(text, i) {
                    quote = Some(c);
                }
            }
        }
        prev_space = c == ' ' || c == '\t';
    }
    None
}

fn prev_space_or_start(text: &str, i: usize) -> bool {
    i == 0 || text[..i].ends_with([' ', '[', '{', ',', ':', '-'])
}

/// `(key, value)` when `text` is a mapping entry (`key: value`, `key:`), else `None`.
fn split_key(text: &str) -> Option<(String, String)> {
    let body = match comment_start(text) {
        Some(i) => text[..i].trim_end(),
        None => text,
    };
    if body.starts_with(['"', '\'']) {
        let q = body.chars().next()?;
        let end = body[1..].find(q)? + 1;
        let rest = body[end + 1..].trim_start();
        let value = rest.strip_prefix(':')?;
        if !value.is_empty() && !value.starts_with(' ') {
            return None;
        }
        return Some((body[1..end].to_string(), value.trim().to_string()));
    }
    if body.starts_with(['[', '{', '|', '>', '&', '*', '!', '%', '@', '`']) {
        return None;
    }
    let (key, value) = match body.find(": ") {
        Some(i) => (&body[..i], &body[i + 2..]),
        None => body.strip_suffix(':').map(|k| (k, ""))?,
    };
    if key.contains(" #") || key.is_empty() {
        return None;
    }
    Some((key.trim_end().to_string(), value.trim().to_string()))
}

/// A `key: value` line with one space after the colon (`region:     us-east-1` ->
/// `region: us-east-1`) and none before it; the value and any trailing comment (with the
/// space before it, which may align comments) are kept. Other lines are returned as is.
fn tidy(text: &str) -> String {
    if split_key(text).is_none() {
        return text.to_string();
    }
    let (body, comment) = match comment_start(text) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let trimmed = body.trim_end();
    let gap = &body[trimmed.len()..];
    let key_end = if trimmed.starts_with(['"', '\'']) {
        let q = &trimmed[..1];
        match trimmed[1..].find(q) {
            Some(e) => e + 2,
            None => return text.to_string(),
        }
    } else {
        match trimmed.find(": ") {
            Some(i) => i,
            None => trimmed.len() - 1,
        }
    };
    let key = trimmed[..key_end].trim_end();
    let Some(value) = trimmed[key_end..].trim_start().strip_prefix(':') else {
        return text.to_string();
    };
    let value = value.trim();
    let mut out = format!("{key}:");
    if !value.is_empty() {
        out.push(' ');
        out.push_str(value);
    }
    if !comment.is_empty() {
        out.push_str(if gap.is_empty() { " " } else { gap });
        out.push_str(comment);
    }
    out
}

fn lines(src: &str) -> Result<Vec<Line>, FormatError> {
    let mut out = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let no = i + 1;
        if raw.contains('\t') && raw.trim_start_matches(' ').starts_with('\t') {
            return Err(FormatError {
                line: Some(no),
                message: "indented with a tab; YAML indents with spaces".into(),
            });
        }
        let text = raw.trim_end();
        let trimmed = text.trim_start();
        let indent = text.len() - trimmed.len();
        if trimmed.is_empty() {
            out.push(Line::Blank);
        } else if trimmed.starts_with('#') {
            out.push(Line::Comment {
                indent,
                text: trimmed.to_string(),
            });
        } else if trimmed == "---" || trimmed == "..." || trimmed.starts_with("--- ") {
            return Err(FormatError {
                line: Some(no),
                message: "document markers (`---`) are not supported by fmt".into(),
            });
        } else {
            push_content(&mut out, indent, trimmed, no);
        }
    }
    Ok(out)
}

/// Pushes a content line, splitting `- key: v` / `- - x` into a dash and its first line.
fn push_content(out: &mut Vec<Line>, indent: usize, text: &str, no: usize) {
    let rest = if text == "-" {
        Some("")
    } else {
        text.strip_prefix("- ")
    };
    let Some(rest) = rest else {
        out.push(Line::Content {
            indent,
            text: tidy(text),
            no,
        });
        return;
    };
    let item = rest.trim_start();
    let col = indent + 1 + (rest.len() - item.len()) + usize::from(!rest.is_empty());
    if item.is_empty() || item.starts_with('#') {
        out.push(Line::Dash {
            indent,
            inline: None,
            no,
        });
        if item.starts_with('#') {
            out.push(Line::Comment {
                indent: col,
                text: item.to_string(),
            });
        }
    } else if split_key(item).is_some() || item == "-" || item.starts_with("- ") {
        out.push(Line::Dash {
            indent,
            inline: None,
            no,
        });
        push_content(out, col, item, no);
    } else {
        out.push(Line::Dash {
            indent,
            inline: Some(item.to_string()),
            no,
        });
    }
}

struct Parser {
    lines: Vec<Line>,
    pos: usize,
}

impl Parser {
    fn next_content(&self, from: usize) -> Option<usize> {
        (from..self.lines.len()).find(|&i| self.lines[i].is_content())
    }

    /// Parses the block whose entries sit at `indent`. `indentless`: a sequence at its parent
    /// key's indentation (`key:\n- a`), which ends at the first non-dash line.
    fn block(&mut self, indent: usize, indentless: bool) -> Result<Block, FormatError> {
        let first = self.next_content(self.pos).map(|i| &self.lines[i]);
        let kind = match first {
            Some(Line::Dash { .. }) => Kind::Seq,
            _ => Kind::Map,
        };
        let mut block = Block {
            kind,
            entries: Vec::new(),
            trailer: Vec::new(),
        };
        loop {
            let next = self.next_content(self.pos);
            let ends = match next.map(|i| &self.lines[i]) {
                None => true,
                Some(l) => {
                    let li = l.indent().unwrap_or(0);
                    li < indent
                        || (li == indent && kind == Kind::Seq && !matches!(l, Line::Dash { .. }))
                        || (li == indent && kind == Kind::Map && matches!(l, Line::Dash { .. }))
                        || (indentless && !matches!(l, Line::Dash { .. }))
                }
            };
            let upto = next.unwrap_or(self.lines.len());
            if ends {
                // Comments indented at least like this block stay at its end.
                let mut last = None;
                for i in self.pos..upto {
                    match &self.lines[i] {
                        Line::Comment { indent: ci, .. } if *ci >= indent => last = Some(i),
                        Line::Comment { .. } => break,
                        _ => {}
                    }
                }
                if let Some(last) = last {
                    for i in self.pos..=last {
                        block.trailer.push(extra(&self.lines[i]));
                    }
                    self.pos = last + 1;
                }
                return Ok(block);
            }
            let mut leading = Vec::new();
            for i in self.pos..upto {
                leading.push(extra(&self.lines[i]));
            }
            self.pos = upto;
            let line = self.lines[upto].clone();
            let li = line.indent().unwrap_or(0);
            if li > indent {
                return Err(FormatError {
                    line: line_no(&line),
                    message: "unexpected indentation".into(),
                });
            }
            self.pos += 1;
            let entry = match line {
                Line::Content { text, no, .. } => {
                    let Some((key, value)) = split_key(&text) else {
                        return Err(FormatError {
                            line: Some(no),
                            message: "expected `key: value` here".into(),
                        });
                    };
                    let mut e = Entry {
                        leading,
                        head: Some(text.clone()),
                        key: Some(key),
                        cont: Vec::new(),
                        child: None,
                    };
                    if value.is_empty() {
                        e.child = self.child(indent)?;
                    } else {
                        e.cont = self.continuation(indent);
                    }
                    e
                }
                Line::Dash { inline, .. } => {
                    let mut e = Entry {
                        leading,
                        head: inline.clone(),
                        key: None,
                        cont: Vec::new(),
                        child: None,
                    };
                    if inline.is_some() {
                        e.cont = self.continuation(indent);
                    } else if let Some(i) = self.next_content(self.pos) {
                        let ci = self.lines[i].indent().unwrap_or(0);
                        if ci > indent {
                            e.child = Some(self.block(ci, false)?);
                        }
                    }
                    e
                }
                _ => unreachable!("content line"),
            };
            block.entries.push(entry);
        }
    }

    /// The block under a `key:` at `indent`, if any.
    fn child(&mut self, indent: usize) -> Result<Option<Block>, FormatError> {
        let Some(i) = self.next_content(self.pos) else {
            return Ok(None);
        };
        let l = &self.lines[i];
        let ci = l.indent().unwrap_or(0);
        if ci > indent {
            Ok(Some(self.block(ci, false)?))
        } else if ci == indent && matches!(l, Line::Dash { .. }) {
            Ok(Some(self.block(ci, true)?))
        } else {
            Ok(None)
        }
    }

    /// Lines more indented than an entry that has a value (block scalars, multi-line flow):
    /// kept as text, relative to the entry. Trailing blank lines are not part of it.
    fn continuation(&mut self, indent: usize) -> Vec<(usize, String)> {
        let mut end = self.pos;
        let mut i = self.pos;
        while i < self.lines.len() {
            match &self.lines[i] {
                Line::Blank => {}
                l if l.indent().unwrap_or(0) > indent => end = i + 1,
                _ => break,
            }
            i += 1;
        }
        let mut out = Vec::new();
        for l in &self.lines[self.pos..end] {
            match l {
                Line::Blank => out.push((0, String::new())),
                Line::Comment { indent: ci, text } => out.push((ci - indent, text.clone())),
                Line::Content {
                    indent: ci, text, ..
                } => out.push((ci - indent, text.clone())),
                Line::Dash {
                    indent: ci, inline, ..
                } => out.push((
                    ci - indent,
                    format!("- {}", inline.clone().unwrap_or_default())
                        .trim_end()
                        .to_string(),
                )),
            }
        }
        self.pos = end;
        out
    }
}

fn line_no(l: &Line) -> Option<usize> {
    match l {
        Line::Content { no, .. } | Line::Dash { no, .. } => Some(*no),
        _ => None,
    }
}

fn extra(l: &Line) -> Extra {
    match l {
        Line::Comment { text, .. } => Extra::Comment(text.clone()),
        _ => Extra::Blank,
    }
}

/// Follows `$ref` and picks the non-null branch of `anyOf`/`oneOf` (an `Option<T>`).
fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let path = r.trim_start_matches("#/");
            match path.split('/').try_fold(root, |cur, seg| cur.get(seg)) {
                Some(t) => s = t,
                None => return s,
            }
            continue;
        }
        let branches = s
            .get("anyOf")
            .or_else(|| s.get("oneOf"))
            .and_then(Value::as_array);
        if let Some(b) = branches {
            match b
                .iter()
                .find(|v| v.get("type") != Some(&Value::from("null")))
            {
                Some(t) => {
                    s = t;
                    continue;
                }
                None => return s,
            }
        }
        return s;
    }
    s
}

fn order(root: &Value, block: &mut Block, schema: Option<&Value>) {
    let schema = schema.map(|s| resolve(root, s));
    match block.kind {
        Kind::Map => {
            let props = schema
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object);
            if let Some(props) = props {
                let rank = |e: &Entry| {
                    e.key
                        .as_deref()
                        .and_then(|k| props.keys().position(|p| p == k))
                        .unwrap_or(usize::MAX)
                };
                // Stable: keys the schema does not know keep their order, at the end.
                block.entries.sort_by_key(|e| rank(e));
            }
            for e in &mut block.entries {
                let sub = match (props, schema, e.key.as_deref()) {
                    (Some(p), _, Some(k)) => p.get(k),
                    (None, Some(s), _) => s.get("additionalProperties"),
                    _ => None,
                };
                if let Some(c) = &mut e.child {
                    order(root, c, sub.filter(|v| v.is_object()));
                }
            }
        }
        Kind::Seq => {
            let items = schema.and_then(|s| s.get("items"));
            for e in &mut block.entries {
                if let Some(c) = &mut e.child {
                    order(root, c, items);
                }
            }
        }
    }
}

fn emit_extras(extras: &[Extra], indent: usize, out: &mut Vec<String>) {
    for x in extras {
        match x {
            Extra::Blank => out.push(String::new()),
            Extra::Comment(c) => out.push(format!("{}{c}", " ".repeat(indent))),
        }
    }
}

fn emit(block: &Block, indent: usize, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    for e in &block.entries {
        emit_extras(&e.leading, indent, out);
        match block.kind {
            Kind::Map => out.push(format!("{pad}{}", e.head.as_deref().unwrap_or_default())),
            Kind::Seq => match (&e.head, &e.child) {
                (Some(h), _) => out.push(format!("{pad}- {h}")),
                (None, Some(c)) if c.entries.first().is_some_and(|f| f.leading.is_empty()) => {
                    // `- key: v` with the rest of the item under it.
                    let mut sub = Vec::new();
                    emit(c, indent + STEP, &mut sub);
                    if let Some(first) = sub.first_mut() {
                        *first = format!("{pad}- {}", first.trim_start());
                    }
                    out.extend(sub);
                    continue;
                }
                (None, _) => out.push(format!("{pad}-")),
            },
        }
        for (rel, text) in &e.cont {
            if text.is_empty() {
                out.push(String::new());
            } else {
                out.push(format!("{}{text}", " ".repeat(indent + rel)));
            }
        }
        if let Some(c) = &e.child {
            emit(c, indent + STEP, out);
        }
    }
    emit_extras(&block.trailer, indent, out);
}

/// Every comment of a text, in order (to check none was lost).
fn comments(src: &str) -> Vec<String> {
    let mut v: Vec<String> = src
        .lines()
        .filter_map(|l| comment_start(l).map(|i| l[i..].trim_end().to_string()))
        .collect();
    v.sort();
    v
}

/// The canonical form of `src`, ordered by `schema` (the JSON Schema of the spec).
pub fn format(src: &str, schema: &Value) -> Result<String, FormatError> {
    // A byte-order mark is kept where it is, at the start (it is not part of the first key).
    if let Some(body) = src.strip_prefix('\u{feff}') {
        return format(body, schema).map(|t| format!("\u{feff}{t}"));
    }
    if serde_yaml::from_str::<serde_yaml::Value>(src).is_err() {
        return Err(FormatError {
            line: None,
            message: "the file is not valid YAML".into(),
        });
    }
    let mut p = Parser {
        lines: lines(src)?,
        pos: 0,
    };
    let mut root = p.block(0, false)?;
    // Blank lines at the end of the file are dropped.
    while matches!(p.lines.get(p.pos), Some(Line::Blank)) {
        p.pos += 1;
    }
    if p.pos < p.lines.len() {
        return Err(FormatError {
            line: p.lines[p.pos..].iter().find_map(line_no),
            message: "fmt does not understand the layout from here".into(),
        });
    }
    // The file's header (the comments above its first key) stays on top.
    let mut header = Vec::new();
    if let Some(first) = root.entries.first_mut() {
        header = std::mem::take(&mut first.leading);
    }
    order(schema, &mut root, Some(schema));
    let mut out = Vec::new();
    emit_extras(&header, 0, &mut out);
    emit(&root, 0, &mut out);
    // Runs of blank lines become one; none at the start or the end.
    let mut text = String::new();
    let mut blank = true;
    for l in out {
        if l.is_empty() {
            if !blank {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(&l);
            text.push('\n');
            blank = false;
        }
    }
    while text.ends_with("\n\n") {
        text.pop();
    }
    check_faithful(src, &text)?;
    Ok(text)
}

/// The formatted text means the same YAML and keeps every comment.
fn check_faithful(src: &str, out: &str) -> Result<(), FormatError> {
    let a: Result<serde_yaml::Value, _> = serde_yaml::from_str(src);
    let b: Result<serde_yaml::Value, _> = serde_yaml::from_str(out);
    let same = match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), _) => {
            return Err(FormatError {
                line: None,
                message: "the file is not valid YAML".into(),
            })
        }
        (Ok(_), Err(_)) => false,
    };
    if !same {
        return Err(FormatError {
            line: None,
            message: "fmt could not rewrite this file faithfully (its YAML layout is one fmt \
                      does not handle); the file is left as it is"
                .into(),
        });
    }
    if comments(src) != comments(out) {
        return Err(FormatError {
            line: None,
            message: "fmt would lose or change a comment in this file; the file is left as it is"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        crate::spec::json_schema()
    }

    #[test]
    fn reorders_struct_keys_keeps_user_maps_and_comments() {
        let src = "\
# header comment

region: us-east-1   # primary
environment: dev
s3:
  zeta:
    kms_key: k     # the key
    # the bucket's name
    name: z
  alpha:
      name: a
      kms_key: k
      lifecycle:
      - prefix: logs/
        id: r1    # rule
        transitions: [{ days: 30, storage_class: GLACIER }]
";
        let want = "\
# header comment

environment: dev
region: us-east-1   # primary
s3:
  zeta:
    # the bucket's name
    name: z
    kms_key: k     # the key
  alpha:
    name: a
    kms_key: k
    lifecycle:
      - id: r1    # rule
        prefix: logs/
        transitions: [{ days: 30, storage_class: GLACIER }]
";
        let got = format(src, &schema()).unwrap();
        assert_eq!(got, want);
        assert_eq!(format(&got, &schema()).unwrap(), got, "idempotent");
    }

    #[test]
    fn block_scalars_and_trailing_comments_survive() {
        let src = "\
environment: dev
region: us-east-1
vars:
  script: |
    line one
      indented # not a comment

    after a blank
  other: 1
kms:
  k:
    alias: alias/k
    # trailing note about k
";
        let got = format(src, &schema()).unwrap();
        assert_eq!(got, src, "already canonical");
        let padded = format!("{src}\n\n");
        assert_eq!(
            format(&padded, &schema()).unwrap(),
            src,
            "blank lines at the end go"
        );
    }

    #[test]
    fn spacing_is_normalised_and_a_bom_kept() {
        let src = "\
environment:   dev
region:     us-east-1   # primary
\"quoted key\"  :   1
vars:
  project :  p
  list:
    -   id:    a     # kept gap
  empty:    # nothing
  url:  \"http://x:1\"
";
        let want = "\
environment: dev
region: us-east-1   # primary
\"quoted key\": 1
vars:
  project: p
  list:
    - id: a     # kept gap
  empty:    # nothing
  url: \"http://x:1\"
";
        assert_eq!(format(src, &json!({})).unwrap(), want);
        let bom = format!("\u{feff}{src}");
        assert_eq!(format(&bom, &json!({})).unwrap(), format!("\u{feff}{want}"));
    }

    #[test]
    fn what_it_cannot_rewrite_is_refused_not_mangled() {
        let err = format("---\nenvironment: dev\nregion: x\n", &schema()).unwrap_err();
        assert_eq!(err.line, Some(1), "{err}");
        let err = format("a: [1,\n2\n", &json!({})).unwrap_err();
        assert!(err.message.contains("not valid YAML"), "{err}");
    }
}
