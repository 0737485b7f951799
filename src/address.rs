//! [`Address`]: the one place that reads and writes resource addresses.
//!
//! An address is `<kind>.<name>` (`kms.phi`, `sagemaker_model.mentallama`), with `dr.` in
//! front for the DR twin of a replicated resource (`dr.kms.phi`), and `#<physical id>` behind
//! for an extra copy the plan deletes (`kms.phi#1234abcd-…`). Kinds have no dots; a logical
//! name is everything after the kind's dot up to `#`.
//!
//! Addresses travel as strings (plans, audit records, tags, the inventory); every question
//! about one ("is it a twin?", "which kind?", "what is its primary?") goes through this type.

use std::fmt;

/// Address prefix of the DR stack's twins.
pub const TWIN_PREFIX: &str = "dr.";

/// A parsed resource address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    twin: bool,
    kind: String,
    name: String,
    /// The physical id of an extra copy (`#…`), if any.
    copy: Option<String>,
}

impl Address {
    /// Reads `[dr.]<kind>.<name>[#<id>]`; `None` when there is no kind and name.
    pub fn parse(text: &str) -> Option<Address> {
        let (base, copy) = match text.split_once('#') {
            Some((b, c)) => (b, Some(c.to_string())),
            None => (text, None),
        };
        let (twin, rest) = match base.strip_prefix(TWIN_PREFIX) {
            // `dr.x` alone is a kind `dr` named `x`, not a twin without a name.
            Some(r) if r.contains('.') => (true, r),
            _ => (false, base),
        };
        let (kind, name) = rest.split_once('.')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Address {
            twin,
            kind: kind.to_string(),
            name: name.to_string(),
            copy,
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The logical name (the map key in the spec).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_twin(&self) -> bool {
        self.twin
    }

    /// The physical id of an extra copy.
    pub fn copy(&self) -> Option<&str> {
        self.copy.as_deref()
    }

    /// This address as a DR twin (`kms.phi` → `dr.kms.phi`).
    pub fn twin(&self) -> Address {
        Address {
            twin: true,
            ..self.clone()
        }
    }

    /// The primary this address stands for (`dr.kms.phi` → `kms.phi`), without a copy id.
    #[cfg(test)]
    pub fn primary(&self) -> Address {
        Address {
            twin: false,
            copy: None,
            ..self.clone()
        }
    }

    /// Without the copy id (`kms.phi#1234` → `kms.phi`); twins stay twins.
    #[cfg(test)]
    pub fn base(&self) -> Address {
        Address {
            copy: None,
            ..self.clone()
        }
    }

    /// An extra copy of this address with physical id `id` (`kms.phi#<id>`).
    pub fn with_copy(&self, id: &str) -> Address {
        Address {
            copy: Some(id.to_string()),
            ..self.clone()
        }
    }

    /// Is this an address of `kind` (twin or not)?
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind == kind
    }

    /// The key path under which the template context holds this resource's outputs
    /// (`kms.phi`, `dr.kms.phi`), with the kind replaced by `section` when given
    /// (`sagemaker.models.m`).
    pub fn context_path(&self, section: Option<&str>) -> Vec<String> {
        let mut p = Vec::new();
        if self.twin {
            p.push("dr".to_string());
        }
        match section {
            Some(s) => p.extend(s.split('.').map(str::to_string)),
            None => p.push(self.kind.clone()),
        }
        p.push(self.name.clone());
        p
    }

    // Shorthands for callers holding an address as text.

    /// Is `address` a DR twin's?
    pub fn is_twin_str(address: &str) -> bool {
        Address::parse(address).is_some_and(|a| a.twin)
    }

    /// `text` as an address followed by one attribute (`kms.phi.arn` → (`kms.phi`, `arn`)),
    /// when it is that.
    pub fn split_attribute(text: &str) -> Option<(&str, &str)> {
        let (address, attribute) = text.rsplit_once('.')?;
        Address::parse(address).map(|_| (address, attribute))
    }

    /// `address` without its copy id (`kms.phi#1234` → `kms.phi`), as a slice of it.
    pub fn base_of(address: &str) -> &str {
        address.split_once('#').map_or(address, |(base, _)| base)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.twin {
            f.write_str(TWIN_PREFIX)?;
        }
        write!(f, "{}.{}", self.kind, self.name)?;
        if let Some(c) = &self.copy {
            write!(f, "#{c}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Address, String> {
        Address::parse(s).ok_or_else(|| format!("`{s}` is not an address (`<kind>.<name>`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_every_shape_and_back_to_text() {
        for (text, twin, kind, name, copy) in [
            ("kms.phi", false, "kms", "phi", None),
            ("dr.kms.phi", true, "kms", "phi", None),
            ("sagemaker_model.m", false, "sagemaker_model", "m", None),
            (
                "s3.models#bucket-x",
                false,
                "s3",
                "models",
                Some("bucket-x"),
            ),
            ("dr.s3.models#b", true, "s3", "models", Some("b")),
            ("log_group.trail", false, "log_group", "trail", None),
        ] {
            let a = Address::parse(text).unwrap();
            assert_eq!(
                (a.is_twin(), a.kind(), a.name(), a.copy()),
                (twin, kind, name, copy),
                "{text}"
            );
            assert_eq!(a.to_string(), text);
        }
        assert_eq!(Address::parse("kms"), None);
        assert_eq!(Address::parse("kms."), None);
        assert_eq!(Address::parse(".x"), None);
        // `dr.x` is a kind called dr, not a twin without a name.
        let dr = Address::parse("dr.x").unwrap();
        assert!(!dr.is_twin());
        assert_eq!(dr.kind(), "dr");
    }

    #[test]
    fn twin_primary_base_and_copy() {
        let a = Address::parse("kms.phi").unwrap();
        assert_eq!(a.twin().to_string(), "dr.kms.phi");
        assert_eq!(a.twin().primary(), a);
        assert_eq!(a.with_copy("k1").to_string(), "kms.phi#k1");
        assert_eq!(a.twin().with_copy("k1").base().to_string(), "dr.kms.phi");
        assert_eq!(Address::base_of("kms.phi#1234"), "kms.phi");
        assert!(Address::is_twin_str("dr.sagemaker_model.m"));
        assert!(!Address::is_twin_str("sagemaker_model.m"));
        assert_eq!(
            Address::split_attribute("dr.kms.phi.arn"),
            Some(("dr.kms.phi", "arn"))
        );
        assert_eq!(Address::split_attribute("kms"), None);
    }

    #[test]
    fn context_paths_name_the_section_when_given() {
        let m = Address::parse("dr.sagemaker_model.m").unwrap();
        assert_eq!(m.context_path(None), ["dr", "sagemaker_model", "m"]);
        assert_eq!(
            m.context_path(Some("sagemaker.models")),
            ["dr", "sagemaker", "models", "m"]
        );
    }
}
