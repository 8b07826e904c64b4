//! Which fields each operation of a `kubectl`, `helm` or `git` action takes.
//!
//! This is the one copy of those rules. The loader reads it to report a
//! problem at the offending key, with help; the executors' `validate` read
//! it (through [`crate::ActionSpec::field_problems`]) to refuse an action
//! built some other way. So every action the loader accepts, its executor
//! accepts too. The rules follow what the real tools accept (kubectl 1.33,
//! helm 4.1) and what the executors turn into arguments: a field the
//! executor would not pass on is "not used", never silently ignored.

use std::fmt;

use crate::text::and_ticked;

/// The fields one operation takes, and the rules between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpFields {
    /// Every field of the kind, in declaration order.
    pub all: &'static [&'static str],
    /// Fields every operation of the kind takes (`op`, `namespace`, ...).
    pub common: &'static [&'static str],
    /// Fields the operation needs, each of them.
    pub required: &'static [&'static str],
    /// Fields of which the operation needs at least one (empty: no such group).
    pub one_of: &'static [&'static str],
    /// Further fields the operation takes.
    pub optional: &'static [&'static str],
    /// Pairs of fields that cannot be given together.
    pub exclusive: &'static [(&'static str, &'static str)],
    /// Pairs `(field, other)`: `field` is taken only together with `other`.
    pub needs: &'static [(&'static str, &'static str)],
}

/// Whether an action gives a field, as far as its executor can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldState {
    /// Not given, or given as its default (`false`, an empty list): the
    /// executor passes nothing for it.
    Absent,
    /// Given as an empty string: the executor would pass an empty argument.
    Empty,
    /// Given with a value.
    Present,
}

impl FieldState {
    fn given(self) -> bool {
        self != FieldState::Absent
    }
}

/// One way an action breaks the rules of its operation. Displays as a
/// predicate of the operation: "needs `replicas`".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// A required field is missing (or empty).
    Missing {
        /// The field.
        field: &'static str,
    },
    /// None of a group of fields, of which one is needed, is given.
    MissingOneOf {
        /// The group.
        fields: &'static [&'static str],
    },
    /// A field the operation does not use is given.
    NotUsed {
        /// The field.
        field: &'static str,
    },
    /// Two fields that exclude each other are both given.
    Together {
        /// The first of the pair, as the table lists it.
        first: &'static str,
        /// The second.
        second: &'static str,
    },
    /// A field is given without the field it needs.
    Needs {
        /// The field given.
        field: &'static str,
        /// The field it needs.
        other: &'static str,
    },
    /// kubectl: `selector` together with a named `resource` (`deployment/web`);
    /// kubectl refuses selectors when an object is named.
    SelectorWithNamedResource,
    /// kubectl: a `resource` that names only a kind (`deployment`), without a
    /// `selector`; kubectl refuses it ("no name was specified").
    ResourceWithoutName {
        /// Whether the operation takes a `selector` instead of a name.
        selector_allowed: bool,
    },
}

impl FieldProblem {
    /// The field whose key the problem is best shown at; `None` for the action as a whole.
    pub fn field(self) -> Option<&'static str> {
        match self {
            FieldProblem::Missing { .. }
            | FieldProblem::MissingOneOf { .. }
            | FieldProblem::ResourceWithoutName { .. } => None,
            FieldProblem::NotUsed { field } | FieldProblem::Needs { field, .. } => Some(field),
            FieldProblem::Together { second, .. } => Some(second),
            FieldProblem::SelectorWithNamedResource => Some("selector"),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldProblem::Missing { field } => write!(f, "needs `{field}`"),
            FieldProblem::MissingOneOf { fields } => write!(f, "needs {}", or_ticked(fields)),
            FieldProblem::NotUsed { field } => write!(f, "does not use `{field}`"),
            FieldProblem::Together { first, second } => {
                write!(f, "takes `{first}` or `{second}`, not both")
            }
            FieldProblem::Needs { field, other } => {
                write!(f, "takes `{field}` only together with `{other}`")
            }
            FieldProblem::SelectorWithNamedResource => {
                f.write_str("takes `selector` only with a kind as `resource` (such as `pods`), not with a named object")
            }
            FieldProblem::ResourceWithoutName {
                selector_allowed: true,
            } => f.write_str("needs a `resource` with a name (`KIND/NAME`), or a `selector`"),
            FieldProblem::ResourceWithoutName {
                selector_allowed: false,
            } => f.write_str("needs a `resource` with a name (`KIND/NAME`)"),
        }
    }
}

fn or_ticked(fields: &[&str]) -> String {
    match fields {
        [] => String::new(),
        [only] => format!("`{only}`"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|field| format!("`{field}`")).collect();
            format!("{} or `{last}`", init.join(", "))
        }
    }
}

