//! Where a key sits in the spec file: dotted key path -> line and column.
//!
//! serde gives positions only for parse errors; checks made after parsing (a dangling reference,
//! a duplicate bucket name) still need to point at a line, so the file is walked once with
//! yaml-rust2's marked events and every mapping key and sequence item is recorded.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

#[derive(Debug, Default, Clone)]
pub struct Locator {
    lines: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map {
        key: Option<String>,
        expect_key: bool,
    },
    Seq {
        index: usize,
    },
}

struct Recorder {
    stack: Vec<Frame>,
    path: Vec<String>,
    lines: HashMap<String, (usize, usize)>,
}

impl Recorder {
    /// A value (scalar or collection start) arrived at `mark`: returns true when it is a key.
    fn value_arrives(&mut self, scalar: Option<&str>, mark: Marker) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Map { key, expect_key }) => {
                if *expect_key {
                    let k = scalar.unwrap_or("?").to_string();
                    let mut full = self.path.clone();
                    full.push(k.clone());
                    self.lines
                        .entry(full.join("."))
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

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(s, ..) => {
                self.value_arrives(Some(&s), mark);
            }
            Event::Alias(_) => {
                self.value_arrives(None, mark);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
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
    }
}

impl Locator {
    /// Walks `text`; a file that does not parse yields an empty locator (serde reports that).
    pub fn new(text: &str) -> Self {
        let mut rec = Recorder {
            stack: Vec::new(),
            path: Vec::new(),
            lines: HashMap::new(),
        };
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut rec, false).is_err() {
            return Self::default();
        }
        Locator { lines: rec.lines }
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
