//! The loop: read an input, let the shell handle it, print the reply.
//! Values and command output go to stdout, diagnostics to stderr; no error
//! in an input ends the session, only `:quit`, Ctrl-D, the end of piped
//! input, or piped input that cannot be read.

use std::io::{IsTerminal, Write};
use std::path::Path;

use stack_engine::plan::Style;

use crate::reader::{Read, Reader};
use crate::shell::{absolute, Reply, Shell};
use crate::{Options, ReplError};

pub fn run(options: Options) -> Result<(), ReplError> {
    let (stack, dir) = match &options.file {
        Some(file) => (
            file.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("stack")
                .to_string(),
            absolute(file.parent().unwrap_or(Path::new(""))),
        ),
        None => ("repl".to_string(), absolute(Path::new(""))),
    };
    let color = color_allowed() && std::io::stdout().is_terminal();
    let mut shell = Shell::new(&stack, &dir, options.params, Style { color });
    if let Some(file) = &options.file {
        print(&shell.load(file));
    }
    let mut reader = if std::io::stdin().is_terminal() {
        let reader = Reader::editor(shell.vocabulary(), color, options.history)
            .map_err(|e| ReplError::Start(format!("the line editor failed: {e}")))?;
        println!("stack repl: type Rhai to declare resources, :help for commands, :quit or Ctrl-D to leave.");
        reader
    } else {
        Reader::piped()
    };
    loop {
        match reader.read() {
            Read::Input(text) => {
                let reply = shell.handle(&text);
                print(&reply);
                if reply.quit {
                    break;
                }
            }
            Read::Interrupted => continue,
            Read::End => break,
            Read::Unreadable(why) => {
                reader.finish();
                return Err(ReplError::Input(why));
            }
        }
    }
    reader.finish();
    Ok(())
}

/// Listings longer than this go through the pager on a terminal.
const PAGED_LINES: usize = 20;

fn print(reply: &Reply) {
    let paged = reply.page
        && std::io::stdout().is_terminal()
        && reply.output.lines().count() > PAGED_LINES
        && page(&reply.output);
    if !paged {
        write_out(&reply.output);
    }
    for error in &reply.errors {
        eprintln!("{error:?}");
    }
    for note in &reply.notes {
        eprintln!("note: {note}");
    }
}

/// Shows `text` through `$PAGER` (default `less -FRX`, which leaves at
/// once when it fits on the screen); false when there is no pager to run.
fn page(text: &str) -> bool {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -FRX".to_string());
    let Ok(mut child) = std::process::Command::new("sh")
        .args(["-c", &pager])
        .stdin(std::process::Stdio::piped())
        .spawn()
    else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit early (`q`) closes its input: not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().is_ok()
}

fn write_out(output: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(output.as_bytes());
    if !output.is_empty() && !output.ends_with('\n') {
        let _ = stdout.write_all(b"\n");
    }
    let _ = stdout.flush();
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
