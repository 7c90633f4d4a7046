//! `hubdeck completions SHELL` and `hubdeck man`, both generated from the one clap definition.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `hubdeck.1` into this directory instead of printing it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn completions(a: &CompletionsArgs) -> i32 {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "hubdeck", &mut script);
    write_stdout(&script)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> i32 {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("hubdeck: {e}");
            1
        }
    }
}

/// The man page as roff, dated today. `mandoc -T lint -W warning` finds nothing in it (the
/// tests check): clap_mangen's empty line between two `.br` before a list of possible values
/// is folded into one paragraph break.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .date(chrono::Utc::now().format("%Y-%m-%d").to_string())
        .render(&mut out)?;
    let text = String::from_utf8_lossy(&out).replace("\n.br\n\n.br\n", "\n.sp\n");
    Ok(text.into_bytes())
}

pub fn man(a: &ManArgs) -> i32 {
    let page = match man_page() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hubdeck: cannot render the man page: {e}");
            return 1;
        }
    };
    let Some(dir) = &a.out else {
        return write_stdout(&page);
    };
    let path = dir.join("hubdeck.1");
    match std::fs::write(&path, &page) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            0
        }
        Err(e) => {
            eprintln!("hubdeck: cannot write {}: {e}", path.display());
            1
        }
    }
}
