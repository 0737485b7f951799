//! Observe: every resource's live state read concurrently, and discovery of what left the
//! spec; then the create journal's part (untagged resources an open intent makes ours).

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt};
use serde_json::Value;

use crate::aws::{self, AwsError};
use crate::discovery;
use crate::resources::{self, Ctx, Observed, Owner, ReadCache};
use crate::state::Intent;

use super::model::*;

/// A live resource discovery found: (kind, region, observed).
pub type Discovered = (&'static str, String, Observed);

/// Live state of every resource in the model, plus resources of ours that left the spec.
pub struct Observations {
    pub by_address: HashMap<String, Observed>,
    /// Live resources tagged with this environment that are not the spec's resource for their
    /// address: the address left the spec, the spec renamed it, or an extra copy of it exists
    /// (e.g. a second key tagged `kms.phi`): (kind, region, observed).
    pub orphans: Vec<(&'static str, String, Observed)>,
    /// Open create-journal intents, by address.
    pub intents: HashMap<String, Intent>,
    /// Addresses whose live resource is untagged but ours by an open intent (a create that
    /// was interrupted before tagging): plan finishes them instead of reporting a conflict.
    pub journaled: HashSet<String>,
    /// (address, name) of the inventory's entries for kinds the tagging API does not cover
    /// (what says a dashboard's old address under `moved:`).
    pub inventoried: Vec<(String, String)>,
}

impl Observations {
    pub fn outputs(&self) -> HashMap<String, Value> {
        self.by_address
            .iter()
            .filter(|(_, o)| o.state.is_some())
            .map(|(a, o)| (a.clone(), o.outputs.clone()))
            .collect()
    }
}

/// Reads live state of every resource concurrently (at most `parallelism` at once), and
/// discovers resources of ours that left the spec (see [`crate::discovery`]). Never writes.
/// `state` is the backend whose inventory discovery reads.
pub async fn observe(
    model: &Model,
    cx: &Ctx<'_>,
    parallelism: usize,
    mode: discovery::Mode,
    state: Option<&dyn crate::state::Backend>,
) -> Result<Observations, Vec<(String, AwsError)>> {
    let cache = ReadCache::new(&model.decls, mode == discovery::Mode::Scan);
    let cx = &Ctx {
        cache: Some(&cache),
        ..*cx
    };
    let regions = model.regions();
    let observed = stream::iter(model.decls.iter().map(|d| async move {
        let r = aws::on_behalf_of(d.kind, model.kind(d.kind).observe(cx, d)).await;
        (d.address.clone(), r)
    }))
    .buffer_unordered(parallelism.max(1))
    .collect::<Vec<_>>();
    // The tagging API and the inventory are read while the spec's resources are observed.
    let candidates = async {
        match mode {
            discovery::Mode::Tagged => {
                Some(discovery::candidates(cx, &cache, &regions, state, true).await)
            }
            discovery::Mode::Scan | discovery::Mode::Off => None,
        }
    };
    let (observed, candidates) = futures::join!(observed, candidates);
    let mut inventoried = match &candidates {
        Some(Ok(c)) => c.inventoried(),
        _ => Vec::new(),
    };
    let mut errors = Vec::new();
    let mut by_address = HashMap::new();
    for (addr, r) in observed {
        match r {
            Ok(o) => {
                by_address.insert(addr, o);
            }
            Err(e) => errors.push((addr, e)),
        }
    }
    let discovered: Vec<discovery::Discovered> = match mode {
        discovery::Mode::Off => Vec::new(),
        discovery::Mode::Tagged => match candidates {
            Some(Ok(c)) => discovery::read_candidates(cx, c, &by_address).await,
            Some(Err(mut e)) => {
                errors.append(&mut e);
                Vec::new()
            }
            None => Vec::new(),
        },
        discovery::Mode::Scan => {
            let mut jobs = Vec::new();
            for region in &regions {
                for k in resources::registry() {
                    jobs.push(async move {
                        let r = aws::on_behalf_of(k.kind(), k.discover(cx, region)).await;
                        (k.kind(), region.clone(), r)
                    });
                }
            }
            // Kinds the tagging API does not cover are found through the inventory even
            // here (a dashboard cannot carry a tag, so listing finds nothing).
            match discovery::candidates(cx, &cache, &regions, state, false).await {
                Ok(c) => {
                    inventoried = c.inventoried();
                    let (mut scanned, mut inv) = futures::join!(
                        futures::future::join_all(jobs),
                        discovery::read_candidates(cx, c, &by_address)
                    );
                    scanned.append(&mut inv);
                    scanned
                }
                Err(mut e) => {
                    errors.append(&mut e);
                    Vec::new()
                }
            }
        }
    };
    let mut orphans: Vec<(&'static str, String, Observed)> = Vec::new();
    for (kind, region, r) in discovered {
        match r {
            Ok(list) => {
                for o in list {
                    let live_id = &o.physical_id;
                    let same = by_address
                        .get(&o.address)
                        .is_some_and(|cur| &cur.physical_id == live_id);
                    let seen = orphans
                        .iter()
                        .any(|(k, _, x)| *k == kind && x.physical_id == o.physical_id);
                    if !same && !seen {
                        orphans.push((kind, region.clone(), o));
                    }
                }
            }
            Err(e) => errors.push((format!("{kind} (discovery in {region})"), e)),
        }
    }
    if errors.is_empty() {
        Ok(Observations {
            by_address,
            orphans,
            intents: HashMap::new(),
            journaled: HashSet::new(),
            inventoried,
        })
    } else {
        Err(errors)
    }
}

/// The create journal's part of observation. A live resource with the spec's name and no
/// ownership tag, for which this environment's backend holds an open intent (same address,
/// kind and name), is a create of ours that was interrupted before it was tagged: it becomes
/// ours, and the plan finishes it (tags it, converges it). Without such an intent it stays
/// foreign (a conflict; `--adopt` takes it over).
pub fn apply_journal(model: &Model, obs: &mut Observations, intents: Vec<Intent>) {
    for i in intents {
        let Some(d) = model.decl(&i.address) else {
            obs.intents.insert(i.address.clone(), i);
            continue;
        };
        if let Some(o) = obs.by_address.get_mut(&i.address) {
            let untagged = o
                .state
                .as_ref()
                .and_then(|s| s.get("tags"))
                .is_some_and(|t| t.is_object() && t.get(resources::TAG_ADDRESS).is_none());
            let ours = i.kind == d.kind && i.identity == d.identity;
            if untagged && ours && matches!(o.owner, Owner::Foreign { .. }) {
                o.owner = Owner::Ours;
                obs.journaled.insert(i.address.clone());
            }
        }
        obs.intents.insert(i.address.clone(), i);
    }
}
