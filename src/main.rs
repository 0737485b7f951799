//! novactl: spec -> graph -> plan -> apply. See docs/architecture.md.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod apply;
mod aws;
mod cli;
mod commands;
mod compliance;
mod discovery;
mod engine;
mod faults;
mod graph;
mod ops;
mod permissions;
mod plan;
mod policy;
mod resources;
mod shell;
mod spec;
mod state;
mod suggest;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
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
