//! Redaction of secret values from command lines and captured output.
//!
//! A [`Redactor`] holds the values that must never be shown: the values of
//! environment variables whose names look secret (`GITHUB_TOKEN`,
//! `DB_PASSWORD`, ...) and the values of the variables a plan lists under
//! `secrets:`. Every command line and output tail an executor reports passes
//! through it, so logs, the state database and reports never hold a secret.
//!
//! Values are matched literally. A secret that a tool transforms (base64,
//! URL-encoding) before printing it is not recognised.

use std::{borrow::Cow, collections::BTreeSet, fmt, ops::Range};

use plangate_plans::{ActionSpec, Plan, Rollback};

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Values of variables with secret-looking names shorter than this many
/// characters are not redacted: replacing every `1` or `yes` in the output
/// would hide more than it protects.
pub const MIN_SECRET_LEN: usize = 4;

/// Upper-case fragments that make an environment variable name look secret.
const SECRET_NAME_PARTS: [&str; 8] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
];

/// `value` with every string in it (keys aside) passed through `redact`:
/// how evidence is redacted before it is stored.
pub(crate) fn redact_json_strings(
    value: serde_json::Value,
    redact: &dyn Fn(&str) -> String,
) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(redact(&text)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| redact_json_strings(item, redact))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| (key, redact_json_strings(item, redact)))
                .collect(),
        ),
        other => other,
    }
}

/// Replaces secret values with [`REDACTED`].
///
/// Cheap to share behind an `Arc`; [`Redactor::with_env`] derives a redactor
/// that also knows the secrets of one action's environment.
///
/// ```
/// use plangate_executors::Redactor;
///
/// let redactor = Redactor::builder()
///     .env([("DEPLOY_TOKEN", "s3cr3t-value"), ("REGION", "eu-west-1")])
///     .build();
/// assert_eq!(redactor.redact("token=s3cr3t-value in eu-west-1"), "token=[REDACTED] in eu-west-1");
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    /// Secret values, longest first, without duplicates.
    values: Vec<String>,
    /// Variable names listed in the plan's `secrets:`, whatever they look like.
    names: BTreeSet<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &format_args!("<{} hidden>", self.values.len()))
            .field("names", &self.names)
            .finish()
    }
}

impl Redactor {
    /// A builder for a redactor.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// The redactor for a run of `plan`: secret-looking variables of this
    /// process's environment and of every action's and shell instance's
    /// `env`, plus the variables named in `secrets:`.
    pub fn for_plan(plan: &Plan) -> Self {
        let mut builder = Self::builder()
            .process_env()
            .secret_names(plan.secrets.iter().cloned());
        for instance in plan.executors.values() {
            builder = builder.env(instance.env.clone());
            builder = builder.secret_names(instance.token_env.clone());
        }
        for task in &plan.tasks {
            let rollback = match &task.rollback {
                Some(Rollback::Action(action)) => Some(&**action),
                Some(Rollback::Auto) | None => None,
            };
            let actions = std::iter::once(&task.run)
                .chain(task.verify.iter())
                .chain(rollback);
            for action in actions {
                match &action.spec {
                    ActionSpec::Shell(shell) => builder = builder.env(shell.env.clone()),
                    // The variables holding tokens are secret whatever their names.
                    ActionSpec::GithubMerge(merge) => {
                        builder = builder.secret_names(merge.token_env.clone());
                    }
                    ActionSpec::Git(git) => builder = builder.secret_names(git.token_env.clone()),
                    ActionSpec::Kubectl(_) | ActionSpec::Helm(_) => {}
                }
            }
        }
        builder.build()
    }

    /// Whether an environment variable with this name holds a secret by its
    /// name alone (case-insensitive: `github_token`, `DB_PASSWORD`).
    pub fn is_secret_name(name: &str) -> bool {
        let upper = name.to_ascii_uppercase();
        SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
    }

