//! Fault injection for crash-safety tests. `NOVACTL_FAIL_AT=kms.after_create_key` makes the
//! named point fail as if the process had lost its connection there. Not for production use;
//! an unset variable costs one environment lookup.

use crate::aws::AwsError;

pub fn point(name: &str) -> Result<(), AwsError> {
    match std::env::var("NOVACTL_FAIL_AT") {
        Ok(v) if v.split(',').any(|p| p.trim() == name) => Err(AwsError::local(
            name,
            "InjectedFault",
            format!("fault injected at {name} (NOVACTL_FAIL_AT)"),
        )),
        _ => Ok(()),
    }
}
