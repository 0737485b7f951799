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

/// A test-only stall: `NOVACTL_PAUSE_AT=lock.acquired:2.5` sleeps 2.5 s at that point (as a
/// process that hangs there would), so tests can act while a run holds the lock. Several
/// entries are comma-separated. Points: `lock.acquired`.
pub async fn pause(name: &str) {
    let Ok(spec) = std::env::var("NOVACTL_PAUSE_AT") else {
        return;
    };
    for entry in spec.split(',').map(str::trim) {
        if let Some((point, secs)) = entry.split_once(':') {
            if point == name {
                if let Ok(s) = secs.parse::<f64>() {
                    tracing::debug!(point, secs = s, "pausing (NOVACTL_PAUSE_AT)");
                    tokio::time::sleep(std::time::Duration::from_secs_f64(s.max(0.0))).await;
                }
            }
        }
    }
}
