//! novactl: spec -> graph -> plan -> apply. See docs/architecture.md.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod apply;
mod aws;
mod cli;
mod commands;
mod compliance;
mod engine;
mod faults;
mod graph;
mod ops;
mod plan;
mod policy;
mod resources;
mod shell;
mod spec;
mod state;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap exits 2 on a usage error, which `plan --detailed-exitcode` callers read as "changes
    // pending": usage errors exit 1 like every other error.
    let cli = match cli::Cli::try_parse() {
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
    let sh = shell::Shell::new(cli.global.quiet, cli.global.verbose, cli.global.no_color);
    let filter = match cli.global.verbose {
        0 => "warn",
        1 => "novactl=info,warn",
        _ => "novactl=debug,info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NOVACTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(sh.stderr_colors())
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            sh.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, &sh)) {
        Ok(code) => code,
        Err(e) => {
            sh.error(&e.to_string());
            ExitCode::FAILURE
        }
    }
}
