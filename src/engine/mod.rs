//! The pipeline in one place: spec -> [`Model`] (decls + graph) -> observe -> [`Plan`].
//! Apply lives in [`crate::apply`].

mod context;
mod decide;
#[cfg(test)]
mod fuzz;
pub mod journal;
mod model;
pub mod moves;
mod names;
mod observe;

pub use decide::{
    base_address, delete_change, extra_address, make_plan, protected_refusal, staleness,
    PlanOptions,
};
pub use model::{spec_digest, Model, OFFLINE_ACCOUNT};
pub use observe::{apply_journal, observe, Observations};
