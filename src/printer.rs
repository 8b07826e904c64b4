//! Where output goes: data to stdout, everything else to stderr, with colour
//! decided once from `--color`, `NO_COLOR`, `FORCE_COLOR` and the terminal,
//! and how a run's progress is shown (see [`ProgressMode`]).
//!
//! Every write to stderr goes through [`live::write_stderr`], so that it
//! lands above the live display when one is drawn.

use std::io::{self, IsTerminal, Write};

use crate::{
    args::{ColorChoice, LogFormat},
    env, live,
};

/// How a run's progress reaches stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    /// `--quiet`: not at all.
    Quiet,
    /// One plain line per event (stderr is not a terminal, `TERM=dumb`,
    /// or `$PLANGATE_NO_PROGRESS`).
    Lines,
    /// Plain lines scrolling above a live display of what runs.
    Live,
    /// `--log-format json`: one JSON object per event.
    Json,
}

/// Output sink for commands.
pub(crate) struct Printer {
    color: bool,
    quiet: bool,
    progress: ProgressMode,
}

impl Printer {
    pub(crate) fn new(choice: ColorChoice, quiet: bool, log_format: LogFormat) -> Self {
        let is_terminal = io::stderr().is_terminal();
        Self {
            color: use_color(choice, is_terminal),
            quiet,
            progress: progress_mode(quiet, log_format, is_terminal),
        }
    }

    /// How progress is shown.
    pub(crate) fn progress_mode(&self) -> ProgressMode {
        self.progress
    }

    /// Whether stderr is coloured.
    pub(crate) fn colors(&self) -> bool {
        self.color
    }

    /// Writes data to stdout.
    pub(crate) fn data(&self, text: &str) -> io::Result<()> {
        self.data_with(|out| out.write_all(text.as_bytes()))
    }

    /// Data on stdout, written by `write`.
    #[expect(
        clippy::unused_self,
        reason = "every output goes through the printer, even where it needs no state yet"
    )]
    pub(crate) fn data_with(
        &self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut out = io::stdout().lock();
        write(&mut out)?;
        out.flush()
    }

    /// `warning: ...` on stderr unless quiet.
    pub(crate) fn warning(&self, message: &str) {
        if !self.quiet {
            live::write_stderr(
                format!("{}: {message}\n", self.paint("warning", "1;33")).as_bytes(),
            );
        }
    }

    /// A progress or status line on stderr unless quiet.
    pub(crate) fn status(&self, message: &str) {
        if !self.quiet {
            live::write_stderr(format!("{message}\n").as_bytes());
        }
    }

    /// `hint: ...` on stderr unless quiet.
    pub(crate) fn hint(&self, message: &str) {
        if !self.quiet {
            live::write_stderr(format!("{}: {message}\n", self.paint("hint", "1;36")).as_bytes());
        }
    }

    /// Raw text on stderr (diagnostics, errors); never suppressed.
    #[expect(
        clippy::unused_self,
        reason = "every output goes through the printer, even where it needs no state yet"
    )]
    pub(crate) fn error_text(&self, text: &str) {
        live::write_stderr(text.as_bytes());
    }

    /// `text` in an ANSI style when colour is on.
    pub(crate) fn paint(&self, text: &str, style: &str) -> String {
        if self.color {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Live display only on a terminal that can move its cursor, for text logs,
/// unless `$PLANGATE_NO_PROGRESS` asks for plain lines.
fn progress_mode(quiet: bool, log_format: LogFormat, is_terminal: bool) -> ProgressMode {
    if quiet {
        ProgressMode::Quiet
    } else if log_format == LogFormat::Json {
        ProgressMode::Json
    } else if is_terminal && !env::dumb_terminal() && !env::no_progress() {
        ProgressMode::Live
    } else {
        ProgressMode::Lines
    }
}

/// Whether to colour a stream: `--color`, then `NO_COLOR`, then
/// `FORCE_COLOR`, then whether it is a terminal that is not `TERM=dumb`.
pub(crate) fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if env::no_color() => false,
        ColorChoice::Auto if env::force_color() => true,
        ColorChoice::Auto => is_terminal && !env::dumb_terminal(),
    }
}
