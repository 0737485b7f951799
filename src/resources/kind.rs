//! The kind descriptor: what the engine needs to know about a kind without asking which kind
//! it is (where its entries live in the spec, whether its names are global, its `protect`
//! flag and sensitive keys, how its delete is described).

use crate::spec::Spec;

/// Where a kind's physical names must be unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Across the account, every region (S3 buckets, IAM roles).
    Global,
    /// Within one region.
    Regional,
}

/// What a successful delete does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The resource is gone.
    Immediate,
    /// It is scheduled for deletion after a waiting period (KMS keys).
    Scheduled,
}

/// A kind's description; each kind has one `pub const INFO: KindInfo` and returns it from
/// [`crate::resources::Reconciler::info`].
pub struct KindInfo {
    /// The kind part of addresses (`kms`, `sagemaker_model`).
    pub kind: &'static str,
    /// The spec section whose entries are this kind's resources, as a dotted path
    /// (`sagemaker.models`); `<section>.<name>` is one resource's entry. A kind that is part
    /// of another's entry names that section (`log_group` lives in `cloudtrail.<name>`).
    pub section: &'static str,
    /// The template context also holds the outputs under the section's path
    /// (`sagemaker.models.<name>` as well as `sagemaker_model.<name>`).
    pub section_in_context: bool,
    pub names: Names,
    pub deletion: Deletion,
    /// The entry's `protect` setting, when the spec has the entry and sets it.
    pub protect: fn(&Spec, &str) -> Option<bool>,
    /// Keys the entry marks sensitive (a model's `sensitive` environment names).
    pub sensitive: fn(&Spec, &str) -> Vec<String>,
    /// Resource types (`s3:bucket`, as the Resource Groups Tagging API names them) under
    /// which this kind's resources are found by their `novactl:environment` tag. Empty: that
    /// API does not cover the kind, and discovery goes by the state backend's inventory.
    pub tagging_types: &'static [&'static str],
    /// Output attributes known only after creation; they render as "(known after apply)".
    pub late_outputs: &'static [&'static str],
    /// Top-level attributes whose change needs a new resource.
    pub replace_on: &'static [&'static str],
}

/// For [`KindInfo::sensitive`]: the kind has no keys marked sensitive in the spec.
pub fn no_sensitive(_: &Spec, _: &str) -> Vec<String> {
    Vec::new()
}

impl KindInfo {
    /// A kind `kind` whose entries are `<section>.<name>`, with its `protect` lookup: names
    /// unique per region, deleted at once, no sensitive keys, outputs under the address only.
    pub const fn new(
        kind: &'static str,
        section: &'static str,
        protect: fn(&Spec, &str) -> Option<bool>,
    ) -> KindInfo {
        KindInfo {
            kind,
            section,
            section_in_context: false,
            names: Names::Regional,
            deletion: Deletion::Immediate,
            protect,
            sensitive: no_sensitive,
            tagging_types: &[],
            late_outputs: &[],
            replace_on: &[],
        }
    }

    /// Found by the tagging API under these resource types.
    pub const fn tagged_as(self, tagging_types: &'static [&'static str]) -> KindInfo {
        KindInfo {
            tagging_types,
            ..self
        }
    }

    /// Outputs known only once the resource exists.
    pub const fn late_outputs(self, late_outputs: &'static [&'static str]) -> KindInfo {
        KindInfo {
            late_outputs,
            ..self
        }
    }

    /// Attributes whose change needs a new resource.
    pub const fn replace_on(self, replace_on: &'static [&'static str]) -> KindInfo {
        KindInfo { replace_on, ..self }
    }

    /// Names unique across the account (buckets, roles).
    pub const fn global_names(self) -> KindInfo {
        KindInfo {
            names: Names::Global,
            ..self
        }
    }

    /// Deleted after a waiting period (keys).
    pub const fn scheduled_deletion(self) -> KindInfo {
        KindInfo {
            deletion: Deletion::Scheduled,
            ..self
        }
    }

    /// Outputs also under the section's path in the template context.
    pub const fn outputs_under_section(self) -> KindInfo {
        KindInfo {
            section_in_context: true,
            ..self
        }
    }

    /// Keys the entry marks sensitive.
    pub const fn with_sensitive(self, sensitive: fn(&Spec, &str) -> Vec<String>) -> KindInfo {
        KindInfo { sensitive, ..self }
    }

    /// The spec key that sets `protect` for the resource called `name`.
    pub fn protect_key(&self, name: &str) -> String {
        format!("{}.{name}.protect", self.section)
    }
}
