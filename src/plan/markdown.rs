//! The Markdown view of a [`Plan`] (`plan --format markdown`, `show PLAN --format markdown`):
//! one pull-request comment a reviewer reads top-down.
//!
//! Order: the counts (and the cost, when the plan carries one), then what is dangerous —
//! refused changes, then replaces and deletes, each with its reason —, a table of every change
//! (address, action, why), the HIPAA findings the change brings or removes, the attribute
//! changes of each resource in a collapsed `<details>` section, and the exact apply command.
//!
//! Values are the plan's, already redacted (`(sensitive)`), and pass through
//! [`crate::redact::scrub`] again; the view shows no value the text view would not. Text from
//! the plan is escaped (HTML entities for `<`, `|`, `` ` ``, Markdown's marks, `@`), and values
//! sit in `<code>`, where GitHub links no mention or issue number. The comment stays within
//! [`LIMIT`] characters: attribute changes go first (the largest first), then findings rows,
//! table rows, and only as a last resort deletes, each with a note saying how many are left out
//! and how to see them; refusals and the counts are never cut.

use std::path::Path;

use serde_json::Value;

use super::render::{is_big, lines_diff};
use super::{Action, Change, Plan};
use crate::redact::{scrub, SENSITIVE};

/// At most this many characters: GitHub refuses a comment over 65,536.
pub const LIMIT: usize = 65_000;

/// A value longer than this (one line) goes into a diff block, not a table cell.
const CELL_MAX: usize = 100;

/// Room kept for the notes that say what was left out.
const NOTE_ROOM: usize = 400;

/// One HIPAA finding (a rule of the compliance catalogue on one resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    /// `error` or `warning`.
    pub severity: String,
    pub address: String,
    pub message: String,
}

/// The unwaived findings on the resources a plan changes, desired state against live state.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// In the desired state, not live: the change brings them.
    pub brought: Vec<Finding>,
    /// Live now, not in the desired state: the change removes them.
    pub removed: Vec<Finding>,
    /// Live now and still in the desired state.
    pub kept: Vec<Finding>,
}

/// What the Markdown view is made of: the plan and what its caller knows besides.
pub struct Review<'a> {
    pub plan: &'a Plan,
    /// The file the plan is saved in (`plan --out`, `show PLAN`): the apply command names it.
    pub saved: Option<&'a Path>,
    /// `None`: not computed (a saved plan does not record them): no section.
    pub findings: Option<&'a Findings>,
    /// Cost hook: the plan's `cost` object (`monthly_before`, `monthly_after`, `unpriced`, and
    /// any breakdown). When `None`, a top-level `cost` in the plan's JSON is used, so a `cost`
    /// field on [`Plan`] shows up here without more code.
    pub cost: Option<&'a Value>,
}

/// The plan as one Markdown comment of at most [`LIMIT`] characters.
pub fn markdown(r: &Review) -> String {
    let p = r.plan;
    let plan_json = serde_json::to_value(p).unwrap_or(Value::Null);
    let cost = cost_section(r.cost.or_else(|| plan_json.get("cost")));
    let mut head = header(p);
    if let Some(c) = &cost {
        head.push_str(c);
    }
    if !p.has_changes() {
        return fit(head, LIMIT);
    }
    let see_all = match r.saved {
        Some(f) => format!("novactl show {}", shell_word(&f.display().to_string())),
        None => format!("novactl plan -e {}", shell_word(&p.spec_file)),
    };
    let parts = Parts {
        head,
        refusals: p
            .refusals()
            .iter()
            .map(|(addr, why)| {
                let action = p
                    .changes
                    .iter()
                    .find(|c| c.address == *addr)
                    .map_or("change", |c| action_word(c.action));
                format!(
                    "- ⛔ **refused** {} ({action}): {}\n",
                    code(addr),
                    text(why)
                )
            })
            .collect(),
        destroys: ordered(p)
            .into_iter()
            .filter(|c| c.refused.is_none() && matches!(c.action, Action::Replace | Action::Delete))
            .map(destroy_line)
            .collect(),
        rows: ordered(p).into_iter().map(row).collect(),
        findings: r.findings.map(finding_rows),
        diffs: ordered(p).into_iter().filter_map(diff_block).collect(),
        apply: apply_section(r),
        see_all,
        check: format!("novactl check -e {}", shell_word(&p.spec_file)),
    };
    parts.render_within(LIMIT)
}

