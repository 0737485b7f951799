//! The options operations take, as plain data: the command line fills them from its parsed
//! arguments; an operation never sees how they were given.

use std::path::PathBuf;
use std::time::Duration;

/// Options every command takes (`-e`, `--region`, ...): the global flags that reach an
/// operation. (`--quiet`, `--verbose` and `--no-color` shape the [`crate::shell::Shell`]
/// instead.)
#[derive(Debug, Clone, Default)]
pub struct GlobalOptions {
    /// The environment spec (YAML).
    pub env: Option<PathBuf>,
    /// AWS endpoint override for every service (else the spec's `endpoint_url`).
    pub endpoint_url: Option<String>,
    /// AWS profile.
    pub profile: Option<String>,
    /// Primary AWS region; overrides the spec's `region`.
    pub region: Option<String>,
    /// Attempts per AWS call, the first included.
    pub max_attempts: Option<u32>,
    /// How long a writing run waits for another run's lock.
    pub lock_timeout: Option<Duration>,
    /// `--var KEY=VALUE`, in the order given (a later one wins).
    pub vars: Vec<(String, String)>,
}

/// A name `--var` and `NOVACTL_VAR_<KEY>` may set (one a template can reference).
pub fn var_name_ok(k: &str) -> bool {
    k.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a plan (and the apply of it) covers and how: `--target`, `--adopt`, `--parallelism`,
/// `--scan`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Limit to these addresses (and what they depend on).
    pub targets: Vec<String>,
    /// Take over a live resource with the spec's name that novactl did not create.
    pub adopt: Vec<String>,
    /// Resources worked on at once (reads and changes); `None`: the defaults below.
    pub parallelism: Option<usize>,
    /// Find strays by listing every resource of every kind in the account.
    pub scan: bool,
    /// Plan again the updates SageMaker rolled back with the same spec (`ops::rolled_back`).
    pub retry_rolled_back: bool,
}

/// Resources read at once when `--parallelism` is not given: reads are cheap, AWS's limits on
/// them are high, and on AWS each round trip costs tens of milliseconds.
pub const READ_PARALLELISM: usize = 32;
/// Resources changed at once when `--parallelism` is not given: fewer than reads (AWS throttles
/// writes sooner, IAM's most of all), enough that a 500-resource apply at 50 ms a round trip is
/// not bound by it. A throttled write is retried without spending the retry quota
/// (`aws/retry.rs`), so a throttle slows an apply down and does not fail it.
pub const WRITE_PARALLELISM: usize = 20;

/// How many resources observe reads at once.
pub fn read_parallelism(given: Option<usize>) -> usize {
    given.unwrap_or(READ_PARALLELISM).max(1)
}

/// How many resources apply and destroy change at once.
pub fn write_parallelism(given: Option<usize>) -> usize {
    given.unwrap_or(WRITE_PARALLELISM).max(1)
}
