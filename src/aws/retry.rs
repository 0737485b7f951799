//! One retry policy for every AWS client novactl makes (plan's reads and apply's writes alike).
//!
//! # Values
//! * Mode `standard` (the SDK's token-bucket retry quota: 500 tokens per service and process,
//!   5 per retry, 1 back per first-try success), or `adaptive` (standard plus a client-side
//!   rate limiter that slows every call down after throttling).
//! * [`DEFAULT_MAX_ATTEMPTS`] attempts per call (the first try included).
//! * Capped exponential backoff with full jitter: before retry *n* the SDK waits a random time
//!   in `[0, min(INITIAL_BACKOFF * 2^(n-1), MAX_BACKOFF))`: 1 s, 2 s, 4 s, ... up to 20 s.
//!
//! # What is retried (the SDK's classifiers, aws-smithy-runtime 1.16 / aws-runtime 1.10)
//! * Throttling codes (`Throttling`, `ThrottlingException`, `SlowDown`, `TooManyRequestsException`,
//!   `RequestLimitExceeded`, ...), `RequestTimeout`, and HTTP 500, 502, 503, 504.
//! * Time-outs and connection errors (refused, reset, closed before the answer), **whatever
//!   the operation**: the SDK does not know which calls are idempotent. A create whose answer
//!   was lost is therefore sent again, and its retry can meet "already exists" or make a second
//!   copy; every kind's `create` recognises its own earlier attempt (see `resources`).
//!
//! * The retry quota: the SDK's token bucket (500 tokens per client) charges 5 per retry of an
//!   error or a time-out and refuses retries once it is empty, so that a failing service is
//!   not hammered. novactl keeps that for errors but charges **nothing for a throttled retry**
//!   ([`partition`]): a throttle answer is the service saying "slower", the backoff already
//!   slows down, and every call has its own attempt limit. With the SDK's default quota a
//!   500-resource apply under IAM's rate limit emptied the bucket and failed calls at once.
//!
//! * Except: while no endpoint has answered yet in this process, a refused connection or a
//!   connect time-out is not retried ([`UnreachableAtStart`]): a wrong `--endpoint-url` or a
//!   closed port fails in well under a second instead of after a minute of backoff.
//!
//! # Where the values come from (first wins)
//! `--max-attempts N`, then `AWS_MAX_ATTEMPTS`, then [`DEFAULT_MAX_ATTEMPTS`]; the mode from
//! `AWS_RETRY_MODE`, else `standard`. The profile keys `max_attempts`/`retry_mode` are not read:
//! novactl's own default (more attempts than the SDK's 3) replaces them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_types::retry::{RetryConfig, RetryMode};

pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// Test-only: the initial backoff in milliseconds (fault-injection tests retry hundreds of
/// times; AWS's one second would make them minutes long).
pub const BASE_ENV: &str = "NOVACTL_RETRY_BASE_MS";

/// The resolved policy, with where its attempt count came from (for messages).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub mode: RetryMode,
    pub max_attempts: u32,
    /// `--max-attempts`, `AWS_MAX_ATTEMPTS` or `default`.
    pub source: &'static str,
    /// [`INITIAL_BACKOFF`], or `NOVACTL_RETRY_BASE_MS` (for tests that inject many faults).
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            mode: RetryMode::Standard,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            source: "default",
            initial_backoff: INITIAL_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// From the `--max-attempts` flag and the environment (`env` looks a variable up). A bad
    /// value is an error naming it, never a panic (the SDK's own loader panics on one).
    pub fn resolve(
        flag: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<RetryPolicy, String> {
        let mut p = RetryPolicy::default();
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(mode) = var("AWS_RETRY_MODE") {
            p.mode = match mode.trim().to_ascii_lowercase().as_str() {
                "standard" | "legacy" => RetryMode::Standard,
                "adaptive" => RetryMode::Adaptive,
                other => {
                    return Err(format!(
                        "AWS_RETRY_MODE={other}: expected `standard` or `adaptive`"
                    ))
                }
            };
        }
        if let Some(ms) = var(BASE_ENV) {
            let ms: u64 = ms
                .trim()
                .parse()
                .ok()
                .filter(|ms| (1..=60_000).contains(ms))
                .ok_or_else(|| format!("{BASE_ENV}={ms}: expected 1 to 60000 milliseconds"))?;
            p.initial_backoff = Duration::from_millis(ms);
        }
        if let Some(n) = flag {
            p.max_attempts = check_attempts(n).map_err(|e| format!("--max-attempts {n}: {e}"))?;
            p.source = "--max-attempts";
        } else if let Some(v) = var("AWS_MAX_ATTEMPTS") {
            let n: u32 = v.trim().parse().map_err(|_| {
                format!("AWS_MAX_ATTEMPTS={v}: expected a whole number of attempts (1 or more)")
            })?;
            p.max_attempts = check_attempts(n).map_err(|e| format!("AWS_MAX_ATTEMPTS={v}: {e}"))?;
            p.source = "AWS_MAX_ATTEMPTS";
        }
        Ok(p)
    }

    /// The SDK's retry configuration for this policy.
    pub fn sdk(&self) -> RetryConfig {
        let base = match self.mode {
            RetryMode::Adaptive => RetryConfig::adaptive(),
            _ => RetryConfig::standard(),
        };
        base.with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(MAX_BACKOFF)
    }
}