/// The cost line and breakdown for a plan's `cost` object (see [`Review::cost`]); `None`
/// when there is none.
pub fn cost_section(cost: Option<&Value>) -> Option<String> {
    let cost = cost.filter(|c| !c.is_null())?;
    let num = |k: &str| cost.get(k).and_then(Value::as_f64);
    let mut s = String::from("**Cost:** ");
    match (num("monthly_before"), num("monthly_after")) {
        (Some(b), Some(a)) => {
            let d = a - b;
            let sign = if d < 0.0 { "−" } else { "+" };
            s.push_str(&format!(
                "{}/month → **{}/month** ({sign}{}/month)",
                usd(b),
                usd(a),
                usd(d.abs())
            ));
        }
        (None, Some(a)) => s.push_str(&format!("**{}/month**", usd(a))),
        _ => s.push_str("see the breakdown"),
    }
    let unpriced: Vec<String> = cost
        .get("unpriced")
        .and_then(Value::as_array)
        .map(|u| {
            u.iter()
                .map(|v| match v.as_str() {
                    Some(t) => code(t),
                    None => code(&v.to_string()),
                })
                .collect()
        })
        .unwrap_or_default();
    if !unpriced.is_empty() {
        s.push_str(&format!("; not priced: {}", unpriced.join(", ")));
    }
    s.push_str("\n\n");
    let rest: serde_json::Map<String, Value> = cost
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !["monthly_before", "monthly_after", "unpriced"].contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if !rest.is_empty() {
        let body = serde_json::to_string_pretty(&rest).unwrap_or_default();
        s.push_str(&format!(
            "<details><summary>Cost breakdown</summary>\n\n{}\n</details>\n\n",
            fenced("json", &scrub(&body))
        ));
    }
    Some(s)
}

/// `$1,234.50`.
fn usd(x: f64) -> String {
    let cents = format!("{:.2}", x.abs());
    let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
    let mut grouped = String::new();
    for (i, d) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(d);
    }
    format!("{}${grouped}.{frac}", if x < 0.0 { "−" } else { "" })
}

/// The pieces of the comment, some of which may be cut to stay within the limit.
struct Parts {
    head: String,
    refusals: Vec<String>,
    destroys: Vec<String>,
    rows: Vec<String>,
    findings: Option<FindingRows>,
    diffs: Vec<String>,
    apply: String,
    /// How to see the whole plan, and every finding, when something is cut.
    see_all: String,
    check: String,
}

struct FindingRows {
    intro: String,
    rows: Vec<String>,
}

/// How much of each cuttable piece is kept.
struct Keep {
    destroys: usize,
    rows: usize,
    findings: usize,
    diffs: Vec<bool>,
}

impl Parts {
    fn render_within(&self, limit: usize) -> String {
        let mut keep = Keep {
            destroys: self.destroys.len(),
            rows: self.rows.len(),
            findings: self.findings.as_ref().map_or(0, |f| f.rows.len()),
            diffs: vec![true; self.diffs.len()],
        };
        let mut doc = self.render(&keep);
        // 1. Attribute changes, the largest first.
        let mut by_size: Vec<usize> = (0..self.diffs.len()).collect();
        by_size.sort_by_key(|&i| std::cmp::Reverse(chars(&self.diffs[i])));
        let mut over = excess(&doc, limit);
        for i in by_size {
            if over == 0 {
                break;
            }
            keep.diffs[i] = false;
            over = over.saturating_sub(chars(&self.diffs[i]));
        }
        doc = self.render(&keep);
        // 2. Findings rows, 3. table rows, 4. deletes and replaces: from the end.
        for step in 0..3 {
            let over = excess(&doc, limit);
            if over == 0 {
                return doc;
            }
            let (items, kept) = match step {
                0 => (
                    self.findings.as_ref().map_or(&[][..], |f| &f.rows[..]),
                    &mut keep.findings,
                ),
                1 => (&self.rows[..], &mut keep.rows),
                _ => (&self.destroys[..], &mut keep.destroys),
            };
            let mut freed = 0;
            while *kept > 0 && freed < over {
                *kept -= 1;
                freed += chars(&items[*kept]);
            }
            doc = self.render(&keep);
        }
        fit(doc, limit)
    }

