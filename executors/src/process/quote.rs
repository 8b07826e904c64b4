//! Shell quoting of command lines for display.
//!
//! plangate never runs commands through a shell, but it shows them in logs,
//! reports and errors as a line a user can paste into one. The quoting is
//! POSIX `sh` single-quoting, which is also valid in bash and zsh.

use std::borrow::Cow;

use crate::redact::Redactor;

/// Quotes one argument for a POSIX shell, leaving it bare when it is safe.
pub(crate) fn quote_arg(arg: &str) -> Cow<'_, str> {
    let is_safe = |c: char| c.is_ascii_alphanumeric() || "_-+=@%:,./".contains(c);
    if !arg.is_empty() && arg.chars().all(is_safe) {
        return Cow::Borrowed(arg);
    }
    let mut quoted = String::with_capacity(arg.len() + 2);
    quoted.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            quoted.push_str(r"'\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    Cow::Owned(quoted)
}

/// The argv as one shell-quoted line, with secrets redacted.
///
/// Each argument is redacted before it is quoted, so a secret containing quote
/// characters is still found.
pub(crate) fn quote_command(argv: &[String], redactor: &Redactor) -> String {
    argv.iter()
        .map(|arg| quote_arg(&redactor.redact(arg)).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_arguments_stay_bare() {
        assert_eq!(quote_arg("kubectl"), "kubectl");
        assert_eq!(quote_arg("--namespace=platform"), "--namespace=platform");
        assert_eq!(quote_arg("./docs/arch.md"), "./docs/arch.md");
    }

    #[test]
    fn unsafe_arguments_are_single_quoted() {
        assert_eq!(quote_arg(""), "''");
        assert_eq!(quote_arg("two words"), "'two words'");
        assert_eq!(quote_arg("$HOME"), "'$HOME'");
        assert_eq!(quote_arg("it's"), r"'it'\''s'");
        assert_eq!(quote_arg("a\nb"), "'a\nb'");
        assert_eq!(quote_arg("*"), "'*'");
    }

    #[test]
    fn command_is_joined_and_redacted() {
        let redactor = Redactor::builder().value("hunter2's").build();
        let argv = ["curl", "-H", "Authorization: hunter2's", "it's"].map(String::from);
        assert_eq!(
            quote_command(&argv, &redactor),
            r"curl -H 'Authorization: [REDACTED]' 'it'\''s'"
        );
    }
}
