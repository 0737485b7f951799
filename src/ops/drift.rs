//! `drift`: for schedules. A plan without the lock (as `plan` makes it) and the HIPAA gate on
//! live state (as `check --live` runs it), from one observation, in one summary: what drifted
//! and what is non-compliant now. Exit 0 clean, 2 drift or violations, 1 error. Nothing is
//! written anywhere, except the summary published to a spec topic with `--notify sns.<n>`.
//!
//! **Drift or spec change.** The backend document `last-applied` ([`crate::ops::last_applied`])
//! holds, per address, the digest of what the spec asked when the last apply converged it.
//! A difference is **drift** when the spec still asks the same (live state moved outside
//! novactl), a **spec change (not applied yet)** when it does not; a pending spec change is
//! reported but is not drift and does not make the exit code 2. Without a record for an
//! address that is live, the difference cannot be told: it is reported as **unknown** and
//! counts as drift (a schedule must not call an unexplained difference clean). With the
//! S3 state backend the record is shared, so a fresh CI checkout has it.

use std::collections::HashMap;
use std::process::ExitCode;

use serde::Serialize;

use crate::aws::AwsError;
use crate::compliance::{Evaluation, Severity};
use crate::engine::{self, Model};
use crate::ops::options::{GlobalOptions, Scope};
use crate::ops::session::{self, Session};
use crate::ops::Failure;
use crate::permissions::{Implied, Perm};
use crate::plan::{diff, Action, Change, Plan};
use crate::shell::Shell;

/// The calls `drift` makes besides a plan's and `check --live`'s: the `--notify` publish.
/// Publishing to a topic encrypted with a KMS key needs the key's data key too.
pub const PERMISSIONS: &[Perm] = &[Perm {
    call: "sns:Publish",
    actions: &["sns:Publish"],
    resources: &["{kind:sns}arn:aws:sns:{region}:{account}:{id}"],
    implied: &[
        Implied {
            action: "kms:GenerateDataKey",
            resources: &["{kind:sns}arn:aws:kms:{region}:{account}:key/*"],
            condition: None,
        },
        Implied {
            action: "kms:Decrypt",
            resources: &["{kind:sns}arn:aws:kms:{region}:{account}:key/*"],
            condition: None,
        },
    ],
}];

/// Exit code when something drifted or is non-compliant (the CLI contract).
pub const DRIFTED: u8 = 2;

/// The most characters of a published message (SNS takes 256 KB; a notification should be
/// read at a glance): longer summaries are cut with a note.
const MESSAGE_MAX: usize = 16_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub struct Options {
    pub format: Format,
    /// `sns.<name>`: publish the summary to that spec topic.
    pub notify: Option<String>,
    /// `--parallelism` and `--scan` of the observation (no targets, no adoption).
    pub scope: Scope,
}

/// Why a change is in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Changed outside novactl since the last apply (or made outside it: extra copies).
    Drift,
    /// The spec asks something the last apply did not: not applied yet. Not drift.
    SpecChange,
    /// No record of the last apply for this address: drift or a spec change.
    Unknown,
}

/// One difference between the spec and live state.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub address: String,
    pub action: Action,
    pub class: Class,
    /// In a few words (attribute names only, never values).
    pub what: String,
    /// The attributes that differ (top level), when any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// One unwaived finding of the live check.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: String,
    pub address: String,
    pub message: String,
    /// The spec key to change, with its line.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// The summary: what `--format` prints and `--notify` publishes.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub environment: String,
    pub account_id: String,
    pub region: String,
    pub spec_file: String,
    pub time: String,
    /// `clean`, `drift`, `violations` or `drift-and-violations`.
    pub status: String,
    /// The state backend (where the record of the last apply is read).
    pub state_backend: String,
    /// Whether the backend holds a record of the last apply.
    pub last_applied_record: bool,
    pub drift: Vec<Item>,
    pub unknown: Vec<Item>,
    pub spec_changes: Vec<Item>,
    pub violations: Vec<Finding>,
    /// Spec resources that do not exist live (not checked; also in `drift` or `spec_changes`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_live: Vec<String>,
}

