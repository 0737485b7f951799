//! SIGINT and SIGTERM (Ctrl-C, a CI cancel).
//!
//! # Expected flow
//! * Outside a [`graceful`] section (validate, completions, connecting before a lock is
//!   held) the first signal ends the process at once with exit 130: nothing is held yet.
//! * Inside one (every AWS command), the first signal **asks to stop**: [`stopping`] turns true
//!   and [`stopped`] resolves. Plan and the confirmation prompt end at once (nothing changed);
//!   apply and destroy start nothing new, let every change in flight reach its next safe point
//!   (a bucket finishes its configuration sequence; an endpoint wait stops, leaving the
//!   endpoint resumable), then print what finished, what was interrupted and what never
//!   started, write the audit record marked interrupted, release the lock and exit 130. On a
//!   terminal it prints "stopping after in-flight changes (Ctrl-C again to abort)".
//! * The second signal **aborts**: [`aborted`] resolves, changes in flight are dropped where
//!   they are, and the run still says so, records itself and releases the lock if that takes
//!   less than [`ABORT_GRACE`]; after that the process exits 130 regardless. A third signal
//!   exits at once.
//!
//! The executor and the long waits poll [`stopping`] or select on [`stopped`]/[`aborted`];
//! nothing else needs to know about signals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

/// How long an aborted run may take to record itself and release its lock.
pub const ABORT_GRACE: Duration = Duration::from_secs(5);

/// The exit code of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_CODE: u8 = 130;

/// The error code of a change stopped by an interrupt before it finished.
pub const INTERRUPTED: &str = "Interrupted";

/// A command stopped between two steps by an interrupt; the message says what did not happen.
/// (`ops::Failure` turns it into `Failure::Interrupted`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped(pub String);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stopped {}

/// Where the handler's notices go (the terminal, through the shell `main` made), and whether
/// that is a terminal.
pub struct Notices {
    pub notice: Box<dyn Fn(&str) + Send + Sync>,
    pub terminal: bool,
}

/// 0 running, 1 stop asked, 2 abort asked.
static LEVEL: OnceLock<watch::Sender<u8>> = OnceLock::new();
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);

fn level() -> u8 {
    LEVEL.get().map_or(0, |tx| *tx.borrow())
}

/// Has a stop (or an abort) been asked for?
pub fn stopping() -> bool {
    level() >= 1
}

async fn wait_level(min: u8) {
    let Some(tx) = LEVEL.get() else {
        return std::future::pending().await;
    };
    let mut rx = tx.subscribe();
    if rx.wait_for(|l| *l >= min).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves once a stop has been asked for.
pub async fn stopped() {
    wait_level(1).await
}

/// Resolves once an abort has been asked for.
pub async fn aborted() {
    wait_level(2).await
}

/// While the returned guard lives, the first signal asks the running command to stop instead
/// of ending the process.
pub fn graceful() -> Graceful {
    GRACEFUL.fetch_add(1, Ordering::SeqCst);
    Graceful(())
}

pub struct Graceful(());

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Installs the handlers (once, inside the runtime); they report through `notices`.
pub fn install(notices: Notices) {
    let (tx, _) = watch::channel(0u8);
    if LEVEL.set(tx).is_err() {
        return;
    }
    tokio::spawn(listen(notices));
}

#[cfg(unix)]
async fn listen(sh: Notices) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        received(&sh, name);
    }
}

#[cfg(not(unix))]
async fn listen(sh: Notices) {
    while tokio::signal::ctrl_c().await.is_ok() {
        received(&sh, "Ctrl-C");
    }
}

fn received(sh: &Notices, name: &str) {
    let Some(tx) = LEVEL.get() else { return };
    let before = level();
    if GRACEFUL.load(Ordering::SeqCst) == 0 || before >= 2 {
        (sh.notice)(&format!("{name}: interrupted"));
        std::process::exit(EXIT_CODE.into());
    }
    let now = before + 1;
    tx.send_replace(now);
    if now == 1 {
        (sh.notice)(&if sh.terminal {
            "stopping after in-flight changes (Ctrl-C again to abort)".to_string()
        } else {
            format!("{name} received: stopping after in-flight changes ({name} again to abort)")
        });
    } else {
        (sh.notice)(&format!(
            "{name} again: aborting now; changes in flight are cut off where they are"
        ));
        tokio::spawn(async {
            tokio::time::sleep(ABORT_GRACE).await;
            std::process::exit(EXIT_CODE.into());
        });
    }
}

/// `Err` when a stop was asked for: for the points between steps of a command where it can
/// end cleanly (`what` says what did not happen).
pub fn check(what: &str) -> Result<(), Stopped> {
    if stopping() {
        Err(nothing_changed(what))
    } else {
        Ok(())
    }
}

fn nothing_changed(what: &str) -> Stopped {
    Stopped(format!("interrupted {what}; nothing was changed"))
}

/// Runs `fut` unless a stop is asked for first; then [`Stopped`] (nothing changed), turned
/// into the future's own error type.
pub async fn or_stop<T, E: From<Stopped>>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    check(what)?;
    tokio::select! {
        r = fut => r,
        _ = stopped() => Err(nothing_changed(what).into()),
    }
}

/// Sleeps for `d`, or less when a stop is asked for in the meantime.
pub async fn sleep(d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = stopped() => {},
    }
}
