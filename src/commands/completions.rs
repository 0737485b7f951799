//! `novactl completions SHELL`: shell completions from the clap definitions.

use std::process::ExitCode;

use crate::ops::Failure;
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
#[command(after_long_help = INSTALL)]
pub struct Args {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How to install the completions, per shell (also in docs/cli.md).
const INSTALL: &str = "\
Install:
  bash:        novactl completions bash > ~/.local/share/bash-completion/completions/novactl
  zsh:         novactl completions zsh > ~/.zfunc/_novactl
               (with `fpath+=~/.zfunc; autoload -Uz compinit; compinit` in ~/.zshrc)
  fish:        novactl completions fish > ~/.config/fish/completions/novactl.fish
  elvish:      novactl completions elvish >> ~/.config/elvish/rc.elv
  powershell:  novactl completions powershell >> $PROFILE
Open a new shell afterwards.";

/// Prints the completions of `cmd`, the whole command line's definition (`cli` hands it over).
pub fn run(a: &Args, mut cmd: clap::Command, sh: &Shell) -> Result<ExitCode, Failure> {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "novactl", &mut buf);
    sh.out(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
