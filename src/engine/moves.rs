//! `moved:` — address renames that keep the live resource.
//!
//! [`resolve`] checks the spec's entries when the model is built (no AWS call) and adds the
//! DR twins' moves (renaming a replicated primary renames its `dr.` twin too). [`incoming`]
//! decides, at plan time, whether the live resource at a move's `to` is the one tagged with
//! its `from`: then the plan updates it (re-tags it with the new address; reason "moved from
//! …") instead of creating `to` and deleting `from`, and apply moves its state records
//! (`journal::moved`, `last-applied`).

use serde_json::Value;

use crate::resources::{self, Address, Decl, Owner};
use crate::spec::{LoadedSpec, SpecError, SpecErrors};

use super::model::Model;
use super::observe::Observations;

/// One checked move: `from` (not in the spec) is now `to` (in the spec, same kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub from: String,
    pub to: String,
    /// The spec key of the entry (`moved.0`), for errors and notes.
    pub key: String,
}

/// Checks `moved:` against the spec's resources and returns the moves, twins included.
pub fn resolve(spec: &LoadedSpec, decls: &[Decl], errs: &mut SpecErrors) -> Vec<Move> {
    let defined = |a: &str| decls.iter().any(|d| d.address == a);
    let entries = &spec.spec.moved;
    let mut moves = Vec::new();
    for (i, m) in entries.iter().enumerate() {
        let key = format!("moved.{i}");
        let mut bad =
            |field: &str, msg: String| errs.push(spec.error(&format!("{key}.{field}"), msg));
        let (Some(from), Some(to)) = (plain(&m.from), plain(&m.to)) else {
            let field = if plain(&m.from).is_none() {
                "from"
            } else {
                "to"
            };
            bad(
                field,
                "not a resource address (`<kind>.<name>`, or `dr.<kind>.<name>` for a DR twin)"
                    .into(),
            );
            continue;
        };
        if let Some(j) = entries.iter().position(|o| o.to == m.from) {
            bad(
                "from",
                format!(
                    "a chain of moves ({} -> {} -> {}): write one move from the oldest address \
                     to the newest (moved.{j})",
                    entries[j].from, m.from, m.to
                ),
            );
            continue;
        }
        if entries[..i].iter().any(|o| o.from == m.from) {
            bad("from", format!("{} is moved twice: keep one entry", m.from));
            continue;
        }
        if entries[..i].iter().any(|o| o.to == m.to) {
            bad("to", format!("two moves end at {}: keep one entry", m.to));
            continue;
        }
        if !defined(&m.to) {
            let names: Vec<&str> = decls.iter().map(|d| d.address.as_str()).collect();
            let hint = crate::suggest::did_you_mean(&m.to, names.iter().copied());
            bad(
                "to",
                format!(
                    "{} is not in the spec: a move's `to` must be a resource of the spec{hint}",
                    m.to
                ),
            );
            continue;
        }
        if defined(&m.from) {
            bad(
                "from",
                format!(
                    "{} is still in the spec: a move's `from` is the old address, which left it",
                    m.from
                ),
            );
            continue;
        }
        if from.kind() != to.kind() || from.is_twin() != to.is_twin() {
            bad(
                "to",
                format!(
                    "{} and {} are not the same kind of resource: a move only renames",
                    m.from, m.to
                ),
            );
            continue;
        }
        moves.push(Move {
            from: m.from.clone(),
            to: m.to.clone(),
            key: key.clone(),
        });
        // A replicated primary's twin moves with it (unless the spec moves it itself).
        if !to.is_twin() {
            let (tf, tt) = (from.twin().to_string(), to.twin().to_string());
            if defined(&tt) && !entries.iter().any(|o| o.to == tt || o.from == tf) {
                moves.push(Move {
                    from: tf,
                    to: tt,
                    key,
                });
            }
        }
    }
    moves
}

/// An address without a copy id.
fn plain(text: &str) -> Option<Address> {
    Address::parse(text.trim()).filter(|a| a.copy().is_none() && a.to_string() == text)
}

