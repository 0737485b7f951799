//! Reading the backend document `last-applied` (written by apply and destroy:
//! [`crate::ops::run::Run::save_last_applied`]): per address, the [`crate::engine::spec_digest`]
//! of the resource when the last apply converged it. Plan compares it with today's to tell a
//! **spec change** (the spec or a template asks something else) from **drift** (the spec asks
//! the same, so live state moved outside novactl).

use std::collections::HashMap;

use crate::ops::run::LAST_APPLIED;
use crate::state::Backend;

/// Address -> digest; empty when never written or unreadable (then no change is called
/// drift or spec change: plan says the resource differs).
pub async fn read(backend: &dyn Backend) -> HashMap<String, String> {
    let Ok(Some(doc)) = backend.get_doc(LAST_APPLIED).await else {
        return HashMap::new();
    };
    doc["addresses"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(a, e)| Some((a.clone(), e["digest"].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
