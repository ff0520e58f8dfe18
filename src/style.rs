//! Terminal output: colour only on a terminal and never with `NO_COLOR`;
//! diagnostics rendered by miette with the same choice.

use std::io::IsTerminal;

use stack_engine::plan::Style;

/// Whether stdout gets colour.
pub fn stdout_style() -> Style {
    Style {
        color: color_allowed() && std::io::stdout().is_terminal(),
    }
}

/// Whether stderr gets colour (progress and summaries).
pub fn stderr_style() -> Style {
    Style {
        color: color_allowed() && std::io::stderr().is_terminal(),
    }
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up miette: colour and Unicode on a terminal, plain otherwise; the
/// width from `COLUMNS` when set (tests fix it).
pub fn install_diagnostics() {
    let color = color_allowed() && std::io::stderr().is_terminal();
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
