//! Logical names (the `<name>` of `kms.<name>`, `sagemaker.models.<name>`): what templates
//! and addresses can refer to, so one rule for all: a lower-case letter first, then lower-case
//! letters, digits and `_`, at most [`MAX`] characters.

use crate::resources::Reconciler;
use crate::spec::{LoadedSpec, SpecErrors};

/// The longest logical name.
pub const MAX: usize = 64;

/// Why `name` is not a valid logical name, or `None`.
pub fn invalid(name: &str) -> Option<String> {
    let rule = format!(
        "a logical name is a lower-case letter followed by lower-case letters, digits or `_`, \
         at most {MAX} characters (it is part of addresses and template references, e.g. \
         `{{{{ s3.models.arn }}}}`)"
    );
    let why = match name.chars().next() {
        None => "is empty".to_string(),
        Some(c) if !c.is_ascii_lowercase() => format!("starts with `{c}`"),
        _ if name.chars().count() > MAX => format!("is {} characters long", name.chars().count()),
        _ => match name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            Some(c) => format!("holds `{c}`"),
            None => return None,
        },
    };
    Some(format!("`{name}` {why}: {rule}"))
}

/// Every entry of every kind's section must have a valid logical name; an error at each one
/// that does not.
pub(super) fn check(
    spec: &LoadedSpec,
    registry: &[&'static dyn Reconciler],
    errs: &mut SpecErrors,
) {
    let raw: serde_yaml::Value = serde_yaml::from_str(&spec.text).unwrap_or_default();
    let mut sections: Vec<&str> = registry.iter().map(|k| k.info().section).collect();
    sections.sort();
    sections.dedup();
    for section in sections {
        let Some(serde_yaml::Value::Mapping(m)) = super::model::yaml_at(&raw, section) else {
            continue;
        };
        for key in m.keys() {
            let Some(name) = key.as_str() else { continue };
            if let Some(why) = invalid(name) {
                errs.push(spec.error(&format!("{section}.{name}"), why));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_naming_rule() {
        for ok in ["phi", "model_artifacts", "a1", &"x".repeat(MAX)] {
            assert_eq!(invalid(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("", "is empty"),
            ("a.b", "holds `.`"),
            ("Models", "starts with `M`"),
            ("1st", "starts with `1`"),
            ("my-bucket", "holds `-`"),
            (&"x".repeat(MAX + 1), "65 characters"),
        ] {
            let e = invalid(bad).expect(bad);
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.contains("lower-case letter"), "{e}");
        }
    }
}