    fn render(&self, k: &Keep) -> String {
        let mut s = self.head.clone();
        if !self.refusals.is_empty() {
            s.push_str("### ⛔ Refused: apply will not run this plan\n\n");
            s.push_str("Nothing is applied until these are resolved:\n\n");
            self.refusals.iter().for_each(|l| s.push_str(l));
            s.push('\n');
        }
        if !self.destroys.is_empty() {
            s.push_str("### ⚠️ Replaced or deleted\n\n");
            self.destroys[..k.destroys]
                .iter()
                .for_each(|l| s.push_str(l));
            s.push('\n');
            note(
                &mut s,
                self.destroys.len() - k.destroys,
                "replaces and deletes",
                &self.see_all,
            );
        }
        s.push_str("### Changes\n\n| Address | Action | Why |\n|---|---|---|\n");
        self.rows[..k.rows].iter().for_each(|l| s.push_str(l));
        s.push('\n');
        note(&mut s, self.rows.len() - k.rows, "changes", &self.see_all);
        if let Some(f) = &self.findings {
            s.push_str("### HIPAA findings\n\n");
            s.push_str(&f.intro);
            if !f.rows.is_empty() {
                s.push_str("| | Severity | Rule | Address | Finding |\n|---|---|---|---|---|\n");
                f.rows[..k.findings].iter().for_each(|l| s.push_str(l));
                s.push('\n');
                note(&mut s, f.rows.len() - k.findings, "findings", &self.check);
            }
        }
        if !self.diffs.is_empty() {
            s.push_str("### Attribute changes\n\n");
            let left = k.diffs.iter().filter(|kept| !**kept).count();
            if left > 0 {
                s.push_str(&format!(
                    "> ✂️ The attribute changes of **{left} of {}** resources are left out (the \
                     largest first) to stay under GitHub's 65,000-character comment limit: \
                     <code>{}</code> shows them all.\n\n",
                    self.diffs.len(),
                    esc(&self.see_all)
                ));
            }
            for (d, kept) in self.diffs.iter().zip(&k.diffs) {
                if *kept {
                    s.push_str(d);
                }
            }
        }
        s.push_str(&self.apply);
        s
    }
}

