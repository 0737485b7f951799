//! Time a person spent answering a prompt: the shell adds to it, the AWS call summary leaves it
//! out of the run's time. A low module (no terminal, no AWS) so that both can use it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Time spent waiting at a confirmation prompt (excluded from reported timings).
static PROMPT_NANOS: AtomicU64 = AtomicU64::new(0);

/// How long this process waited for a person to answer a prompt.
pub fn prompt_time() -> Duration {
    Duration::from_nanos(PROMPT_NANOS.load(Ordering::Relaxed))
}

/// Counts `d` as time spent at a prompt.
pub fn add_prompt_time(d: Duration) {
    PROMPT_NANOS.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}