impl Summary {
    /// Drift (unknown differences included) or violations.
    pub fn failing(&self) -> bool {
        !self.drift.is_empty() || !self.unknown.is_empty() || !self.violations.is_empty()
    }
}

pub async fn drift(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    // The topic is checked against the spec before any AWS call.
    if let Some(n) = &o.notify {
        check_topic(&session::load_spec(g)?, n)?;
    }
    let s = Session::connect(g, sh).await?;
    let (plan, obs) = s.plan(&o.scope, &[]).await?;
    let applied = crate::ops::last_applied::read(s.state.as_ref()).await;
    let spec_file = s.spec_file.display().to_string();
    let (eval, missing) = crate::ops::check::live_of(&s, &obs, &spec_file, sh)?;
    let summary = summarise(&s, &plan, &applied, &eval, missing);
    sh.out(&match o.format {
        Format::Text => text(&summary, &spec_file),
        Format::Json => serde_json::to_string_pretty(&summary).expect("a summary serialises"),
        Format::Markdown => markdown(&summary, &spec_file),
    });
    if !summary.last_applied_record {
        sh.warn(&format!(
            "the state backend ({}) holds no record of the last apply: differences cannot be \
             told from spec changes and count as drift; run `novactl apply` once with this \
             backend (use the S3 backend, `state.s3`, for jobs on a fresh checkout)",
            summary.state_backend
        ));
    }
    if let Some(n) = &o.notify {
        let arn = publish(&s, &obs, n, &summary, &spec_file).await?;
        sh.status(&format!("Published the summary to {n} ({arn})."));
    }
    s.summary(sh);
    Ok(if summary.failing() {
        ExitCode::from(DRIFTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--notify`'s address must name a topic of the spec (`sns.<name>`).
fn check_topic(spec: &crate::spec::LoadedSpec, address: &str) -> Result<(), Failure> {
    let topics: Vec<String> = spec.spec.sns.keys().map(|n| format!("sns.{n}")).collect();
    let ok = crate::address::Address::parse(address).is_some_and(|a| {
        a.kind() == "sns" && !a.is_twin() && address == format!("sns.{}", a.name())
    }) && spec.spec.sns.contains_key(&address["sns.".len()..]);
    if ok {
        return Ok(());
    }
    let known = if topics.is_empty() {
        "the spec has no `sns` topic".to_string()
    } else {
        format!("the spec's topics: {}", topics.join(", "))
    };
    Err(Failure::Usage(format!(
        "--notify {address}: not a topic of {} (expected sns.<name>){}; {known}; nothing was \
         read or published",
        spec.path.display(),
        crate::suggest::did_you_mean(address, topics.iter().map(String::as_str)),
    )))
}

/// Sorts the plan's changes into drift, unknown and spec changes, and the live findings.
fn summarise(
    s: &Session,
    plan: &Plan,
    applied: &HashMap<String, String>,
    eval: &Evaluation,
    not_live: Vec<String>,
) -> Summary {
    let (mut drift, mut unknown, mut spec_changes) = (Vec::new(), Vec::new(), Vec::new());
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let item = classify(&s.model, c, applied);
        match item.class {
            Class::Drift => drift.push(item),
            Class::Unknown => unknown.push(item),
            Class::SpecChange => spec_changes.push(item),
        }
    }
    let violations: Vec<Finding> = eval
        .violations()
        .map(|v| Finding {
            rule: v.rule.id.to_string(),
            severity: v.rule.severity.as_str().to_string(),
            address: v.address.clone(),
            message: v.message.clone(),
            key: v.key.clone(),
            line: v.line,
        })
        .collect();
    let status = match (
        !drift.is_empty() || !unknown.is_empty(),
        !violations.is_empty(),
    ) {
        (false, false) => "clean",
        (true, false) => "drift",
        (false, true) => "violations",
        (true, true) => "drift-and-violations",
    };
    Summary {
        environment: plan.environment.clone(),
        account_id: plan.account_id.clone(),
        region: plan.region.clone(),
        spec_file: plan.spec_file.clone(),
        time: crate::state::now_rfc3339(),
        status: status.into(),
        state_backend: s.state.describe(),
        last_applied_record: !applied.is_empty(),
        drift,
        unknown,
        spec_changes,
        violations,
        not_live,
    }
}

/// Drift, spec change or unknown, by the record of the last apply (see the module's doc).
fn classify(model: &Model, c: &Change, applied: &HashMap<String, String>) -> Item {
    let attrs = diff::top_level(&c.attributes);
    let list = attrs.join(", ");
    let base = engine::base_address(&c.address);
    let recorded = applied.get(base);
    // The spec asks the same as at the last apply (`None`: no record, or no longer in the spec).
    let same = model
        .decl(base)
        .map(|d| recorded.is_some_and(|r| Some(r) == engine::spec_digest(model, d).as_ref()));
    let (class, what) = match c.action {
        Action::Delete if base != c.address => (
            Class::Drift,
            format!(
                "extra copy of {base}: another live {} tagged with its address (apply deletes it)",
                c.kind
            ),
        ),
        Action::Delete if recorded.is_some() => (
            Class::SpecChange,
            "spec change (not applied yet): left the spec, still live (apply deletes it)".into(),
        ),
        Action::Delete if !applied.is_empty() => (
            Class::Drift,
            "tagged for this environment but neither in the spec nor in the last apply: made \
             outside novactl (apply deletes it)"
                .into(),
        ),
        Action::Delete => (
            Class::Unknown,
            "left the spec, still live (no record of the last apply: apply deletes it)".into(),
        ),
        Action::Create if recorded.is_some() => (
            Class::Drift,
            "drift: deleted outside novactl since the last apply (apply creates it again)".into(),
        ),
        Action::Create if !applied.is_empty() => (
            Class::SpecChange,
            "spec change (not applied yet): new in the spec".into(),
        ),
        Action::Create => (
            Class::Unknown,
            "not found live (no record of the last apply)".into(),
        ),
        Action::Conflict if recorded.is_some() => (
            Class::Drift,
            format!(
                "drift: no longer novactl's since the last apply: {}",
                c.reason
            ),
        ),
        Action::Conflict if !applied.is_empty() => (
            Class::SpecChange,
            format!("spec change (not applied yet): {}", c.reason),
        ),
        Action::Conflict => (Class::Unknown, c.reason.clone()),
        _ => {
            let replace = if c.action == Action::Replace {
                " (apply replaces it)"
            } else {
                ""
            };
            match same {
                Some(true) => (
                    Class::Drift,
                    format!(
                        "drift in {list} (changed outside novactl since the last apply){replace}"
                    ),
                ),
                _ if recorded.is_some() => (
                    Class::SpecChange,
                    format!("spec change (not applied yet): {list}{replace}"),
                ),
                _ => (
                    Class::Unknown,
                    format!(
                        "differs from the spec in {list}{replace} (no record of the last apply \
                         for it: drift or a spec change)"
                    ),
                ),
            }
        }
    };
    Item {
        address: c.address.clone(),
        action: c.action,
        class,
        what,
        attributes: attrs,
    }
}

fn headline(s: &Summary) -> String {
    let mut parts = Vec::new();
    if !s.drift.is_empty() {
        parts.push(format!("{} drifted", s.drift.len()));
    }
    if !s.unknown.is_empty() {
        parts.push(format!("{} differ with no record", s.unknown.len()));
    }
    if !s.violations.is_empty() {
        parts.push(format!("{} compliance violation(s)", s.violations.len()));
    }
    if parts.is_empty() {
        parts.push("no drift, no compliance violation".into());
    }
    if !s.spec_changes.is_empty() {
        parts.push(format!(
            "{} spec change(s) not applied yet",
            s.spec_changes.len()
        ));
    }
    format!(
        "{}: {} ({})",
        s.status.to_uppercase().replace('-', " "),
        parts.join(", "),
        s.environment
    )
}

fn item_line(i: &Item) -> String {
    format!("  {} {}: {}\n", i.action.symbol(), i.address, i.what)
}

fn finding_line(f: &Finding, spec_file: &str) -> String {
    format!(
        "  {} {} {}: {} ({}: {}{})\n",
        if f.severity == Severity::Error.as_str() {
            "!"
        } else {
            "?"
        },
        f.rule,
        f.address,
        f.message,
        f.key,
        spec_file,
        f.line.map(|l| format!(":{l}")).unwrap_or_default()
    )
}

/// The text summary (stdout, and the `--notify` message).
pub fn text(s: &Summary, spec_file: &str) -> String {
    let mut out = format!(
        "Drift check of {} (account {}, {}) at {}\n",
        s.environment, s.account_id, s.region, s.time
    );
    let sections: [(&str, &Vec<Item>); 3] = [
        (
            "Drift (changed outside novactl since the last apply)",
            &s.drift,
        ),
        (
            "Differs from the spec, no record of the last apply (counted as drift)",
            &s.unknown,
        ),
        ("Spec changes not applied yet (not drift)", &s.spec_changes),
    ];
    for (title, items) in sections {
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title}: {}\n", items.len()));
        for i in items {
            out.push_str(&item_line(i));
        }
    }
    if !s.violations.is_empty() {
        out.push_str(&format!(
            "\nNon-compliant now (check --live): {}\n",
            s.violations.len()
        ));
        for f in &s.violations {
            out.push_str(&finding_line(f, spec_file));
        }
    }
    out.push_str(&format!("\n{}\n", headline(s)));
    if s.failing() {
        out.push_str(&format!(
            "Repair: novactl plan -e {spec_file}, then novactl apply -e {spec_file}\n"
        ));
    }
    out
}

fn md_cell(t: &str) -> String {
    t.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown summary (an issue or a pull-request comment).
pub fn markdown(s: &Summary, spec_file: &str) -> String {
    let mut out = format!(
        "## novactl drift: `{}`\n\n**{}**\n\nAccount {}, {}, at {}.\n",
        s.environment,
        md_cell(&headline(s)),
        s.account_id,
        s.region,
        s.time
    );
    let sections: [(&str, &Vec<Item>); 3] = [
        ("Drift", &s.drift),
        ("Differs, no record of the last apply", &s.unknown),
        ("Spec changes not applied yet (not drift)", &s.spec_changes),
    ];
    for (title, items) in sections {
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n### {title} ({})\n\n| Address | Action | What |\n|---|---|---|\n",
            items.len()
        ));
        for i in items {
            let action = serde_json::to_value(i.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | {action} | {} |\n",
                i.address,
                md_cell(&i.what)
            ));
        }
    }
    if !s.violations.is_empty() {
        out.push_str(&format!(
            "\n### Non-compliant now ({})\n\n| Rule | Severity | Address | Finding | Spec key |\n\
             |---|---|---|---|---|\n",
            s.violations.len()
        ));
        for f in &s.violations {
            out.push_str(&format!(
                "| {} | {} | `{}` | {} | `{}` ({spec_file}{}) |\n",
                f.rule,
                f.severity,
                f.address,
                md_cell(&f.message),
                f.key,
                f.line.map(|l| format!(":{l}")).unwrap_or_default()
            ));
        }
    }
    if s.failing() {
        out.push_str(&format!(
            "\nRepair: `novactl plan -e {spec_file}`, then `novactl apply -e {spec_file}`.\n"
        ));
    }
    out
}

/// Publishes the text summary to the spec topic `address` (checked by [`check_topic`]);
/// returns the topic's ARN. The text is redacted as the shell's is.
async fn publish(
    s: &Session,
    obs: &engine::Observations,
    address: &str,
    summary: &Summary,
    spec_file: &str,
) -> Result<String, Failure> {
    let decl = s
        .model
        .decl(address)
        .ok_or_else(|| Failure::Usage(format!("--notify {address}: not in the spec")))?;
    let live = obs.by_address.get(address).filter(|o| o.state.is_some());
    let Some(live) = live else {
        return Err(Failure::Reported(format!(
            "--notify {address}: the topic does not exist live (apply the spec first); the \
             summary was not published"
        )));
    };
    let arn = live.outputs["arn"]
        .as_str()
        .or(decl.outputs["arn"].as_str())
        .unwrap_or(&live.physical_id)
        .to_string();
    let message = message_of(summary, spec_file);
    let subject = subject_of(summary);
    s.aws
        .clients(&decl.region)
        .sns
        .publish()
        .topic_arn(&arn)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map_err(AwsError::from_sdk("sns:Publish"))
        .map_err(|e| {
            Failure::Aws(format!(
                "--notify {address}: the summary was not published: {e}"
            ))
        })?;
    Ok(arn)
}

/// The published message: the text summary, redacted, cut at [`MESSAGE_MAX`] characters.
fn message_of(summary: &Summary, spec_file: &str) -> String {
    let text = crate::redact::scrub(&text(summary, spec_file)).into_owned();
    if text.chars().count() <= MESSAGE_MAX {
        return text;
    }
    let cut: String = text.chars().take(MESSAGE_MAX).collect();
    format!("{cut}\n… (cut; run `novactl drift -e {spec_file}` for the whole summary)\n")
}

/// SNS subjects: ASCII, no line breaks, at most 100 characters.
fn subject_of(summary: &Summary) -> String {
    let raw = format!("novactl drift: {}: {}", summary.environment, summary.status);
    let clean: String = crate::redact::scrub(&raw)
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect();
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(class: Class, address: &str) -> Item {
        Item {
            address: address.into(),
            action: Action::Update,
            class,
            what: "drift in enable_key_rotation".into(),
            attributes: vec!["enable_key_rotation".into()],
        }
    }

    fn summary() -> Summary {
        Summary {
            environment: "prod".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            spec_file: "prod.yaml".into(),
            time: "2026-01-01T00:00:00Z".into(),
            status: "clean".into(),
            state_backend: "s3://b/p/".into(),
            last_applied_record: true,
            drift: vec![],
            unknown: vec![],
            spec_changes: vec![],
            violations: vec![],
            not_live: vec![],
        }
    }

    #[test]
    fn a_pending_spec_change_alone_is_not_failing_but_drift_unknown_and_violations_are() {
        let mut s = summary();
        s.spec_changes.push(item(Class::SpecChange, "kms.phi"));
        assert!(!s.failing());
        assert!(text(&s, "prod.yaml").contains("Spec changes not applied yet (not drift): 1"));
        for add in [
            |s: &mut Summary| s.drift.push(item(Class::Drift, "kms.phi")),
            |s: &mut Summary| s.unknown.push(item(Class::Unknown, "kms.phi")),
            |s: &mut Summary| {
                s.violations.push(Finding {
                    rule: "NOVA-KMS-001".into(),
                    severity: "error".into(),
                    address: "kms.phi".into(),
                    message: "rotation off".into(),
                    key: "kms.phi.enable_key_rotation".into(),
                    line: Some(3),
                })
            },
        ] {
            let mut s = summary();
            add(&mut s);
            assert!(s.failing());
            assert!(text(&s, "prod.yaml").contains("Repair: novactl plan -e prod.yaml"));
        }
    }

    #[test]
    fn messages_are_cut_and_subjects_are_short_ascii_lines() {
        let mut s = summary();
        s.environment = "é\nx".repeat(80);
        for i in 0..2000 {
            s.drift.push(item(Class::Drift, &format!("kms.k{i}")));
        }
        let m = message_of(&s, "f.yaml");
        assert!(m.chars().count() < MESSAGE_MAX + 200, "{}", m.len());
        assert!(m.contains("(cut; run `novactl drift -e f.yaml`"));
        let subject = subject_of(&s);
        assert!(subject.len() <= 100 && subject.is_ascii() && !subject.contains('\n'));
    }

    #[test]
    fn markdown_escapes_pipes_in_cells() {
        let mut s = summary();
        let mut i = item(Class::Drift, "kms.phi");
        i.what = "a | b".into();
        s.drift.push(i);
        let md = markdown(&s, "f.yaml");
        assert!(md.contains("| `kms.phi` | update | a \\| b |"), "{md}");
    }
}
