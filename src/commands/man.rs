//! `novactl man DIR`: roff man pages from the same clap definitions that parse the command
//! line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::ops::Failure;
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write `novactl.1` and one `novactl-<command>.1` per command into (made if
    /// missing). Then: `man -l DIR/novactl.1`, or copy them to e.g. /usr/local/share/man/man1.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let dir = a.dir.as_path();
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    write_pages(&cmd, "novactl", dir, &mut written)?;
    for f in &written {
        sh.out(&f.display().to_string());
    }
    sh.status(&format!(
        "Wrote {} man pages to {}; read one with `man -l {}`.",
        written.len(),
        dir.display(),
        dir.join("novactl.1").display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// One page for `cmd` (named `name`) and one for each visible subcommand, recursively.
fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), Failure> {
    // clap names are `&'static str` (without its `string` feature); a man run names a few
    // dozen pages and exits.
    let cmd = cmd
        .clone()
        .name(&*Box::leak(name.to_string().into_boxed_str()));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|e| Failure::Usage(format!("cannot render the man page of {name}: {e}")))?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, buf)
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", file.display())))?;
    written.push(file);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