fn note(s: &mut String, left: usize, what: &str, see: &str) {
    if left > 0 {
        s.push_str(&format!(
            "> ✂️ **{left} more {what}** not shown (GitHub's 65,000-character comment limit): \
             <code>{}</code> shows them all.\n\n",
            esc(see)
        ));
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Characters to remove for `doc` to fit `limit` with room for the notes; 0 when it fits.
fn excess(doc: &str, limit: usize) -> usize {
    let n = chars(doc);
    if n <= limit {
        0
    } else {
        n + NOTE_ROOM - limit
    }
}

/// The last resort: cut at a line within `limit`, saying so.
fn fit(doc: String, limit: usize) -> String {
    if chars(&doc) <= limit {
        return doc;
    }
    let tail = "\n\n> ✂️ **Cut here** to stay under GitHub's 65,000-character comment limit.\n";
    let budget = limit - chars(tail);
    let end = doc.char_indices().nth(budget).map_or(doc.len(), |(i, _)| i);
    let end = doc[..end].rfind('\n').unwrap_or(end);
    format!("{}{tail}", &doc[..end])
}

fn header(p: &Plan) -> String {
    let mut s = format!(
        "## novactl plan: {}\n\nAccount {} · region {} · spec {} · novactl {}\n\n",
        code(&p.environment),
        code(&p.account_id),
        code(&p.region),
        code(&p.spec_file),
        esc(&p.novactl_version)
    );
    if !p.has_changes() {
        s.push_str(&format!(
            "**No changes.** Live state matches the spec ({} resources).\n\n",
            p.changes.len()
        ));
        md_notes(&mut s, p);
        return s;
    }
    s.push_str(&format!(
        "**Plan: {}, {} refused.**\n\n",
        p.counts(),
        p.refusals().len()
    ));
    md_notes(&mut s, p);
    if !p.targets.is_empty() {
        let t: Vec<String> = p.targets.iter().map(|t| code(t)).collect();
        s.push_str(&format!("Limited to `--target` {}.\n\n", t.join(", ")));
    }
    s
}

/// The plan's notes (a `moved:` entry with nothing live at its `from`), one line each.
fn md_notes(s: &mut String, p: &Plan) {
    for n in &p.notes {
        s.push_str(&format!("Note: {}\n\n", text(n)));
    }
}

/// Danger first: refused and conflicts, replaces, deletes, updates, creates (plan order within
/// each).
fn ordered(p: &Plan) -> Vec<&Change> {
    let mut v: Vec<&Change> = p
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    v.sort_by_key(|c| danger_rank(c));
    v
}

fn danger_rank(c: &Change) -> u8 {
    if c.refused.is_some() {
        return 0;
    }
    match c.action {
        Action::Conflict => 0,
        Action::Replace => 1,
        Action::Delete => 2,
        Action::Update => 3,
        Action::Create => 4,
        Action::NoOp => 5,
    }
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no change",
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Conflict => "conflict",
    }
}

fn destroy_line(c: &Change) -> String {
    let id = match c.physical_id.as_str() {
        "" => String::new(),
        id => format!(" [{}]", code(id)),
    };
    let forcing: Vec<String> = c
        .attributes
        .iter()
        .filter(|a| a.forces_replace)
        .map(|a| code(&a.path))
        .collect();
    let forcing = match forcing.is_empty() {
        true => String::new(),
        false => format!(" (forced by {})", forcing.join(", ")),
    };
    format!(
        "- ⚠️ **{}** {}{id}: {}{forcing}\n",
        action_word(c.action),
        code(&c.address),
        text(&c.reason)
    )
}

fn row(c: &Change) -> String {
    let action = match (c.action, &c.refused) {
        (a, Some(_)) => format!("⛔ **{}** (refused)", action_word(a)),
        (Action::Replace | Action::Delete, None) => format!("⚠️ **{}**", action_word(c.action)),
        (Action::Conflict, None) => "⛔ **conflict**".to_string(),
        (a, None) => action_word(a).to_string(),
    };
    format!(
        "| {} | {action} | {} |\n",
        code(&c.address),
        text(&c.reason)
    )
}

fn finding_rows(f: &Findings) -> FindingRows {
    let mut brought: Vec<&Finding> = f.brought.iter().collect();
    brought.sort_by_key(|x| x.severity != "error");
    let (nb, nr, nk) = (f.brought.len(), f.removed.len(), f.kept.len());
    let intro = if nb + nr + nk == 0 {
        "No finding on the resources this plan changes, in the desired state or live.\n\n".into()
    } else {
        let errors = f.brought.iter().filter(|x| x.severity == "error").count();
        let mut s = format!(
            "On the resources this plan changes, the desired state against the live state: \
             **{nb} new**, {nr} resolved, {nk} unchanged."
        );
        if errors > 0 {
            s.push_str(&format!(
                " {errors} new error finding(s): apply refuses them without \
                 `--allow-noncompliant`."
            ));
        }
        s.push_str("\n\n");
        s
    };
    let line = |mark: &str, x: &Finding| {
        let sev = match x.severity.as_str() {
            "error" => "**error**".to_string(),
            other => esc(other),
        };
        format!(
            "| {mark} | {sev} | {} | {} | {} |\n",
            code(&x.rule),
            code(&x.address),
            text(&x.message)
        )
    };
    let rows = brought
        .into_iter()
        .map(|x| line("➕ new", x))
        .chain(f.removed.iter().map(|x| line("✅ resolved", x)))
        .chain(f.kept.iter().map(|x| line("unchanged", x)))
        .collect();
    FindingRows { intro, rows }
}

/// A resource's attribute changes in a collapsed section: what the text view prints for it
/// (a create's attributes, an update's or replace's changed ones), nothing for the rest.
fn diff_block(c: &Change) -> Option<String> {
    // (path and its marks, before, after)
    let mut lines: Vec<(String, Option<&Value>, Option<&Value>)> = Vec::new();
    match c.action {
        Action::Create => {
            if let Some(Value::Object(after)) = &c.after {
                for (k, v) in after {
                    if !k.starts_with('_') && !v.is_null() {
                        lines.push((code(k), None, Some(v)));
                    }
                }
            }
        }
        Action::Update | Action::Replace => {
            for a in &c.attributes {
                if a.before.is_none() && a.after.is_none() {
                    continue;
                }
                let mark = match a.forces_replace {
                    true => " ⚠️ forces replacement",
                    false => "",
                };
                lines.push((
                    format!("{}{mark}", code(&a.path)),
                    a.before.as_ref(),
                    a.after.as_ref(),
                ));
            }
        }
        _ => {}
    }
    if lines.is_empty() {
        return None;
    }
    let create = c.action == Action::Create;
    let mut table = String::new();
    let mut blocks = String::new();
    for (path, b, a) in &lines {
        let long = [b, a].iter().any(|v| v.is_some_and(is_long));
        if long {
            let before = b.map(text_of).unwrap_or_default();
            let after = a.map(text_of).unwrap_or_default();
            blocks.push_str(&format!(
                "{path}:\n\n{}\n",
                fenced("diff", &lines_diff(&before, &after, 0))
            ));
        } else if create {
            table.push_str(&format!("| {path} | {} |\n", cell(*a)));
        } else {
            table.push_str(&format!("| {path} | {} | {} |\n", cell(*b), cell(*a)));
        }
    }
    let mut s = format!(
        "<details><summary>{}: {} ({} attribute{})</summary>\n\n",
        code(&c.address),
        action_word(c.action),
        lines.len(),
        if lines.len() == 1 { "" } else { "s" }
    );
    if !table.is_empty() {
        s.push_str(match create {
            true => "| Attribute | Value |\n|---|---|\n",
            false => "| Attribute | Before | After |\n|---|---|---|\n",
        });
        s.push_str(&table);
        s.push('\n');
    }
    s.push_str(&blocks);
    s.push_str("</details>\n\n");
    Some(s)
}

fn is_long(v: &Value) -> bool {
    is_big(v) || chars(&v.to_string()) > CELL_MAX || v.as_str().is_some_and(|t| t.contains('\n'))
}

/// A value as the text view prints it, in a table cell; `—` for none.
fn cell(v: Option<&Value>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.as_str() == Some(SENSITIVE) => code(SENSITIVE),
        Some(v) => code(&v.to_string()),
    }
}

