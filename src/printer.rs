//! Where output goes: data to stdout, everything else to stderr, with colour
//! decided once from `--color`, `NO_COLOR`, `FORCE_COLOR` and the terminal.

use std::io::{self, IsTerminal, Write};

use crate::{args::ColorChoice, env};

/// Output sink for commands.
pub(crate) struct Printer {
    color: bool,
    quiet: bool,
}

impl Printer {
    pub(crate) fn new(choice: ColorChoice, quiet: bool) -> Self {
        Self {
            color: use_color(choice, io::stderr().is_terminal()),
            quiet,
        }
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
            let _ = writeln!(
                io::stderr().lock(),
                "{}: {message}",
                self.paint("warning", "1;33")
            );
        }
    }

    /// A progress or status line on stderr unless quiet.
    pub(crate) fn status(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{message}");
        }
    }

    /// `hint: ...` on stderr unless quiet.
    pub(crate) fn hint(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(
                io::stderr().lock(),
                "{}: {message}",
                self.paint("hint", "1;36")
            );
        }
    }

    /// A thread-safe sink for progress lines (`None` lines are dropped).
    pub(crate) fn progress_sink(&self) -> impl Fn(&Option<String>) + Send + Sync + 'static {
        let quiet = self.quiet;
        move |line: &Option<String>| {
            if let (false, Some(line)) = (quiet, line) {
                let _ = writeln!(io::stderr().lock(), "{line}");
            }
        }
    }

    /// Raw text on stderr (diagnostics, errors); never suppressed.
    #[expect(
        clippy::unused_self,
        reason = "every output goes through the printer, even where it needs no state yet"
    )]
    pub(crate) fn error_text(&self, text: &str) {
        let _ = io::stderr().lock().write_all(text.as_bytes());
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
