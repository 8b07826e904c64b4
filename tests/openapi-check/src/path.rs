//! Path templates and matching concrete request paths against them.
//!
//! A concrete path is matched segment by segment. A literal segment beats a parameter at the
//! first position where two templates differ, so `/repos/{owner}/{repo}/pulls/comments` wins
//! over `/repos/{owner}/{repo}/pulls/{pull_number}`. A parameter matches exactly one non-empty
//! segment, except the parameters GitHub documents as carrying slashes (see
//! [`SPANNING_PARAMETERS`]): when no template matches segment for segment, those may match
//! several segments, in the middle of a template (`/commits/{ref}/check-runs`) or at its end
//! (`/git/ref/{ref}` with `heads/feature/x`).
//!
//! A segment that mixes literal text and parameters matches one segment with the literal text
//! in place. The description has one: `/compare/{base}...{head}` (`repos/compare-commits`),
//! a duplicate of `/compare/{basehead}` (`repos/compare-commits-with-basehead`) with the same
//! responses. It ranks below a bare parameter, so that every comparison finds the same
//! operation, `{basehead}`, whether or not its refs hold slashes (a mixed segment cannot
//! span segments).

/// Path parameters that GitHub lets carry `/`: git refs, branch names, `base...head`
/// comparisons and repository file paths.
pub(crate) const SPANNING_PARAMETERS: &[&str] = &["ref", "branch", "basehead", "path", "dir"];

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A literal segment, matched exactly.
    Literal(String),
    /// Literal text and parameters in one segment, `{base}...{head}`.
    Pattern(Vec<Piece>),
    /// A `{name}` parameter.
    Parameter {
        /// Whether this parameter may match several segments.
        spans: bool,
    },
}

/// A piece of a [`Segment::Pattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text.
    Literal(String),
    /// A parameter, matching one or more characters.
    Parameter,
}

/// How specific a matched segment is, for ranking templates that match the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Specificity {
    /// A mix of literal text and parameters (see the module docs for why it ranks lowest).
    Pattern,
    /// A bare parameter.
    Parameter,
    /// A literal segment.
    Literal,
}

/// A parsed path template such as `/repos/{owner}/{repo}/pulls/{pull_number}`.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses a template from the OpenAPI `paths` object.
    pub(crate) fn parse(text: &str) -> Template {
        let segments = split(text)
            .map(|segment| match parameter_name(segment) {
                Some(name) => Segment::Parameter {
                    spans: SPANNING_PARAMETERS.contains(&name),
                },
                None if segment.contains('{') => Segment::Pattern(pieces(segment)),
                None => Segment::Literal(segment.to_owned()),
            })
            .collect();
        Template { segments }
    }

    /// The number of segments.
    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    /// Whether some parameter of this template may match several segments.
    pub(crate) fn has_spanning_parameter(&self) -> bool {
        self.segments
            .iter()
            .any(|segment| matches!(segment, Segment::Parameter { spans: true }))
    }

    /// Matches segment for segment; returns how specific each segment's match was (for
    /// ranking).
    pub(crate) fn match_exact(&self, concrete: &[&str]) -> Option<Vec<Specificity>> {
        if concrete.len() != self.segments.len() {
            return None;
        }
        self.segments
            .iter()
            .zip(concrete)
            .map(|(segment, part)| segment_matches(segment, part))
            .collect()
    }

    /// Matches with spanning parameters allowed to take several segments; returns the number
    /// of literal segments (for ranking) when it matches.
    pub(crate) fn match_spanning(&self, concrete: &[&str]) -> Option<usize> {
        if concrete.len() < self.segments.len() {
            return None;
        }
        matches_from(&self.segments, concrete).then(|| {
            self.segments
                .iter()
                .filter(|segment| !matches!(segment, Segment::Parameter { .. }))
                .count()
        })
    }
}

/// Backtracking match of `segments` against `concrete`; a spanning parameter tries the
/// shortest span first.
fn matches_from(segments: &[Segment], concrete: &[&str]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return concrete.is_empty();
    };
    let Some((part, concrete_rest)) = concrete.split_first() else {
        return false;
    };
    match first {
        Segment::Parameter { spans: true } => {
            let most = concrete.len() - rest.len();
            (1..=most).any(|taken| {
                concrete[..taken].iter().all(|part| !part.is_empty())
                    && matches_from(rest, &concrete[taken..])
            })
        }
        single => segment_matches(single, part).is_some() && matches_from(rest, concrete_rest),
    }
}

