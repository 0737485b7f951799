//! Two views of a [`Plan`]: the human diff (`novactl plan`) and JSON (`--json`, `--out`).

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{Action, Change, Plan};

/// How the text view marks what a change does: colours on a terminal (the shell implements
/// it), nothing otherwise.
pub trait Paint {
    fn green(&self, s: &str) -> String;
    fn red(&self, s: &str) -> String;
    fn yellow(&self, s: &str) -> String;
    fn bold(&self, s: &str) -> String;
}

pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("a plan serialises")
}

pub fn text(plan: &Plan, sh: &dyn Paint) -> String {
    let mut s = String::new();
    if !plan.has_changes() && plan.destroy {
        s.push_str("No changes. Nothing to destroy.\n");
        return s;
    }
    if !plan.has_changes() {
        s.push_str("No changes.");
        s.push_str(&format!(
            " Live state matches the spec ({} resources, environment {}, account {}, region {}).\n",
            plan.changes.len(),
            plan.environment,
            plan.account_id,
            plan.region
        ));
        cost_line(&mut s, plan);
        notes(&mut s, plan);
        return s;
    }
    s.push_str(&format!(
        "{} for environment {} (account {}, region {}):\n\n",
        if plan.destroy { "Destroy plan" } else { "Plan" },
        plan.environment,
        plan.account_id,
        plan.region
    ));
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        change(&mut s, c, sh);
    }
    s.push_str(&format!("Plan: {}.", plan.counts()));
    let conflicts = plan.count(Action::Conflict);
    if conflicts > 0 {
        s.push_str(&format!(
            " {conflicts} conflict{} (apply refuses until resolved).",
            if conflicts == 1 { "" } else { "s" }
        ));
    }
    let refused = plan.refused().len();
    if refused > 0 {
        s.push_str(&format!(
            " {refused} refused (nothing is applied until resolved)."
        ));
    }
    s.push('\n');
    cost_line(&mut s, plan);
    notes(&mut s, plan);
    s
}

/// The plan's notes (remarks that change nothing), one line each.
fn notes(s: &mut String, plan: &Plan) {
    for n in &plan.notes {
        s.push_str(&format!("Note: {n}\n"));
    }
}

/// The plan's one cost line, when it has an estimate (see [`crate::cost`]).
fn cost_line(s: &mut String, plan: &Plan) {
    if let Some(c) = &plan.cost {
        s.push_str(&c.line());
        s.push('\n');
    }
}

fn change(s: &mut String, c: &Change, sh: &dyn Paint) {
    let head = format!("{} {}", c.action.symbol(), c.address);
    let head = match c.action {
        Action::Create => sh.green(&head),
        Action::Delete | Action::Replace => sh.red(&head),
        Action::Update => sh.yellow(&head),
        Action::Conflict => sh.red(&sh.bold(&head)),
        Action::NoOp => head,
    };
    let id = if c.physical_id.is_empty() || c.action == Action::Create {
        String::new()
    } else {
        format!(" [{}]", c.physical_id)
    };
    s.push_str(&format!("  {head}{id}  ({})\n", c.reason));
    if let Some(why) = &c.refused {
        s.push_str(&format!("      {} {why}\n", sh.red(&sh.bold("REFUSED:"))));
    }
    match c.action {
        Action::Create => {
            if let Some(Value::Object(after)) = &c.after {
                for (k, v) in after {
                    if k.starts_with('_') || v.is_null() {
                        continue;
                    }
                    s.push_str(&format!("      + {k} = {}\n", value(v, 10)));
                }
            }
        }
        Action::Update | Action::Replace => {
            for a in &c.attributes {
                let mark = if a.forces_replace {
                    " (forces replacement)"
                } else {
                    ""
                };
                match (&a.before, &a.after) {
                    (Some(b), Some(af)) if is_big(b) || is_big(af) => {
                        s.push_str(&format!("      ~ {}{mark}:\n", a.path));
                        s.push_str(&text_diff(b, af, 10));
                    }
                    (Some(b), Some(af)) => s.push_str(&format!(
                        "      ~ {} = {} -> {}{mark}\n",
                        a.path,
                        value(b, 10),
                        value(af, 10)
                    )),
                    (None, Some(af)) => {
                        s.push_str(&format!("      + {} = {}{mark}\n", a.path, value(af, 10)))
                    }
                    (Some(b), None) => {
                        s.push_str(&format!("      - {} = {}{mark}\n", a.path, value(b, 10)))
                    }
                    (None, None) => {}
                }
            }
        }
        _ => {}
    }
    s.push('\n');
}

/// Objects and arrays too long for one line: shown as a line diff (the Markdown view too).
pub(super) fn is_big(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_)) && v.to_string().len() > 60
}

/// A value on one line when short, else pretty JSON indented under the attribute.
fn value(v: &Value, indent: usize) -> String {
    if v.as_str() == Some(crate::redact::SENSITIVE) {
        return crate::redact::SENSITIVE.into();
    }
    let one = v.to_string();
    if one.len() <= 100 {
        return one;
    }
    let pad = " ".repeat(indent);
    serde_json::to_string_pretty(v)
        .unwrap_or(one)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of pretty JSON that differ, with two lines of context, each marked `-`, `+` or
/// ` ` after `indent` spaces.
fn text_diff(before: &Value, after: &Value, indent: usize) -> String {
    let b = serde_json::to_string_pretty(before).unwrap_or_default();
    let a = serde_json::to_string_pretty(after).unwrap_or_default();
    lines_diff(&b, &a, indent)
}

/// The lines of `after` that differ from `before`, with two lines of context, each marked
/// `-`, `+` or ` ` after `indent` spaces (the Markdown view's diff blocks too).
pub(super) fn lines_diff(b: &str, a: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let diff = TextDiff::from_lines(b, a);
    for group in diff.grouped_ops(2) {
        for op in group {
            for ch in diff.iter_changes(&op) {
                let sign = match ch.tag() {
                    ChangeTag::Delete => "-",
                    ChangeTag::Insert => "+",
                    ChangeTag::Equal => " ",
                };
                out.push_str(&format!("{pad}{sign} {}", ch.value()));
                if !ch.value().ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    out
}