/// A long value's lines for a diff block: a string as itself, anything else as pretty JSON.
fn text_of(v: &Value) -> String {
    let mut t = match v.as_str() {
        Some(s) => s.to_string(),
        None => serde_json::to_string_pretty(v).unwrap_or_default(),
    };
    t.push('\n');
    t
}

fn apply_section(r: &Review) -> String {
    let p = r.plan;
    let mut s = String::from("### Apply\n\n");
    if !p.refusals().is_empty() {
        s.push_str("⛔ Apply refuses this plan as it stands (see **Refused** above).\n\n");
    }
    match r.saved {
        Some(f) => {
            s.push_str(&fenced(
                "sh",
                &format!("novactl apply {}\n", shell_word(&f.display().to_string())),
            ));
            s.push_str("\nIt applies exactly this plan, or refuses it if the spec or live state moved since.\n");
        }
        None => {
            let mut cmd = format!("novactl apply -e {}", shell_word(&p.spec_file));
            for t in &p.targets {
                cmd.push_str(&format!(" --target {}", shell_word(t)));
            }
            for a in &p.adopted {
                cmd.push_str(&format!(" --adopt {}", shell_word(a)));
            }
            cmd.push('\n');
            s.push_str(&fenced("sh", &cmd));
            s.push_str(
                "\nThis plan was not saved: `apply -e` plans again. `novactl plan --out PLAN` \
                 saves one that `novactl apply PLAN` applies exactly.\n",
            );
        }
    }
    s
}

/// A fenced code block whose fence no line of `body` can close.
fn fenced(lang: &str, body: &str) -> String {
    let mut run = 0;
    let mut longest = 0;
    for ch in body.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let nl = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{body}{nl}{fence}\n")
}

/// Text from the plan (a reason, a message) in Markdown: escaped, on one line.
fn text(s: &str) -> String {
    esc(s)
}

