//! One waiter for every long AWS transition (an endpoint reaching InService, an endpoint being
//! deleted): a time budget, polls that back off, a sleep that ends at Ctrl-C, a status for the
//! progress line, and typed ends: the caller's `Failed`, a `Timeout` naming the address and
//! the last status, or an [`INTERRUPTED`] error that leaves the resource as it is for the
//! next apply to resume.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::AwsError;
use crate::interrupt::INTERRUPTED;

/// How long to wait and how often to look.
#[derive(Debug, Clone)]
pub struct Wait {
    pub budget: Duration,
    /// First poll interval; doubles up to `max_poll`.
    pub poll: Duration,
    pub max_poll: Duration,
}

impl Wait {
    /// A budget of `m` minutes, polling from 2 s up to 30 s.
    pub fn minutes(m: u64) -> Wait {
        Wait {
            budget: Duration::from_secs(m * 60),
            poll: Duration::from_secs(2),
            max_poll: Duration::from_secs(30),
        }
    }

    /// The budget in words ("30 minutes", "0.5 seconds").
    pub fn budget_text(&self) -> String {
        let s = self.budget.as_secs_f64();
        if s >= 60.0 {
            format!("{} minutes", (s / 60.0).round())
        } else {
            format!("{s:.1} seconds")
        }
    }
}

/// What one look found.
pub enum Probe<T> {
    /// The goal is reached.
    Done(T),
    /// Not yet; the status now (for the progress line and the messages).
    Pending(String),
    /// It will not get there: the error's code and message.
    Failed { code: &'static str, message: String },
}

/// Who waits for what: the operation named in errors (`sagemaker:WaitInService`), the
/// resource's address and AWS name, and the goal in words (`reach InService`).
pub struct Waiter<'a> {
    pub operation: &'static str,
    pub address: &'a str,
    pub name: &'a str,
    pub goal: &'a str,
    pub wait: &'a Wait,
    /// Sees every status read, with the time waited so far.
    pub on_status: &'a (dyn Fn(&str, Duration) + Sync),
}

impl Waiter<'_> {
    /// Calls `probe` until it is done, fails, the budget runs out or a stop is asked for.
    pub async fn until<T, F, Fut>(&self, mut probe: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Probe<T>, AwsError>>,
    {
        let started = Instant::now();
        let mut poll = self.wait.poll;
        loop {
            let status = match probe().await? {
                Probe::Done(v) => return Ok(v),
                Probe::Failed { code, message } => {
                    return Err(AwsError::local(self.operation, code, message))
                }
                Probe::Pending(s) => s,
            };
            let elapsed = started.elapsed();
            (self.on_status)(&status, elapsed);
            if crate::interrupt::stopping() {
                return Err(AwsError::local(
                    self.operation,
                    INTERRUPTED,
                    format!(
                        "stopped waiting for {} ({}, status {status}); it is left as it is and \
                         the next apply resumes from there",
                        self.address, self.name
                    ),
                ));
            }
            if elapsed >= self.wait.budget {
                return Err(AwsError::local(
                    self.operation,
                    "Timeout",
                    format!(
                        "{} did not {} within {} (last status {status})",
                        self.address,
                        self.goal,
                        self.wait.budget_text()
                    ),
                ));
            }
            crate::interrupt::sleep(poll.min(self.wait.budget.saturating_sub(elapsed))).await;
            poll = (poll * 2).min(self.wait.max_poll);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast(budget_ms: u64) -> Wait {
        Wait {
            budget: Duration::from_millis(budget_ms),
            poll: Duration::from_millis(1),
            max_poll: Duration::from_millis(4),
        }
    }

    fn waiter<'a>(w: &'a Wait, seen: &'a (dyn Fn(&str, Duration) + Sync)) -> Waiter<'a> {
        Waiter {
            operation: "svc:WaitDone",
            address: "kind.x",
            name: "x-1",
            goal: "finish",
            wait: w,
            on_status: seen,
        }
    }

    #[tokio::test]
    async fn done_after_pending_reports_each_status() {
        let w = fast(5_000);
        let calls = AtomicUsize::new(0);
        let statuses = std::sync::Mutex::new(Vec::new());
        let seen = |s: &str, _: Duration| statuses.lock().unwrap().push(s.to_string());
        let v = waiter(&w, &seen)
            .until(|| async {
                Ok(match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Probe::Pending("Creating".into()),
                    1 => Probe::Pending("Updating".into()),
                    _ => Probe::Done(7),
                })
            })
            .await
            .unwrap();
        assert_eq!(v, 7);
        assert_eq!(*statuses.lock().unwrap(), ["Creating", "Updating"]);
    }

    #[tokio::test]
    async fn failed_and_timeout_are_typed_errors_naming_the_address() {
        let w = fast(5_000);
        let none = |_: &str, _: Duration| {};
        let err = waiter(&w, &none)
            .until(|| async {
                Ok::<Probe<()>, AwsError>(Probe::Failed {
                    code: "Broken",
                    message: "kind.x is Failed".into(),
                })
            })
            .await
            .unwrap_err();
        assert_eq!(
            (err.operation.as_str(), err.code.as_str()),
            ("svc:WaitDone", "Broken")
        );

        let w = fast(20);
        let started = Instant::now();
        let err = waiter(&w, &none)
            .until(|| async { Ok::<Probe<()>, AwsError>(Probe::Pending("Updating".into())) })
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the budget bounds it"
        );
        assert_eq!(err.code, "Timeout");
        assert_eq!(
            err.message,
            "kind.x did not finish within 0.0 seconds (last status Updating)"
        );
    }
}