impl OpFields {
    /// An operation that takes only the kind's `common` fields.
    pub const fn new(all: &'static [&'static str], common: &'static [&'static str]) -> Self {
        Self {
            all,
            common,
            required: &[],
            one_of: &[],
            optional: &[],
            exclusive: &[],
            needs: &[],
        }
    }

    /// With these required fields.
    #[must_use]
    pub const fn required(self, required: &'static [&'static str]) -> Self {
        Self { required, ..self }
    }

    /// With a group of which one field is needed.
    #[must_use]
    pub const fn one_of(self, one_of: &'static [&'static str]) -> Self {
        Self { one_of, ..self }
    }

    /// With these optional fields.
    #[must_use]
    pub const fn optional(self, optional: &'static [&'static str]) -> Self {
        Self { optional, ..self }
    }

    /// With these pairs that exclude each other.
    #[must_use]
    pub const fn exclusive(self, exclusive: &'static [(&'static str, &'static str)]) -> Self {
        Self { exclusive, ..self }
    }

    /// With these `(field, other)` pairs: `field` only with `other`.
    #[must_use]
    pub const fn needs(self, needs: &'static [(&'static str, &'static str)]) -> Self {
        Self { needs, ..self }
    }

    /// Whether the operation takes `field` at all.
    pub fn accepts(&self, field: &str) -> bool {
        [self.common, self.required, self.one_of, self.optional]
            .iter()
            .any(|fields| fields.contains(&field))
    }

    /// Every field the operation takes, in the kind's declaration order.
    pub fn accepted(&self) -> Vec<&'static str> {
        self.all
            .iter()
            .copied()
            .filter(|field| self.accepts(field))
            .collect()
    }

    /// What the help of a diagnostic lists: the accepted fields but `op`.
    fn takes(&self) -> String {
        let fields: Vec<&str> = self
            .accepted()
            .into_iter()
            .filter(|field| *field != "op")
            .collect();
        format!("this operation takes {}", and_ticked(&fields))
    }

    /// The problems of an action whose fields are in `state`, in the order
    /// required, one-of, not used, exclusive, needs.
    pub fn check(&self, state: impl Fn(&str) -> FieldState) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        for &field in self.required {
            if state(field) != FieldState::Present {
                problems.push(FieldProblem::Missing { field });
            }
        }
        if !self.one_of.is_empty()
            && !self
                .one_of
                .iter()
                .any(|field| state(field) == FieldState::Present)
        {
            problems.push(FieldProblem::MissingOneOf {
                fields: self.one_of,
            });
        }
        for &field in self.all {
            if !self.accepts(field) && state(field).given() {
                problems.push(FieldProblem::NotUsed { field });
            }
        }
        for &(first, second) in self.exclusive {
            if state(first).given() && state(second).given() {
                problems.push(FieldProblem::Together { first, second });
            }
        }
        for &(field, other) in self.needs {
            if state(field).given() && !state(other).given() {
                problems.push(FieldProblem::Needs { field, other });
            }
        }
        problems
    }

    /// The help line of a problem with this operation.
    pub fn help(&self, problem: FieldProblem) -> String {
        match problem {
            FieldProblem::NotUsed { .. } => format!("remove it; {}", self.takes()),
            FieldProblem::Together {
                first: "prune",
                second: "selector",
            } => "`prune` is itself the label selector of the objects to prune (both become `-l`): give one of them".to_owned(),
            FieldProblem::Together { .. } => "give one of them".to_owned(),
            FieldProblem::Needs { field, other } => {
                format!("set `{other}` too, or remove `{field}`")
            }
            FieldProblem::MissingOneOf { fields } if fields.contains(&"resource") => {
                "give manifests (`files` or `kustomize`), or `resource`: an object (`KIND/NAME`), or a kind (such as `pods`) with `selector`".to_owned()
            }
            FieldProblem::Missing { .. } | FieldProblem::MissingOneOf { .. } => self.takes(),
            FieldProblem::SelectorWithNamedResource => {
                "write `resource: KIND` (e.g. `pods`) with `selector`, or drop `selector` to act on the named object".to_owned()
            }
            FieldProblem::ResourceWithoutName {
                selector_allowed: true,
            } => "e.g. `resource: deployment/web`, or `resource: deployment` with `selector: app=web`".to_owned(),
            FieldProblem::ResourceWithoutName {
                selector_allowed: false,
            } => "e.g. `resource: deployment/web`".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &["op", "a", "b", "c", "d"];

    #[test]
    fn every_rule_is_checked() {
        let fields = OpFields::new(ALL, &["op"])
            .required(&["a"])
            .one_of(&["b", "c"])
            .exclusive(&[("b", "c")])
            .needs(&[("c", "a")]);
        let given = |present: &'static [&'static str]| {
            move |field: &str| {
                if present.contains(&field) {
                    FieldState::Present
                } else {
                    FieldState::Absent
                }
            }
        };
        assert_eq!(fields.check(given(&["a", "b"])), []);
        assert_eq!(
            fields.check(given(&["d"])),
            [
                FieldProblem::Missing { field: "a" },
                FieldProblem::MissingOneOf {
                    fields: &["b", "c"]
                },
                FieldProblem::NotUsed { field: "d" },
            ]
        );
        assert_eq!(
            fields.check(given(&["b", "c"])),
            [
                FieldProblem::Missing { field: "a" },
                FieldProblem::Together {
                    first: "b",
                    second: "c"
                },
                FieldProblem::Needs {
                    field: "c",
                    other: "a"
                },
            ]
        );
        assert_eq!(fields.accepted(), ["op", "a", "b", "c"]);
    }

    #[test]
    fn an_empty_string_does_not_satisfy_a_requirement() {
        let fields = OpFields::new(ALL, &["op"]).required(&["a"]);
        let problems = fields.check(|field| {
            if field == "a" {
                FieldState::Empty
            } else {
                FieldState::Absent
            }
        });
        assert_eq!(problems, [FieldProblem::Missing { field: "a" }]);
    }

    #[test]
    fn messages_read_after_the_operation() {
        assert_eq!(
            FieldProblem::MissingOneOf {
                fields: &["files", "kustomize", "resource"]
            }
            .to_string(),
            "needs `files`, `kustomize` or `resource`"
        );
        assert_eq!(
            FieldProblem::Together {
                first: "prune",
                second: "selector"
            }
            .to_string(),
            "takes `prune` or `selector`, not both"
        );
    }
}
