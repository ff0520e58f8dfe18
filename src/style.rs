//! Terminal output: by default colour only on a terminal and never with
//! `NO_COLOR`; `--color always|never` and `--no-color` decide otherwise.
//! Diagnostics are rendered by miette with the same choice.

use std::io::IsTerminal;
use std::sync::OnceLock;

use stack_engine::plan::Style;

use crate::cli::ColorWhen;

static CHOICE: OnceLock<ColorWhen> = OnceLock::new();

/// Sets the colour choice of the command line, once, before anything prints.
pub fn choose(when: ColorWhen) {
    let _ = CHOICE.set(when);
}

/// Whether stdout gets colour.
pub fn stdout_style() -> Style {
    Style {
        color: colored(std::io::stdout().is_terminal()),
    }
}

/// Whether stderr gets colour (progress and summaries).
pub fn stderr_style() -> Style {
    Style {
        color: colored(std::io::stderr().is_terminal()),
    }
}

fn colored(terminal: bool) -> bool {
    match CHOICE.get().copied().unwrap_or(ColorWhen::Auto) {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Sets up miette: colour and Unicode on a terminal, plain otherwise; the
/// width from `COLUMNS` when set (tests fix it).
pub fn install_diagnostics() {
    let color = stderr_style().color;
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .terminal_links(false)
                .color(color)
                .unicode(color)
                .width(width)
                .context_lines(1)
                .show_related_errors_as_nested()
                .build(),
        )
    }));
}
