//! The shared kit of every kind: tags ([`tags`]), waits ([`wait`]), the discovery skeleton
//! ([`discover`]), references between resources ([`refs`]) and the reads an observation
//! shares ([`cache`]). A kind file holds what is its own; anything two kinds need lives here.

pub mod cache;
pub mod delivery;
pub mod discover;
pub mod owned_role;
pub mod refs;
pub mod s3_errors;
pub mod tags;
pub mod wait;