/// An identifier or value in `<code>`, escaped.
fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// Escapes HTML and Markdown: what a plan value holds can neither break the table nor the
/// page, nor mention anyone. Secrets registered for this run are scrubbed first.
fn esc(s: &str) -> String {
    let s = scrub(s);
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '|' => o.push_str("&#124;"),
            '`' => o.push_str("&#96;"),
            '*' => o.push_str("&#42;"),
            '_' => o.push_str("&#95;"),
            '[' => o.push_str("&#91;"),
            ']' => o.push_str("&#93;"),
            '\\' => o.push_str("&#92;"),
            '~' => o.push_str("&#126;"),
            '@' => o.push_str("&#64;"),
            '#' => o.push_str("&#35;"),
            '\n' | '\r' | '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A path or address as one shell word (quoted when it needs to be).
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::AttrChange;
    use serde_json::json;

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: crate::plan::FORMAT_VERSION.into(),
            novactl_version: "0.1.0".into(),
            environment: "prod".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            spec_file: "environments/prod.yaml".into(),
            spec_digest: "d".into(),
            changes,
            targets: Vec::new(),
            adopted: Vec::new(),
            cost: None,
            destroy: false,
            force: false,
            moved: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn change(address: &str, action: Action, reason: &str, attrs: Vec<AttrChange>) -> Change {
        Change {
            address: address.into(),
            kind: address.split('.').next().unwrap_or_default().into(),
            action,
            reason: reason.into(),
            region: "us-east-1".into(),
            physical_id: String::new(),
            attributes: attrs,
            before: Some(json!({})),
            before_digest: None,
            after: Some(json!({})),
            depends_on: Vec::new(),
            refused: None,
        }
    }

    fn attr(path: &str, before: Value, after: Value, forces_replace: bool) -> AttrChange {
        AttrChange {
            path: path.into(),
            before: Some(before),
            after: Some(after),
            forces_replace,
        }
    }

    fn review(p: &Plan) -> String {
        markdown(&Review {
            plan: p,
            saved: Some(Path::new("plan.json")),
            findings: None,
            cost: None,
        })
    }

    /// Replaces the endpoint config, deletes an alarm, updates a bucket (plan order: the
    /// update first, as execution order may put it).
    fn review_plan() -> Plan {
        let bucket = change(
            "s3.models",
            Action::Update,
            "spec change: versioning, policy",
            vec![
                attr("versioning", json!("Suspended"), json!("Enabled"), false),
                attr(
                    "policy",
                    json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecure", "Effect": "Deny", "Action": "s3:*"}]}),
                    json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecure", "Effect": "Deny", "Action": "s3:*"}, {"Sid": "Reader", "Effect": "Allow", "Action": "s3:GetObject"}]}),
                    false,
                ),
            ],
        );
        let mut endpoint = change(
            "sagemaker_endpoint.serving",
            Action::Replace,
            "a change forces replacement",
            vec![
                attr(
                    "instance_type",
                    json!("ml.g5.xlarge"),
                    json!("ml.g5.2xlarge"),
                    true,
                ),
                attr("instance_count", json!(1), json!(2), false),
            ],
        );
        endpoint.physical_id = "prod-serving".into();
        let mut alarm = change(
            "cloudwatch_alarm.old_errors",
            Action::Delete,
            "left the spec; tagged novactl:environment=prod — it will be DELETED",
            Vec::new(),
        );
        alarm.physical_id = "prod-old-errors".into();
        alarm.after = None;
        let mut key = change("kms.phi", Action::NoOp, "", Vec::new());
        key.attributes.clear();
        let mut topic = change("sns.alerts", Action::Create, "not found", Vec::new());
        topic.before = None;
        topic.after = Some(
            json!({"name": "prod-alerts", "kms_master_key_id": "(known after apply)", "_settings": 1, "display_name": null}),
        );
        plan(vec![key, bucket, topic, endpoint, alarm])
    }

    #[test]
    fn danger_first_then_the_table_then_diffs_snapshot() {
        let p = review_plan();
        let findings = Findings {
            brought: vec![Finding {
                rule: "NOVA-S3-002".into(),
                severity: "warning".into(),
                address: "s3.models".into(),
                message: "versioning is not | <b>on</b>".into(),
            }],
            removed: vec![Finding {
                rule: "NOVA-SM-001".into(),
                severity: "error".into(),
                address: "sagemaker_endpoint.serving".into(),
                message: "a single instance".into(),
            }],
            kept: Vec::new(),
        };
        let cost =
            json!({"monthly_before": 1100.5, "monthly_after": 2201.0, "unpriced": ["ml.x9.huge"]});
        let md = markdown(&Review {
            plan: &p,
            saved: Some(Path::new("plan.json")),
            findings: Some(&findings),
            cost: Some(&cost),
        });
        assert!(md
            .contains("**Plan: 1 to create, 1 to update, 1 to replace, 1 to delete, 0 refused.**"));
        // Danger first: in the list of replaces and deletes, and in the table.
        let at = |s: &str, from: usize| {
            from + md[from..].find(s).unwrap_or_else(|| panic!("{s} in {md}"))
        };
        let danger = at("### ⚠️ Replaced or deleted", 0);
        let replace = at(
            "**replace** <code>sagemaker&#95;endpoint.serving</code>",
            danger,
        );
        let delete = at(
            "**delete** <code>cloudwatch&#95;alarm.old&#95;errors</code>",
            danger,
        );
        let table = at("### Changes", 0);
        assert!(danger < replace && replace < delete && delete < table);
        let rows: Vec<usize> = [
            "| <code>sagemaker&#95;endpoint.serving</code> |",
            "| <code>cloudwatch&#95;alarm.old&#95;errors</code> |",
            "| <code>s3.models</code> |",
            "| <code>sns.alerts</code> |",
        ]
        .iter()
        .map(|r| at(r, table))
        .collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        assert!(!md.contains("kms.phi"), "no-ops are left out");
        // A pipe or a tag in a value neither breaks the table nor the page.
        assert!(md.contains("versioning is not &#124; &lt;b&gt;on&lt;/b&gt;"));
        assert!(md.contains("novactl apply plan.json"));
        insta::assert_snapshot!("plan_markdown", md);
    }

    #[test]
    fn a_plan_not_saved_names_apply_with_the_spec_and_its_targets() {
        let mut p = review_plan();
        p.targets = vec!["s3.models".into()];
        let md = markdown(&Review {
            plan: &p,
            saved: None,
            findings: None,
            cost: None,
        });
        assert!(md.contains("novactl apply -e environments/prod.yaml --target s3.models\n"));
        assert!(
            !md.contains("### HIPAA findings"),
            "none computed: no section"
        );
        assert!(!md.contains("**Cost:**"), "no cost: no line");
    }

    #[test]
    fn refusals_come_first_and_the_apply_section_says_it_refuses() {
        let mut p = review_plan();
        p.changes[3].refused = Some("it is protected (`protect: true`)".into());
        let md = review(&p);
        let refused = md.find("### ⛔ Refused").expect("a refused section");
        assert!(refused < md.find("### ⚠️ Replaced or deleted").unwrap());
        assert!(md.contains("- ⛔ **refused** <code>sagemaker&#95;endpoint.serving</code> (replace): it is protected (&#96;protect: true&#96;)"));
        assert!(md.contains("0 to delete, 1 refused.") || md.contains("1 to delete, 1 refused."));
        assert!(md.contains("⛔ Apply refuses this plan as it stands"));
    }

    #[test]
    fn no_changes_is_one_line() {
        let p = plan(vec![change("kms.phi", Action::NoOp, "", Vec::new())]);
        let md = review(&p);
        assert!(md.contains("**No changes.** Live state matches the spec (1 resources)."));
        assert!(!md.contains("### Apply"));
    }

    #[test]
    fn sensitive_values_stay_redacted() {
        let mut c = change(
            "sagemaker_model.llm",
            Action::Update,
            "spec change: environment",
            vec![
                attr(
                    "environment.HF_TOKEN",
                    json!("hf_old_secret_value"),
                    json!("hf_new_secret_value"),
                    false,
                ),
                attr(
                    "environment.DB_URL",
                    json!("postgres://u:pw@db/x"),
                    json!("postgres://u:pw2@db/x"),
                    false,
                ),
            ],
        );
        c.before = Some(
            json!({"environment": {"HF_TOKEN": "hf_old_secret_value", "DB_URL": "postgres://u:pw@db/x"}}),
        );
        c.after = Some(
            json!({"environment": {"HF_TOKEN": "hf_new_secret_value", "DB_URL": "postgres://u:pw2@db/x"}}),
        );
        c.redact(&["DB_URL".to_string()]);
        let mut created = change(
            "sagemaker_model.new",
            Action::Create,
            "not found",
            Vec::new(),
        );
        created.after = Some(
            json!({"environment": {"API_KEY": "k-123456789", "HF_TASK": "text"}, "name": "x"}),
        );
        created.redact(&[]);
        let md = review(&plan(vec![c, created]));
        for secret in [
            "hf_old_secret_value",
            "hf_new_secret_value",
            "pw@db",
            "pw2@db",
            "k-123456789",
        ] {
            assert!(!md.contains(secret), "{secret} leaked:\n{md}");
        }
        assert!(md.contains(
            "| <code>environment.HF&#95;TOKEN</code> | <code>(sensitive)</code> | <code>(sensitive)</code> |"
        ), "{md}");
        assert!(md.contains("(sensitive)") && md.contains("HF&#95;TASK"));
    }

    #[test]
    fn five_hundred_resources_with_large_diffs_stay_under_the_limit_and_say_what_was_cut() {
        let big = |n: usize| json!({"Statement": (0..40).map(|i| json!({"Sid": format!("S{n}x{i}"), "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::bucket-{n}/prefix-{i}/*")})).collect::<Vec<_>>()});
        let mut changes: Vec<Change> = (0..500)
            .map(|n| {
                change(
                    &format!("s3.bucket_{n}"),
                    Action::Update,
                    "drift in policy (changed outside novactl since the last apply)",
                    vec![attr("policy", big(n), big(n + 1000), false)],
                )
            })
            .collect();
        changes[7].action = Action::Delete;
        changes[7].refused = Some("protected".into());
        let md = review(&plan(changes));
        assert!(chars(&md) <= LIMIT, "{} characters", chars(&md));
        assert!(md.contains(
            "**Plan: 0 to create, 499 to update, 0 to replace, 1 to delete, 1 refused.**"
        ));
        assert!(md.contains("- ⛔ **refused** <code>s3.bucket&#95;7</code> (delete): protected"));
        assert!(md.contains("are left out (the largest first)"), "the note");
        assert!(md.contains("<code>novactl show plan.json</code> shows them all"));
        assert!(md.contains("### Apply"), "the apply command survives");
    }

    #[test]
    fn a_destroy_of_thousands_stays_under_the_limit() {
        let changes: Vec<Change> = (0..3000)
            .map(|n| {
                change(
                    &format!("cloudwatch_alarm.a{n}"),
                    Action::Delete,
                    "left the spec",
                    Vec::new(),
                )
            })
            .collect();
        let md = review(&plan(changes));
        assert!(chars(&md) <= LIMIT, "{} characters", chars(&md));
        assert!(md.contains("3000 to delete"));
        assert!(md.contains("more changes** not shown"));
        assert!(md.contains("### Apply"));
    }

    #[test]
    fn cost_renders_the_change_and_what_is_unpriced() {
        let c = json!({"monthly_before": 10.0, "monthly_after": 7.5, "unpriced": ["ml.p9.mega in us-east-1"], "lines": [1]});
        let s = cost_section(Some(&c)).unwrap();
        assert!(s.starts_with("**Cost:** $10.00/month → **$7.50/month** (−$2.50/month); not priced: <code>ml.p9.mega in us-east-1</code>"), "{s}");
        assert!(s.contains("Cost breakdown"));
        assert_eq!(cost_section(None), None);
        assert_eq!(usd(1234567.891), "$1,234,567.89");
        assert_eq!(usd(999.0), "$999.00");
    }

    #[test]
    fn fences_outlast_backticks_and_words_are_quoted_for_the_shell() {
        assert!(fenced("diff", "a ```` b\n").starts_with("`````diff\n"));
        assert_eq!(shell_word("plan.json"), "plan.json");
        assert_eq!(shell_word("my plan's.json"), r"'my plan'\''s.json'");
    }
}
