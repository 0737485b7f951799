//! Template rendering: every spec string and template file is a tera template.
//!
//! The context holds `environment`, `region`, `account_id`, `vars` and the attributes of every
//! resource under its section path (`s3.models.name`) and its address path
//! (`sagemaker_endpoint.mentallama.name`). An attribute that exists only after creation (a KMS
//! key ARN) holds [`UNKNOWN`] until the resource exists; plan shows it as is, apply renders
//! again once the resource it comes from has been created.

use std::collections::BTreeSet;
use std::collections::HashMap;

use serde_json::Value;

use super::{LoadedSpec, SpecError};

/// Placeholder for attributes known only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// Does this rendered value depend on something not known yet?
pub fn is_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(UNKNOWN),
        Value::Array(a) => a.iter().any(is_unknown),
        Value::Object(o) => o.values().any(is_unknown),
        _ => false,
    }
}

pub struct Renderer<'a> {
    pub spec: &'a LoadedSpec,
    ctx: std::borrow::Cow<'a, tera::Context>,
}

/// `ctx` converted for tera. The conversion copies the whole context (every resource's
/// attributes), so a run converts its context once ([`Renderer::with_context`]) rather than
/// once per resource, which made rendering quadratic in the number of resources.
pub fn tera_context(ctx: &Value) -> tera::Context {
    tera::Context::from_value(ctx.clone()).unwrap_or_default()
}

impl<'a> Renderer<'a> {
    pub fn new(spec: &'a LoadedSpec, ctx: &Value) -> Self {
        Renderer {
            spec,
            ctx: std::borrow::Cow::Owned(tera_context(ctx)),
        }
    }

    /// A renderer on a context already converted by [`tera_context`].
    pub fn with_context(spec: &'a LoadedSpec, ctx: &'a tera::Context) -> Self {
        Renderer {
            spec,
            ctx: std::borrow::Cow::Borrowed(ctx),
        }
    }

    /// A top-level value of the render context (`region`, `dr_twin`, ...).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.ctx.get(name)
    }

    /// Renders the spec string found at `key`.
    pub fn str(&self, key: &str, template: &str) -> Result<String, SpecError> {
        if !template.contains("{{") && !template.contains("{%") && !template.contains("{#") {
            return Ok(template.to_string());
        }
        render_text(template, &self.ctx).map_err(|e| {
            self.spec.error(
                key,
                format!("template: {}", explain(&e, template, &self.ctx)),
            )
        })
    }

    /// Loads the template file named at `key` (relative to the spec file) and renders it.
    pub fn file(&self, key: &str, rel: &str) -> Result<String, SpecError> {
        let path = self.spec.template_path(rel);
        let text = super::input::read_text(&path).map_err(|e| {
            self.spec
                .error(key, format!("template file: {}", e.message))
        })?;
        render_text(&text, &self.ctx).map_err(|e| {
            self.spec.error(
                key,
                format!(
                    "template file {}: {}",
                    path.display(),
                    explain(&e, &text, &self.ctx)
                ),
            )
        })
    }

    /// Renders a template file that must produce a JSON document (a policy, a dashboard).
    pub fn json_file(&self, key: &str, rel: &str) -> Result<Value, SpecError> {
        let text = self.file(key, rel)?;
        serde_json::from_str(&text).map_err(|e| {
            self.spec.error(
                key,
                format!(
                    "template file {} does not render to JSON: {e} (line {} of the rendered text)",
                    self.spec.template_path(rel).display(),
                    e.line()
                ),
            )
        })
    }

    /// Addresses of the resources a template file refers to (for dependency edges).
    pub fn file_refs(&self, rel: &str) -> Vec<String> {
        super::input::read_text(&self.spec.template_path(rel))
            .map(|t| refs_in(&t))
            .unwrap_or_default()
    }
}

/// Templates parsed once per process, by their text: a run renders each resource's templates
/// several times (validation, plan, apply, compliance), and `Tera::one_off` builds a new Tera
/// (every built-in filter registered) and parses the text on each call.
static PARSED: std::sync::LazyLock<std::sync::RwLock<(tera::Tera, HashMap<String, String>)>> =
    std::sync::LazyLock::new(|| std::sync::RwLock::new((tera::Tera::default(), HashMap::new())));

