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

/// Writes the pages of `cmd`, the whole command line's definition (`cli` hands it over).
pub fn run(a: &Args, cmd: &clap::Command, sh: &Shell) -> Result<ExitCode, Failure> {
    let dir = a.dir.as_path();
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    write_pages(cmd, "novactl", "novactl", dir, &mut written)?;
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

/// One page for `cmd` and one for each visible subcommand, recursively. `bin` is how a user
/// types the command (`novactl dr drill`: the synopsis), `page` its page name
/// (`novactl-dr-drill`: the file, the title and the NAME section).
fn write_pages(
    cmd: &clap::Command,
    bin: &str,
    page: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), Failure> {
    let cmd = cmd
        .clone()
        .bin_name(bin.to_string())
        .display_name(page.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("novactl {}", env!("CARGO_PKG_VERSION")))
        .render(&mut buf)
        .map_err(|e| Failure::Usage(format!("cannot render the man page of {bin}: {e}")))?;
    let file = dir.join(format!("{page}.1"));
    std::fs::write(&file, buf)
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", file.display())))?;
    written.push(file);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let name = sub.get_name();
        write_pages(
            sub,
            &format!("{bin} {name}"),
            &format!("{page}-{name}"),
            dir,
            written,
        )?;
    }
    Ok(())
}