/// Whether one template segment matches one concrete segment, and how specifically.
fn segment_matches(segment: &Segment, part: &str) -> Option<Specificity> {
    match segment {
        Segment::Literal(literal) => (literal == part).then_some(Specificity::Literal),
        Segment::Pattern(pieces) => pieces_match(pieces, part).then_some(Specificity::Pattern),
        Segment::Parameter { .. } => (!part.is_empty()).then_some(Specificity::Parameter),
    }
}

/// Backtracking match of a mixed segment; each parameter takes at least one character.
fn pieces_match(pieces: &[Piece], text: &str) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((Piece::Literal(literal), rest)) => text
            .strip_prefix(literal.as_str())
            .is_some_and(|text| pieces_match(rest, text)),
        Some((Piece::Parameter, rest)) => text
            .char_indices()
            .skip(1)
            .map(|(index, _)| index)
            .chain(std::iter::once(text.len()))
            .filter(|&index| index > 0)
            .any(|index| pieces_match(rest, &text[index..])),
    }
}

/// Splits `{base}...{head}` into its literal and parameter pieces.
fn pieces(segment: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = segment;
    while !rest.is_empty() {
        match (rest.find('{'), rest.find('}')) {
            (Some(0), Some(close)) => {
                pieces.push(Piece::Parameter);
                rest = &rest[close + 1..];
            }
            (Some(open), _) if open > 0 => {
                pieces.push(Piece::Literal(rest[..open].to_owned()));
                rest = &rest[open..];
            }
            _ => {
                pieces.push(Piece::Literal(rest.to_owned()));
                rest = "";
            }
        }
    }
    pieces
}

/// The segments of a path after its leading `/`, without any query or fragment.
pub(crate) fn split(path: &str) -> impl Iterator<Item = &str> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = &path[..end];
    path.strip_prefix('/').unwrap_or(path).split('/')
}

/// `name` for a `{name}` segment.
fn parameter_name(segment: &str) -> Option<&str> {
    segment
        .strip_prefix('{')?
        .strip_suffix('}')
        .filter(|name| !name.contains(['{', '}']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> Vec<&str> {
        split(path).collect()
    }

    #[test]
    fn query_and_leading_slash_are_stripped() {
        assert_eq!(
            parts("/repos/a/b/pulls?state=open"),
            ["repos", "a", "b", "pulls"]
        );
        assert_eq!(parts("/user"), ["user"]);
    }

    #[test]
    fn parameters_match_one_nonempty_segment() {
        let template = Template::parse("/repos/{owner}/{repo}");
        assert!(template.match_exact(&parts("/repos/a/b")).is_some());
        assert!(template.match_exact(&parts("/repos/a/")).is_none());
        assert!(template.match_exact(&parts("/repos/a/b/c")).is_none());
    }

    #[test]
    fn mixed_segments() {
        let template = Template::parse("/repos/{owner}/{repo}/compare/{base}...{head}");
        assert_eq!(
            template
                .match_exact(&parts("/repos/a/b/compare/main...dev"))
                .map(|rank| rank[4]),
            Some(Specificity::Pattern)
        );
        assert!(
            template
                .match_exact(&parts("/repos/a/b/compare/main..dev"))
                .is_none()
        );
        assert!(
            template
                .match_exact(&parts("/repos/a/b/compare/...dev"))
                .is_none()
        );
        assert!(
            template
                .match_exact(&parts("/repos/a/b/compare/{basehead}"))
                .is_none()
        );
    }

    #[test]
    fn spanning_parameter_in_the_middle_and_at_the_end() {
        let middle = Template::parse("/repos/{owner}/{repo}/commits/{ref}/check-runs");
        assert_eq!(
            middle.match_spanning(&parts("/repos/a/b/commits/feature/x/check-runs")),
            Some(3)
        );
        assert_eq!(
            middle.match_spanning(&parts("/repos/a/b/commits/feature/x")),
            None
        );
        let end = Template::parse("/repos/{owner}/{repo}/git/ref/{ref}");
        assert!(
            end.match_spanning(&parts("/repos/a/b/git/ref/heads/feature/x"))
                .is_some()
        );
        let not_spanning = Template::parse("/repos/{owner}/{repo}/pulls/{pull_number}");
        assert!(!not_spanning.has_spanning_parameter());
        assert_eq!(
            not_spanning.match_spanning(&parts("/repos/a/b/pulls/1/2")),
            None
        );
    }
}