/// `text` rendered with `ctx`, as `Tera::one_off(text, ctx, false)` renders it; an error is
/// `one_off`'s own (rendered again that way), so that messages name the template as before.
fn render_text(text: &str, ctx: &tera::Context) -> Result<String, tera::Error> {
    let cached = || -> Option<Result<String, tera::Error>> {
        let g = PARSED.read().ok()?;
        let name = g.1.get(text)?;
        Some(g.0.render(name, ctx))
    };
    let out = match cached() {
        Some(r) => r,
        None => {
            let Ok(mut g) = PARSED.write() else {
                return tera::Tera::one_off(text, ctx, false);
            };
            // Names without a suffix: no autoescaping, as `one_off(.., false)`.
            let name = format!("t{}", g.1.len());
            match g.0.add_raw_template(&name, text) {
                Ok(()) => {
                    g.1.insert(text.to_string(), name.clone());
                    g.0.render(&name, ctx)
                }
                Err(e) => Err(e),
            }
        }
    };
    out.or_else(|_| tera::Tera::one_off(text, ctx, false))
}

/// A tera error in our words: what is wrong, where in the template (line, column), and the
/// nearest defined name for an undefined one; never tera's internal template name.
fn explain(e: &tera::Error, template: &str, ctx: &tera::Context) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    for p in &parts {
        if let Some(var) = undefined_variable(p) {
            let names = defined_names(&ctx.clone().into_json());
            let hint = crate::suggest::did_you_mean(var, names.iter().map(String::as_str));
            return format!("{}`{var}` is not defined{hint}", line_of(template, var));
        }
        if let Some((_, rest)) = p.split_once(" --> ") {
            let pos = rest.split_whitespace().next().unwrap_or("");
            let (line, col) = pos.split_once(':').unwrap_or((pos, "?"));
            let expected = rest
                .lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("= "))
                .unwrap_or("invalid syntax");
            return format!("syntax error at line {line}, column {col}: {expected}");
        }
    }
    let words: Vec<String> = parts
        .iter()
        .filter(|p| !p.starts_with("Failed to render '") && !p.starts_with("Failed to parse '"))
        .map(|p| {
            p.replace(" while rendering '__tera_one_off'", "")
                .replace("'__tera_one_off'", "the template")
        })
        .collect();
    if words.is_empty() {
        "cannot be rendered".to_string()
    } else {
        words.join(": ")
    }
}

/// `x.y` of tera's "Variable `x.y` not found in context ...".
fn undefined_variable(message: &str) -> Option<&str> {
    let rest = message.split("Variable `").nth(1)?;
    let (var, tail) = rest.split_once('`')?;
    tail.trim_start()
        .starts_with("not found in context")
        .then_some(var)
}

/// `line N: ` of the first line of a multi-line template that mentions `var`, or nothing.
fn line_of(template: &str, var: &str) -> String {
    if !template.contains('\n') {
        return String::new();
    }
    match template.lines().position(|l| l.contains(var)) {
        Some(n) => format!("line {}: ", n + 1),
        None => String::new(),
    }
}

/// Every dotted name a template can read (`vars.project`, `kms.phi.arn`, ...).
fn defined_names(v: &Value) -> Vec<String> {
    fn walk(prefix: &str, v: &Value, depth: usize, out: &mut Vec<String>) {
        let Value::Object(o) = v else { return };
        for (k, v) in o {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if depth < 5 {
                walk(&name, v, depth + 1, out);
            }
            out.push(name);
        }
    }
    let mut out = Vec::new();
    walk("", v, 0, &mut out);
    out
}

/// Resource addresses referenced inside the `{{ }}` / `{% %}` blocks of a template, e.g.
/// `{{ kms.phi.arn }}` -> `kms.phi`, `{{ sagemaker.endpoints.x.name }}` ->
/// `sagemaker_endpoint.x`.
pub fn refs_in(template: &str) -> Vec<String> {
    let mut out: Vec<String> = refs_with_attributes(template)
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    out.dedup();
    out
}

/// Like [`refs_in`], with the attribute each reference reads (`{{ kms.phi.arn }}` ->
/// (`kms.phi`, `arn`)), sorted, without repeats.
pub fn refs_with_attributes(template: &str) -> Vec<(String, Option<String>)> {
    let mut out = BTreeSet::new();
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let Some(end) = after.find(close) else { break };
        let block = &after[1..end];
        for chain in block.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
            if let Some(addr) = chain_to_address(chain) {
                let attr = attribute_of(chain, &addr);
                out.insert((addr, attr));
            }
        }
        rest = &after[end..];
    }
    out.into_iter().collect()
}

