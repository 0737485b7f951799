//! Fault injection for crash-safety tests. `NOVACTL_FAIL_AT=kms.after_create_key` makes that
//! point fail for every resource, as if the process had lost its connection there;
//! `kms.after_create_key@kms.phi` only for one address. Several entries are comma-separated.
//! Not for production use; an unset variable costs one environment lookup.

use crate::aws::AwsError;

pub fn point(name: &str, address: &str) -> Result<(), AwsError> {
    let Ok(spec) = std::env::var("NOVACTL_FAIL_AT") else {
        return Ok(());
    };
    let hit = spec
        .split(',')
        .map(str::trim)
        .any(|entry| match entry.split_once('@') {
            Some((point, addr)) => point == name && addr == address,
            None => entry == name,
        });
    if hit {
        Err(AwsError::local(
            name,
            "InjectedFault",
            format!("fault injected at {name} for {address} (NOVACTL_FAIL_AT)"),
        ))
    } else {
        Ok(())
    }
}
