//! The discovery skeleton every kind shares: of the candidates discovery found (tagging API,
//! inventory) or a `--scan` listing produced, read each one that is not the spec's own, and
//! keep what is still there and still ours.

use std::future::Future;

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::tags::ours_of_kind;
use crate::aws::AwsError;
use crate::resources::{Ctx, Found, Observed, Owner};

/// Candidates read at once.
const AT_ONCE: usize = 8;

/// Reads every candidate of `kind` in `region` whose name is not one of the spec's there (observe reads those)
/// with `read`, at most [`AT_ONCE`] at a time. A candidate that is gone (`Ok(None)`, or an
/// error whose code is in `gone`) or that is no longer ours is left out.
pub async fn read_found<F, Fut>(
    cx: &Ctx<'_>,
    kind: &str,
    region: &str,
    found: Vec<Found>,
    gone: &[&str],
    read: F,
) -> Result<Vec<Observed>, AwsError>
where
    F: Fn(Found) -> Fut,
    Fut: Future<Output = Result<Option<Observed>, AwsError>>,
{
    let todo: Vec<Found> = found
        .into_iter()
        .filter(|f| !cx.in_spec(kind, region, f.name()))
        .collect();
    keep_ours(
        stream::iter(todo.into_iter().map(read))
            .buffered(AT_ONCE)
            .collect::<Vec<_>>()
            .await,
        gone,
    )
}

/// `--scan`: of listed `(id, tags)` pairs, reads those tagged as this environment's `kind`
/// with `read(id, address)`, keeping what is still there and ours.
pub async fn read_tagged<F, Fut>(
    cx: &Ctx<'_>,
    kind: &str,
    listed: Vec<(String, Value)>,
    gone: &[&str],
    read: F,
) -> Result<Vec<Observed>, AwsError>
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = Result<Option<Observed>, AwsError>>,
{
    let todo: Vec<(String, String)> = listed
        .into_iter()
        .filter_map(|(id, tags)| Some((id, ours_of_kind(&tags, cx.environment, kind)?)))
        .collect();
    keep_ours(
        stream::iter(todo.into_iter().map(|(id, address)| read(id, address)))
            .buffered(AT_ONCE)
            .collect::<Vec<_>>()
            .await,
        gone,
    )
}

fn keep_ours(
    results: Vec<Result<Option<Observed>, AwsError>>,
    gone: &[&str],
) -> Result<Vec<Observed>, AwsError> {
    let mut out = Vec::new();
    for r in results {
        match r {
            Ok(Some(o)) if o.owner == Owner::Ours => out.push(o),
            Ok(_) => {}
            Err(e) if gone.contains(&e.code.as_str()) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
