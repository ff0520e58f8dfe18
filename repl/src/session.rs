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

fn print(reply: &Reply) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(reply.output.as_bytes());
    if !reply.output.is_empty() && !reply.output.ends_with('\n') {
        let _ = stdout.write_all(b"\n");
    }
    let _ = stdout.flush();
    drop(stdout);
    for error in &reply.errors {
        eprintln!("{error:?}");
    }
    for note in &reply.notes {
        eprintln!("note: {note}");
    }
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
