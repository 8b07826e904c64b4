//! Shell quoting of command lines for display.
//!
//! plangate never runs commands through a shell, but it shows them in logs,
//! reports and errors as a line a user can paste into one. The quoting is
//! POSIX `sh` single-quoting (`plangate_plans::text::shell_quote`, the one
//! quoting every report uses), which is also valid in bash and zsh.

use plangate_plans::text::shell_quote;

use crate::redact::Redactor;

/// The argv as one shell-quoted line, with secrets redacted.
///
/// Each argument is redacted before it is quoted, so a secret containing quote
/// characters is still found.
pub(crate) fn quote_command(argv: &[String], redactor: &Redactor) -> String {
    argv.iter()
        .map(|arg| shell_quote(&redactor.redact(arg)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_arguments_stay_bare() {
        assert_eq!(shell_quote("kubectl"), "kubectl");
        assert_eq!(shell_quote("--namespace=platform"), "--namespace=platform");
        assert_eq!(shell_quote("./docs/arch.md"), "./docs/arch.md");
    }

    #[test]
    fn unsafe_arguments_are_single_quoted() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("two words"), "'two words'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
        assert_eq!(shell_quote("*"), "'*'");
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
