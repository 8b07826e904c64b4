//! One way a response departs from GitHub's OpenAPI description.

use std::fmt;

/// One way a response departs from GitHub's OpenAPI description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The operation, as `GET /repos/{owner}/{repo}/pulls/{pull_number} (pulls/get)`, or the
    /// concrete method and path when no operation matches.
    pub operation: String,
    /// The response status that was checked.
    pub status: u16,
    /// A JSON pointer into the response body (`/head/repo/owner/login`); empty for the body as a
    /// whole and for violations that are not about the body.
    pub pointer: String,
    /// What is wrong, naming what was expected and what was found.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(body)"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{} status {}: {}: {}",
            self.operation, self.status, pointer, self.message
        )
    }
}