/// The attribute part of a reference chain (`sagemaker.endpoints.x.arn` for
/// `sagemaker_endpoint.x` -> `arn`).
fn attribute_of(chain: &str, address: &str) -> Option<String> {
    let parsed = crate::address::Address::parse(address)?;
    let name = parsed.name();
    let parts: Vec<&str> = chain.split('.').collect();
    let at = parts.iter().position(|p| *p == name)?;
    parts.get(at + 1).map(|s| s.to_string())
}

fn chain_to_address(chain: &str) -> Option<String> {
    let parts: Vec<&str> = chain.split('.').collect();
    let (prefix, parts) = if parts.first() == Some(&"dr") {
        ("dr.", &parts[1..])
    } else {
        ("", &parts[..])
    };
    let addr = match parts {
        [k @ ("kms" | "s3" | "iam" | "sns" | "cloudtrail"), name, ..] => format!("{k}.{name}"),
        ["sagemaker", "models", name, ..] => format!("sagemaker_model.{name}"),
        ["sagemaker", "endpoints", name, ..] => format!("sagemaker_endpoint.{name}"),
        ["cloudwatch", "dashboards", name, ..] => format!("cloudwatch_dashboard.{name}"),
        ["cloudwatch", "alarms", name, ..] => format!("cloudwatch_alarm.{name}"),
        [k @ ("sagemaker_model"
        | "sagemaker_endpoint"
        | "cloudwatch_dashboard"
        | "cloudwatch_alarm"), name, ..] => format!("{k}.{name}"),
        _ => return None,
    };
    if addr.ends_with('.') {
        return None;
    }
    Some(format!("{prefix}{addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_template_renders_each_context_and_fails_as_one_off_does() {
        let t = "{{ env }}-{{ n | upper }}";
        let ctx = |e: &str| tera_context(&serde_json::json!({"env": e, "n": "x"}));
        assert_eq!(render_text(t, &ctx("dev")).unwrap(), "dev-X");
        assert_eq!(render_text(t, &ctx("prod")).unwrap(), "prod-X");
        let (bad, missing) = ("{{ env", "{{ nothere }}");
        for text in [bad, missing] {
            let ours = render_text(text, &ctx("dev")).unwrap_err();
            let theirs = tera::Tera::one_off(text, &ctx("dev"), false).unwrap_err();
            assert_eq!(
                explain(&ours, text, &ctx("dev")),
                explain(&theirs, text, &ctx("dev"))
            );
        }
        // No autoescaping, as one_off(.., false).
        assert_eq!(render_text("{{ env }}", &ctx("<a&b>")).unwrap(), "<a&b>");
    }

    #[test]
    fn refs_are_found_in_blocks_only() {
        let t = r#"{"a": "{{ kms.phi.arn }}", "b": "s3.models.name", "c": "{{ sagemaker.endpoints.m.name | upper }}",
                   "d": "{% if s3.logs.arn %}x{% endif %}", "e": "{{ dr.s3.models.arn }}", "f": "{{ vars.project }}"}"#;
        assert_eq!(
            refs_in(t),
            vec!["dr.s3.models", "kms.phi", "s3.logs", "sagemaker_endpoint.m"]
        );
    }

    #[test]
    fn template_errors_in_our_words() {
        let ctx = serde_json::json!({"vars": {"project": "p"}, "kms": {"phi": {"arn": "a"}}});
        let ctx = tera::Context::from_value(ctx).unwrap();
        let render = |t: &str| {
            let e = tera::Tera::one_off(t, &ctx, false).unwrap_err();
            explain(&e, t, &ctx)
        };
        let m = render("{{ vars.projct }}");
        assert_eq!(
            m,
            "`vars.projct` is not defined (did you mean `vars.project`?)"
        );
        let m = render("{\n  \"a\": \"{{ kms.phi.ar }}\"\n}");
        assert!(m.starts_with("line 2: `kms.phi.ar` is not defined"), "{m}");
        assert!(m.contains("did you mean `kms.phi.arn`"), "{m}");
        let m = render("x {{ vars.project ");
        assert!(m.starts_with("syntax error at line 1, column "), "{m}");
        for t in [
            "{{ vars.projct }}",
            "{{ vars.project ",
            "{{ vars.project | nofilter }}",
        ] {
            let m = render(t);
            assert!(!m.contains("__tera"), "{t}: {m}");
            assert!(!m.contains('\n'), "{t}: {m}");
        }
    }

    #[test]
    fn unknown_detection_is_deep() {
        let v = serde_json::json!({"a": [1, {"b": format!("arn:{UNKNOWN}")}]});
        assert!(is_unknown(&v));
        assert!(!is_unknown(&serde_json::json!({"a": "x"})));
    }
}
