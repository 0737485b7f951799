//! Where a key sits in the spec file: dotted key path -> line and column.
//!
//! serde gives positions only for parse errors; checks made after parsing (a dangling reference,
//! a duplicate bucket name) still need to point at a line, so the file is walked once with
//! yaml-rust2's marked events and every mapping key and sequence item is recorded.
//!
//! The same walk is the check that runs **before** the file is parsed for real ([`scan`]): it
//! pulls one event at a time and stops at once at nesting deeper than [`MAX_DEPTH`] (so a file
//! of 100k nested brackets fails in microseconds instead of keeping a parser busy for minutes),
//! at a second YAML document, and it notes every plain scalar that is a non-finite number
//! (`.nan`, `.inf`), with its key.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::input::{non_finite, MAX_DEPTH};

#[derive(Debug, Default, Clone)]
pub struct Locator {
    lines: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map {
        key: Option<String>,
        expect_key: bool,
        /// Keys seen so far in this mapping.
        seen: std::collections::HashSet<String>,
    },
    Seq {
        index: usize,
    },
}

struct Recorder {
    stack: Vec<Frame>,
    path: Vec<String>,
    lines: HashMap<String, (usize, usize)>,
    /// A key repeated in one mapping (YAML would silently keep the last).
    duplicate: Option<Problem>,
}

/// Something wrong with the file's shape, found before parsing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub line: usize,
    pub col: usize,
    /// Dotted key path where it was found (empty at the top).
    pub key: String,
    pub message: String,
    /// Parsing must not go on (too deep, several documents).
    pub fatal: bool,
}

impl Recorder {
    /// A value (scalar or collection start) arrived at `mark`: returns true when it is a key.
    fn value_arrives(&mut self, scalar: Option<&str>, mark: Marker) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Map {
                key,
                expect_key,
                seen,
            }) => {
                if *expect_key {
                    let k = scalar.unwrap_or("?").to_string();
                    let mut full = self.path.clone();
                    full.push(k.clone());
                    let full = full.join(".");
                    if scalar.is_some() && !seen.insert(k.clone()) && self.duplicate.is_none() {
                        let first = self.lines.get(&full).map_or(0, |p| p.0);
                        self.duplicate = Some(Problem {
                            line: mark.line(),
                            col: mark.col() + 1,
                            key: full.clone(),
                            message: format!(
                                "`{k}` appears twice in one mapping (first at line {first}); \
                                 YAML would silently keep only the last one"
                            ),
                            fatal: false,
                        });
                    }
                    self.lines
                        .entry(full)
                        .or_insert((mark.line(), mark.col() + 1));
                    *key = Some(k);
                    *expect_key = false;
                    true
                } else {
                    *expect_key = true;
                    false
                }
            }
            Some(Frame::Seq { index }) => {
                let mut full = self.path.clone();
                full.push(index.to_string());
                self.lines
                    .entry(full.join("."))
                    .or_insert((mark.line(), mark.col() + 1));
                *index += 1;
                false
            }
            None => false,
        }
    }

    /// The path segment a collection that starts now is known by.
    fn current_segment(&self) -> Option<String> {
        match self.stack.last() {
            Some(Frame::Map { key, .. }) => key.clone(),
            Some(Frame::Seq { index }) => Some(index.saturating_sub(1).to_string()),
            None => None,
        }
    }
}