    /// How many distinct secret values are known.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no secret value is known (redaction is then a no-op).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced by [`REDACTED`], longest
    /// secret first where two overlap. Borrows when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let matches = self.matches(text);
        if matches.is_empty() {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(splice(text, 0, &matches))
        }
    }

    /// This redactor extended with one more secret `value` (a token read from
    /// the environment for one action). Borrows when it is already known or
    /// too short to redact.
    pub fn with_value(&self, value: &str) -> Cow<'_, Redactor> {
        if value.chars().count() < MIN_SECRET_LEN || self.values.iter().any(|known| known == value)
        {
            return Cow::Borrowed(self);
        }
        let mut extended = self.clone();
        extended.values.push(value.to_owned());
        extended
            .values
            .sort_by_key(|known| std::cmp::Reverse(known.len()));
        Cow::Owned(extended)
    }

    /// This redactor extended with the secrets among `vars` (an action's
    /// environment): values of secret-looking names and of names listed in
    /// `secrets:`. Borrows when `vars` brings no new secret.
    pub fn with_env<'a, I>(&self, vars: I) -> Cow<'_, Redactor>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let new: Vec<String> = vars
            .into_iter()
            .filter(|(name, value)| is_secret(name, value, &self.names))
            .filter(|(_, value)| !self.values.iter().any(|known| known == value))
            .map(|(_, value)| value.to_owned())
            .collect();
        if new.is_empty() {
            return Cow::Borrowed(self);
        }
        let mut extended = self.clone();
        extended.values.extend(new);
        extended.normalize();
        Cow::Owned(extended)
    }

    /// The length in bytes of the longest secret, 0 when there is none.
    pub(crate) fn longest_len(&self) -> usize {
        self.values.first().map_or(0, String::len)
    }

    /// `text[start..]` redacted, where a secret that begins before `start`
    /// and ends after it is replaced whole. `start` must be a character
    /// boundary.
    ///
    /// Output tails use this: the bytes before `start` are kept only so a
    /// secret cut in two by the tail's limit is still recognised.
    pub(crate) fn redact_from(&self, text: &str, start: usize) -> String {
        splice(text, start, &self.matches(text))
    }

    /// `text[..end]` redacted, where a secret that begins before `end` and
    /// ends after it is replaced whole. `end` must be a character boundary.
    ///
    /// Output heads use this: the bytes after `end` are kept only so a
    /// secret cut in two by the head's limit is still recognised.
    pub(crate) fn redact_until(&self, text: &str, end: usize) -> String {
        let mut out = String::with_capacity(end);
        let mut position = 0;
        for range in self.matches(text).iter().filter(|range| range.start < end) {
            out.push_str(&text[position..range.start]);
            out.push_str(REDACTED);
            position = range.end;
        }
        if position < end {
            out.push_str(&text[position..end]);
        }
        out
    }

    /// The byte ranges of secrets in `text`: leftmost first, the longest one
    /// where several start at the same place, never overlapping.
    fn matches(&self, text: &str) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = self
            .values
            .iter()
            .flat_map(|value| {
                text.match_indices(value.as_str())
                    .map(|(start, matched)| start..start + matched.len())
            })
            .collect();
        found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut end = 0;
        found.retain(|range| {
            let keep = range.start >= end;
            if keep {
                end = range.end;
            }
            keep
        });
        found
    }

    fn normalize(&mut self) {
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
    }
}

/// `text[start..]` with `matches` replaced by [`REDACTED`].
fn splice(text: &str, start: usize, matches: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len() - start);
    let mut position = start;
    for range in matches.iter().filter(|range| range.end > start) {
        if range.start > position {
            out.push_str(&text[position..range.start]);
        }
        out.push_str(REDACTED);
        position = range.end;
    }
    out.push_str(&text[position..]);
    out
}

fn is_secret(name: &str, value: &str, names: &BTreeSet<String>) -> bool {
    !value.is_empty()
        && (names.contains(name)
            || (Redactor::is_secret_name(name) && value.chars().count() >= MIN_SECRET_LEN))
}

