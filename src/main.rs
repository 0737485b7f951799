//! novactl: spec -> graph -> plan -> apply. See docs/architecture.md.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod address;
mod apply;
mod aws;
mod cli;
mod clock;
mod commands;
mod compliance;
mod cost;
mod discovery;
mod engine;
mod faults;
mod graph;
mod interrupt;
mod ops;
mod permissions;
mod plan;
mod policy;
mod redact;
mod resources;
mod shell;
mod spec;
mod state;
mod suggest;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// mimalloc instead of glibc's malloc: a plan's allocations (SDK requests and answers, one set
/// per call) spent ~18% of its CPU in glibc's allocator (perf, 500-resource plan). Built with
/// `no_thp`: mimalloc otherwise asks for transparent huge pages on its arenas, and on a
/// `madvise` THP system the 500-resource apply then peaked at 85 MB instead of 53 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its number in the bundled v3 `mimalloc.h` enum; the
/// crate names only a few options): how long freed pages stay committed. 0 returns them at
/// once; with the default (1 s) the 500-resource apply peaked at 62 MB instead of 57 MB. A
/// unit test holds the number to the option (by its default, which no other option shares).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // SAFETY: one option write, first thing in main, before any other thread exists (the
    // setter is not thread-safe); it steers only when mimalloc returns freed memory.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    // clap exits 2 on a usage error, which `plan --detailed-exitcode` callers read as "changes
    // pending": usage errors exit 1 like every other error.
    // `--no-color`, NO_COLOR and TERM=dumb hold for clap's own messages too (usage errors,
    // help), which are printed before the parsed flags are known.
    let no_color_flag = std::env::args_os().any(|a| a == "--no-color");
    let color = if shell::color_allowed(no_color_flag) {
        clap::ColorChoice::Auto
    } else {
        clap::ColorChoice::Never
    };
    let parsed = cli::Cli::command()
        .color(color)
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // 'static for the signal handler, which reports on the same terminal.
    let sh: &'static shell::Shell = Box::leak(Box::new(shell::Shell::new(
        cli.global.quiet,
        cli.global.verbose,
        cli.global.no_color,
    )));
    let filter = match cli.global.verbose {
        0 => "warn",
        1 => "novactl=info,warn",
        _ => "novactl=debug,info",
    };
    // Request and response bodies (which can carry secrets) are logged by the SDK's HTTP
    // layers at TRACE only: those are dropped whatever NOVACTL_LOG asks, and every log line
    // is scrubbed of the spec's sensitive values.
    let wire = tracing_subscriber::filter::filter_fn(|m| {
        *m.level() != tracing::Level::TRACE
            || !["aws_smithy", "aws_sigv4", "aws_config", "hyper", "h2"]
                .iter()
                .any(|t| m.target().starts_with(t))
    });
    let env = tracing_subscriber::EnvFilter::try_from_env("NOVACTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(|| redact::Scrubbed(std::io::stderr()))
                .with_ansi(sh.stderr_colors())
                .with_target(false)
                .with_filter(env.and(wire)),
        )
        .init();
    // One thread: novactl waits on AWS, it does not compute, and a multi-threaded runtime spent
    // a fifth of a plan's CPU handing every answer from one thread to another (context
    // switches and futex wake-ups, measured with perf on a 500-resource plan).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            sh.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        interrupt::install(interrupt::Notices {
            notice: Box::new(|text| sh.notice(text)),
            terminal: sh.stderr_is_terminal(),
        });
        cli::run(cli, sh).await
    });
    // A prompt's reader thread may still wait on stdin: do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(e) => {
            for line in e.lines() {
                sh.error(&line);
            }
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod allocator_tests {
    /// The option number set in `main` is mimalloc's purge delay: no other option defaults to
    /// 1000 (ms), so a mimalloc whose option numbering moved fails here, not in production.
    #[test]
    fn the_option_main_sets_is_the_purge_delay() {
        // SAFETY: a read of an option nothing in this test process has set.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