impl Recorder {
    /// Takes one event; returns a problem it shows.
    fn on_event(&mut self, ev: Event, mark: Marker) -> Option<Problem> {
        match ev {
            Event::Scalar(s, style, ..) => {
                let is_key = self.value_arrives(Some(&s), mark);
                if let Some(p) = self.duplicate.take() {
                    return Some(p);
                }
                if !is_key && style == TScalarStyle::Plain && non_finite(&s) {
                    return Some(Problem {
                        line: mark.line(),
                        col: mark.col() + 1,
                        key: self.key_here(),
                        message: format!(
                            "`{s}` is not a finite number; AWS takes only finite numbers"
                        ),
                        fatal: false,
                    });
                }
            }
            Event::Alias(_) => {
                self.value_arrives(None, mark);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                if self.stack.len() >= MAX_DEPTH {
                    return Some(Problem {
                        line: mark.line(),
                        col: mark.col() + 1,
                        key: self.key_here(),
                        message: format!(
                            "nesting is deeper than {MAX_DEPTH} levels; a spec is at most \
                             {MAX_DEPTH} mappings or lists deep"
                        ),
                        fatal: true,
                    });
                }
                if !self.stack.is_empty() {
                    self.value_arrives(None, mark);
                    if let Some(seg) = self.current_segment() {
                        self.path.push(seg);
                    }
                }
                self.stack.push(if is_map {
                    Frame::Map {
                        key: None,
                        expect_key: true,
                        seen: Default::default(),
                    }
                } else {
                    Frame::Seq { index: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                if !self.stack.is_empty() {
                    self.path.pop();
                }
            }
            _ => {}
        }
        None
    }

    /// The key path of the value being read.
    fn key_here(&self) -> String {
        let mut p = self.path.clone();
        match self.stack.last() {
            Some(Frame::Map { key: Some(k), .. }) => p.push(k.clone()),
            Some(Frame::Seq { index }) => p.push(index.saturating_sub(1).to_string()),
            _ => {}
        }
        p.join(".")
    }
}

/// Walks `text` once, before it is parsed: the key locations, and the problems the walk
/// shows. It stops at the first fatal problem; a YAML syntax error ends the walk quietly (the
/// parser reports it with its position).
pub fn scan(text: &str) -> (Locator, Vec<Problem>) {
    if let Some(p) = flow_too_deep(text) {
        return (Locator::default(), vec![p]);
    }
    let mut rec = Recorder {
        stack: Vec::new(),
        path: Vec::new(),
        lines: HashMap::new(),
        duplicate: None,
    };
    let mut problems = Vec::new();
    let mut documents = 0;
    let mut parser = Parser::new_from_str(text);
    while let Ok((ev, mark)) = parser.next_token() {
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    problems.push(Problem {
                        line: mark.line(),
                        col: mark.col() + 1,
                        key: String::new(),
                        message: "a second YAML document starts here; a spec file holds one \
                                  document (remove the `---` line and what follows, or merge \
                                  the documents)"
                            .into(),
                        fatal: true,
                    });
                    break;
                }
            }
            ev => {
                if let Some(p) = rec.on_event(ev, mark) {
                    let fatal = p.fatal;
                    problems.push(p);
                    if fatal {
                        break;
                    }
                }
            }
        }
    }
    (Locator { lines: rec.lines }, problems)
}

/// Brackets nested deeper than [`MAX_DEPTH`], counted on the text itself (outside quotes and
/// comments). A YAML scanner looks ahead over every open flow collection for a possible key,
/// which costs time quadratic in the nesting; this check costs one pass over the bytes.
fn flow_too_deep(text: &str) -> Option<Problem> {
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let (mut comment, mut escaped, mut prev) = (false, false, '\n');
    for c in text.chars() {
        col += 1;
        if c == '\n' {
            // Quoted scalars may span lines: a quote stays open.
            (line, col, comment) = (line + 1, 0, false);
            prev = c;
            continue;
        }
        if comment {
            continue;
        }
        match quote {
            Some('"') => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    quote = None;
                }
            }
            Some(_) => {
                if c == '\'' {
                    quote = None;
                }
            }
            None => match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' | '\'' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some(Problem {
                            line,
                            col,
                            key: String::new(),
                            message: format!(
                                "nesting is deeper than {MAX_DEPTH} levels; a spec is at most \
                                 {MAX_DEPTH} mappings or lists deep"
                            ),
                            fatal: true,
                        });
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    None
}

impl Locator {
    /// Walks `text` (see [`scan`]) for key locations only.
    #[cfg(test)]
    pub fn new(text: &str) -> Self {
        scan(text).0
    }

    /// The deepest key path recorded on `line` at or before `col` (the key a value at that
    /// position belongs to).
    pub fn key_at(&self, line: usize, col: usize) -> Option<String> {
        self.lines
            .iter()
            .filter(|(_, (l, c))| *l == line && *c <= col)
            .max_by_key(|(k, (_, c))| (*c, k.len()))
            .map(|(k, _)| k.clone())
    }

    /// Line (1-based) and column of `path`, or of its nearest recorded ancestor.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.lines.get(p) {
                return Some(*pos);
            }
            p = &p[..p.rfind('.')?];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        let text = "environment: prod\ns3:\n  models:\n    name: x\n    kms_key: phi\n    lifecycle:\n      - id: a\n      - id: b\n        prefix: p/\n";
        let l = Locator::new(text);
        assert_eq!(l.find("environment"), Some((1, 1)));
        assert_eq!(l.find("s3.models"), Some((3, 3)));
        assert_eq!(l.find("s3.models.kms_key"), Some((5, 5)));
        assert_eq!(l.find("s3.models.lifecycle.1.prefix"), Some((9, 9)));
        assert_eq!(l.find("s3.models.lifecycle.0").map(|p| p.0), Some(7));
        // Unknown leaf: nearest ancestor.
        assert_eq!(l.find("s3.models.nope"), Some((3, 3)));
    }

    #[test]
    fn flow_mappings_are_located() {
        let l = Locator::new("a:\n  dims: { EndpointName: x }\n  list: [p, q]\n");
        assert_eq!(l.find("a.dims.EndpointName"), Some((2, 11)));
        assert_eq!(l.find("a.list.1"), Some((3, 13)));
    }
}