/// The retry partition of one client (`service` in `region`): its own token bucket, with the
/// SDK's costs except that a throttled retry costs nothing (see the module's "retry quota").
pub fn partition(service: &'static str, region: &str) -> RetryPartition {
    RetryPartition::custom(format!("novactl-{service}-{region}"))
        .token_bucket(TokenBucket::builder().throttling_retry_cost(0).build())
        .build()
}

static ANSWERED: AtomicBool = AtomicBool::new(false);

/// Some AWS endpoint has answered this process (any HTTP response).
pub fn mark_answered() {
    ANSWERED.store(true, Ordering::Relaxed);
}

/// Forbids retries of connection failures that mean "nothing is there" (refused, unreachable,
/// connect time-out) until an endpoint has answered once. After that they are transient, as
/// the SDK classifies them.
#[derive(Debug, Default)]
pub struct UnreachableAtStart;

impl ClassifyRetry for UnreachableAtStart {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if ANSWERED.load(Ordering::Relaxed) {
            return RetryAction::NoActionIndicated;
        }
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        match err.as_connector_error() {
            Some(ce) if ce.is_timeout() || nothing_there(ce) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "novactl: endpoint unreachable before any answer"
    }
}

fn nothing_there(err: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as K;
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
            );
        }
        next = e.source();
    }
    false
}

fn check_attempts(n: u32) -> Result<u32, String> {
    match n {
        0 => Err("at least 1 attempt (1 means no retries)".into()),
        1..=100 => Ok(n),
        _ => Err("at most 100 attempts".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn env<'a>(vars: Vars<'a>) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn flag_beats_environment_beats_default() {
        // (flag, environment, attempts, their source, mode, why)
        type Case<'a> = (Option<u32>, Vars<'a>, u32, &'a str, RetryMode, &'a str);
        let cases: &[Case] = &[
            (None, &[], 10, "default", RetryMode::Standard, "nothing set"),
            (
                None,
                &[("AWS_MAX_ATTEMPTS", "4")],
                4,
                "AWS_MAX_ATTEMPTS",
                RetryMode::Standard,
                "env",
            ),
            (
                Some(2),
                &[("AWS_MAX_ATTEMPTS", "4")],
                2,
                "--max-attempts",
                RetryMode::Standard,
                "flag wins",
            ),
            (
                None,
                &[("AWS_RETRY_MODE", "Adaptive"), ("AWS_MAX_ATTEMPTS", "")],
                10,
                "default",
                RetryMode::Adaptive,
                "mode from env, empty attempts ignored",
            ),
            (
                Some(1),
                &[("AWS_RETRY_MODE", "legacy")],
                1,
                "--max-attempts",
                RetryMode::Standard,
                "legacy is standard",
            ),
        ];
        for (flag, vars, attempts, source, mode, why) in cases {
            let p = RetryPolicy::resolve(*flag, env(vars)).expect(why);
            assert_eq!(p.max_attempts, *attempts, "{why}");
            assert_eq!(p.source, *source, "{why}");
            assert_eq!(p.mode, *mode, "{why}");
            let sdk = p.sdk();
            assert_eq!(sdk.max_attempts(), *attempts, "{why}");
            assert_eq!(sdk.mode(), *mode, "{why}");
            assert_eq!(sdk.initial_backoff(), INITIAL_BACKOFF, "{why}");
            assert_eq!(p.initial_backoff, INITIAL_BACKOFF, "{why}");
            assert_eq!(sdk.max_backoff(), MAX_BACKOFF, "{why}");
        }
    }

    #[test]
    fn the_test_backoff_is_used_when_set() {
        let p = RetryPolicy::resolve(None, env(&[(BASE_ENV, "20")])).unwrap();
        assert_eq!(p.sdk().initial_backoff(), Duration::from_millis(20));
        assert_eq!(p.sdk().max_backoff(), MAX_BACKOFF);
    }

    #[test]
    fn bad_values_are_errors_naming_the_setting() {
        let cases: &[(Option<u32>, Vars, &str)] = &[
            (
                None,
                &[("AWS_MAX_ATTEMPTS", "potato")],
                "AWS_MAX_ATTEMPTS=potato",
            ),
            (None, &[("AWS_MAX_ATTEMPTS", "0")], "AWS_MAX_ATTEMPTS=0"),
            (None, &[("AWS_MAX_ATTEMPTS", "-3")], "AWS_MAX_ATTEMPTS=-3"),
            (Some(0), &[], "--max-attempts 0"),
            (Some(1000), &[], "--max-attempts 1000"),
            (None, &[("AWS_RETRY_MODE", "eager")], "AWS_RETRY_MODE=eager"),
            (None, &[(BASE_ENV, "0")], "NOVACTL_RETRY_BASE_MS=0"),
        ];
        for (flag, vars, named) in cases {
            let e = RetryPolicy::resolve(*flag, env(vars)).unwrap_err();
            assert!(e.starts_with(named), "{named}: {e}");
        }
    }
}