/// What the plan makes of the move that ends at a resource.
pub enum Incoming<'a> {
    /// The live resource at `to` is the one tagged `from`: an update that re-tags it.
    Moved(&'a Move),
    /// Nothing live was `from` (already moved, or never existed): a note.
    Nothing(&'a Move),
}

/// The move ending at `d`, decided from what observe and discovery found. An error when the
/// live resource tagged `from` is not the one `to` describes (a different bucket name, key
/// alias ...): that is no rename, and creating `to` while keeping `from` would not be one.
pub fn incoming<'a>(
    model: &'a Model,
    obs: &Observations,
    d: &Decl,
) -> Result<Option<Incoming<'a>>, SpecError> {
    let Some(m) = model.moves.iter().find(|m| m.to == d.address) else {
        return Ok(None);
    };
    let env = &model.spec.spec.environment;
    let old = obs
        .orphans
        .iter()
        .find(|(k, _, o)| *k == d.kind && o.address == m.from && o.state.is_some());
    let live = obs.by_address.get(&d.address).filter(|o| o.state.is_some());
    if let Some(o) = live {
        let tags = o.state.as_ref().and_then(|s| s.get("tags"));
        let tagged_from = tags.is_some_and(|t| {
            t.get(resources::TAG_ADDRESS).and_then(Value::as_str) == Some(m.from.as_str())
                && t.get(resources::TAG_ENVIRONMENT).and_then(Value::as_str) == Some(env)
        });
        // Kinds without tags (dashboards): the inventory says what the old address was.
        let same = old.is_some_and(|(_, _, x)| x.physical_id == o.physical_id)
            || obs
                .inventoried
                .iter()
                .any(|(a, name)| a == &m.from && name == &o.physical_id);
        if tagged_from || (same && o.owner == Owner::Ours) {
            return Ok(Some(Incoming::Moved(m)));
        }
    }
    if let Some((_, _, x)) = old {
        return Err(model.spec.error(
            &format!("{}.from", m.key),
            format!(
                "not a move: {} is live as `{}`, but {} describes `{}`. A move keeps the live \
                 resource, so `{}` must name the same one (its name, alias ...); to replace it \
                 instead, remove this entry (the old one is then deleted)",
                m.from, x.physical_id, m.to, d.identity, m.to
            ),
        ));
    }
    Ok(Some(Incoming::Nothing(m)))
}

/// The note a plan gives a move with nothing live at `from`.
pub fn nothing_note(model: &Model, m: &Move) -> String {
    let at = model.spec.error(&m.key, "");
    let line = at.line.map(|l| format!(":{l}")).unwrap_or_default();
    format!(
        "moved {} -> {} ({}{line}): nothing live is {} (already moved, or never created); the \
         entry may be removed once every environment using this spec has applied it",
        m.from,
        m.to,
        model.spec.path.display(),
        m.from
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(moved: &str) -> Result<Model, String> {
        let text = format!(
            "environment: t\nregion: us-east-1\nkms:\n  phi_data:\n    alias: alias/k\ns3:\n  \
             b:\n    name: bucket-b\n    kms_key: phi_data\n{moved}"
        );
        let spec = LoadedSpec::from_text(std::path::Path::new("/tmp/t.yaml"), text)
            .map_err(|e| e.to_string())?;
        Model::build(spec, "123456789012").map_err(|e| e.to_string())
    }

    #[test]
    fn a_rename_to_a_spec_resource_is_a_move() {
        let m = build("moved:\n  - { from: kms.phi, to: kms.phi_data }\n").unwrap();
        assert_eq!(
            m.moves,
            vec![Move {
                from: "kms.phi".into(),
                to: "kms.phi_data".into(),
                key: "moved.0".into()
            }]
        );
    }

    #[test]
    fn bad_moves_are_spec_errors_at_their_key() {
        for (moved, want) in [
            ("- { from: kms.phi, to: kms.nope }", "moved.0.to"),
            ("- { from: s3.b, to: kms.phi_data }", "still in the spec"),
            ("- { from: s3.old, to: kms.phi_data }", "not the same kind"),
            (
                "- { from: kms.a, to: kms.phi_data }\n  - { from: kms.b, to: kms.phi_data }",
                "two moves end",
            ),
            (
                "- { from: kms.a, to: kms.phi_data }\n  - { from: kms.a, to: s3.b }",
                "moved twice",
            ),
            (
                "- { from: kms.a, to: kms.b }\n  - { from: kms.b, to: kms.phi_data }",
                "chain",
            ),
            (
                "- { from: 'kms.a#x', to: kms.phi_data }",
                "not a resource address",
            ),
        ] {
            let e = build(&format!("moved:\n  {moved}\n"))
                .err()
                .unwrap_or_default();
            assert!(e.contains(want), "{moved}: {e}");
            assert!(e.contains("t.yaml:"), "{e}");
        }
    }
}