/// Collects the sources of a [`Redactor`]. The order of calls does not
/// matter: names given to [`secret_names`](Self::secret_names) apply to
/// variables given before and after.
#[derive(Default)]
pub struct RedactorBuilder {
    values: BTreeSet<String>,
    names: BTreeSet<String>,
    env: Vec<(String, String)>,
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl RedactorBuilder {
    /// Adds the variables of this process's environment (non-UTF-8 names and
    /// values are decoded lossily).
    #[must_use]
    pub fn process_env(mut self) -> Self {
        self.env.extend(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        }));
        self
    }

    /// Adds environment variables; their values are secret when the name
    /// looks secret (see [`Redactor::is_secret_name`]) or is listed in
    /// [`secret_names`](Self::secret_names).
    #[must_use]
    pub fn env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Names of variables whose values are secret whatever their name or
    /// length (the plan's `secrets:`).
    #[must_use]
    pub fn secret_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds one secret value directly (ignored when empty).
    #[must_use]
    pub fn value(mut self, value: impl Into<String>) -> Self {
        let value = value.into();
        if !value.is_empty() {
            self.values.insert(value);
        }
        self
    }

    /// The redactor.
    pub fn build(self) -> Redactor {
        let mut values = self.values;
        for (name, value) in self.env {
            if is_secret(&name, &value, &self.names) {
                values.insert(value);
            }
        }
        let mut redactor = Redactor {
            values: values.into_iter().collect(),
            names: self.names,
        };
        redactor.normalize();
        redactor
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use plangate_plans::{SourceFile, parse_plan};

    use super::*;

    #[test]
    fn secret_names_are_recognised_case_insensitively() {
        for name in [
            "GITHUB_TOKEN",
            "github_token",
            "DB_PASSWORD",
            "MYSQL_PASSWD",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "OPENAI_API_KEY",
            "SSH_PRIVATE_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "client_secret",
        ] {
            assert!(Redactor::is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "NAMESPACE", "KUBECONFIG", "APIKEY_HINT"] {
            assert!(!Redactor::is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn env_values_are_secret_by_name_and_length() {
        let redactor = Redactor::builder()
            .env([
                ("DEPLOY_TOKEN", "abcd1234"),
                ("SHORT_TOKEN", "abc"),
                ("EMPTY_SECRET", ""),
                ("REGION", "eu-west-1"),
            ])
            .build();
        assert_eq!(redactor.len(), 1);
        assert_eq!(
            redactor.redact("abcd1234 abc eu-west-1"),
            "[REDACTED] abc eu-west-1"
        );
    }

    #[test]
    fn listed_names_are_secret_whatever_their_shape() {
        let redactor = Redactor::builder()
            .env([("DB_URL", "postgres://u:p@db/x"), ("PIN", "42")])
            .secret_names(["DB_URL", "PIN"])
            .build();
        assert_eq!(
            redactor.redact("connect postgres://u:p@db/x with 42"),
            "connect [REDACTED] with [REDACTED]"
        );
    }

    #[test]
    fn longest_secret_wins_where_secrets_overlap() {
        let redactor = Redactor::builder()
            .value("abcd")
            .value("abcdefgh")
            .value("efghij")
            .build();
        assert_eq!(redactor.redact("xabcdefghijx"), "x[REDACTED]ijx");
        assert_eq!(redactor.redact("abcd efghij"), "[REDACTED] [REDACTED]");
        assert_eq!(redactor.redact("abcdabcd"), "[REDACTED][REDACTED]");
    }

    #[test]
    fn nothing_to_redact_borrows() {
        let redactor = Redactor::builder().value("hunter2").build();
        assert!(matches!(redactor.redact("all clear"), Cow::Borrowed(_)));
        assert!(matches!(Redactor::default().redact("x"), Cow::Borrowed(_)));
    }

    #[test]
    fn multibyte_text_and_secrets() {
        let redactor = Redactor::builder().value("pässwörd").build();
        assert_eq!(redactor.redact("é pässwörd ü"), "é [REDACTED] ü");
    }

    #[test]
    fn redact_from_replaces_a_secret_straddling_the_start_whole() {
        let redactor = Redactor::builder().value("hunter2").build();
        let text = "pw: hunter2 done";
        assert_eq!(redactor.redact_from(text, 7), "[REDACTED] done");
        assert_eq!(redactor.redact_from(text, 11), " done");
        assert_eq!(redactor.redact_from(text, 0), "pw: [REDACTED] done");
    }

    #[test]
    fn with_env_adds_only_new_secrets() {
        let redactor = Redactor::builder()
            .env([("A_TOKEN", "known-value")])
            .secret_names(["PLAIN"])
            .build();
        assert!(matches!(
            redactor.with_env([("A_TOKEN", "known-value"), ("REGION", "eu")]),
            Cow::Borrowed(_)
        ));
        let extended = redactor.with_env([("B_SECRET", "fresh-value"), ("PLAIN", "xy")]);
        assert_eq!(extended.len(), 3);
        assert_eq!(
            extended.redact("known-value fresh-value xy"),
            "[REDACTED] [REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn debug_output_hides_values() {
        let redactor = Redactor::builder().value("hunter2").build();
        let debug = format!("{redactor:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("1 hidden"), "{debug}");
    }

    #[test]
    fn for_plan_collects_action_and_instance_env_and_listed_secrets() {
        let yaml = r#"
version: 1
name: redaction
secrets: [PLANGATE_TEST_LISTED]
executors:
  box: {kind: shell, env: {BOX_PASSWORD: instance-pass}}
phases:
  - id: only
    tasks:
      - id: one
        risk: low
        run:
          shell: {argv: [echo], env: {RUN_TOKEN: run-token-value, PLANGATE_TEST_LISTED: "ab"}}
        verify:
          shell: {argv: [echo], env: {VERIFY_SECRET: verify-value}}
        rollback:
          shell: {argv: [echo], env: {ROLLBACK_API_KEY: rollback-value, REGION: eu-west-1}}
"#;
        let plan = parse_plan(SourceFile::new("plan.yaml", yaml), PathBuf::from("."))
            .expect("the test plan is valid");
        let redactor = Redactor::for_plan(&plan);
        assert_eq!(
            redactor
                .redact("instance-pass run-token-value ab verify-value rollback-value eu-west-1"),
            "[REDACTED] [REDACTED] [REDACTED] [REDACTED] [REDACTED] eu-west-1"
        );
    }
}
