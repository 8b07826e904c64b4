//! Tests against GitHub's real OpenAPI description (installed by
//! `./scripts/install-test-tools.sh`; the tests fail with that hint when it is missing).
//!
//! - `examples`: GitHub's own response examples pass, for the operations the emulator serves
//!   (all of them) and for the whole description (a high fraction, failures printed).
//! - `negative`: broken responses give precise violations.
//! - `paths`: concrete paths find the right operation.

use std::time::Instant;

use plangate_openapi_check::{Spec, Violation};
use serde_json::{Value, json};

/// The operations plangate's GitHub emulator serves, as (method, template).
const EMULATED: &[(&str, &str)] = &[
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/user"),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}"),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("PUT", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/status"),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}"),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
];

/// The violations GitHub's own examples of the emulated operations give, as (method,
/// template, example, pointer, message). Each is a defect of the example, not of the validator:
/// the example disagrees with the schema the same description gives for the response.
const KNOWN_EXAMPLE_DEFECTS: &[(&str, &str, &str, &str, &str)] = &[
    // repos/get: the example omits `language` (required by `full-repository` and
    // `repository`), and its `parent`, `source` and `template_repository` carry
    // `full-repository` fields where the schema says `repository`.
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "",
        "required property `language` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/parent/network_count",
        "property `network_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/parent/subscribers_count",
        "property `subscribers_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/source",
        "required property `language` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/source/network_count",
        "property `network_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/source/security_and_analysis",
        "property `security_and_analysis` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/source/subscribers_count",
        "property `subscribers_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/template_repository/network_count",
        "property `network_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}",
        "default-response",
        "/template_repository/subscribers_count",
        "property `subscribers_count` is not in GitHub's schema",
    ),
    // repos/get-branch-protection: the app owner is an organization, which neither `oneOf`
    // alternative (`simple-user`, `enterprise`) describes; teams lack the required `type`;
    // `required_status_checks` lacks the required `checks`.
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/apps/0/owner",
        "matches none of the 2 `oneOf` alternatives (the closest one's problems follow)",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/apps/0/owner",
        "required property `name` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/apps/0/owner",
        "required property `slug` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/apps/0/owner",
        "required property `html_url` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/apps/0/owner",
        "required property `created_at` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/apps/0/owner",
        "required property `updated_at` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_pull_request_reviews/dismissal_restrictions/teams/0",
        "required property `type` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/required_status_checks",
        "required property `checks` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "default",
        "/restrictions/teams/0",
        "required property `type` is missing",
    ),
    // pulls/list: `base.repo` and `head.repo` carry `full-repository` fields where the
    // schema says `repository`; teams lack the required `type`.
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/base/repo/network_count",
        "property `network_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/base/repo/subscribers_count",
        "property `subscribers_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/base/repo/template_repository",
        "property `template_repository` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/head/repo/network_count",
        "property `network_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/head/repo/subscribers_count",
        "property `subscribers_count` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/head/repo/template_repository",
        "property `template_repository` is not in GitHub's schema",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/0/requested_teams/0",
        "required property `type` is missing",
    ),
    // pulls/create and pulls/get: teams lack the required `type`.
    (
        "POST",
        "/repos/{owner}/{repo}/pulls",
        "default",
        "/requested_teams/0",
        "required property `type` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        "default",
        "/requested_teams/0",
        "required property `type` is missing",
    ),
    // repos/get-commit: the file entry lacks the required `sha` and `contents_url`.
    (
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}",
        "default",
        "/files/0",
        "required property `contents_url` is missing",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}",
        "default",
        "/files/0",
        "required property `sha` is missing",
    ),
];

#[track_caller]
fn spec() -> &'static Spec {
    match Spec::from_env() {
        Ok(spec) => spec,
        Err(error) => panic!("{error}"),
    }
}

/// One response example of the description.
struct Example {
    method: String,
    template: String,
    status: u16,
    name: String,
    value: Value,
}

/// Every JSON response example with a numeric status, `$ref`s into
/// `#/components/examples` resolved.
fn examples(spec: &Spec) -> Vec<Example> {
    let document = spec.document();
    let resolve = |value: &Value| -> Value {
        let mut value = value.clone();
        for _ in 0..8 {
            let target = value
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| reference.strip_prefix('#'))
                .and_then(|pointer| document.pointer(pointer))
                .cloned();
            match target {
                Some(target) => value = target,
                None => break,
            }
        }
        value
    };
    let mut found = Vec::new();
    let paths = document["paths"]
        .as_object()
        .expect("the description has paths");
    for (template, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                let response = resolve(response);
                let Some(content) = response.get("content").and_then(Value::as_object) else {
                    continue;
                };
                for (media_type, media) in content {
                    if !media_type.ends_with("json") {
                        continue;
                    }
                    let Some(media_examples) = media.get("examples").and_then(Value::as_object)
                    else {
                        continue;
                    };
                    for (name, example) in media_examples {
                        let example = resolve(example);
                        let Some(value) = example.get("value") else {
                            continue;
                        };
                        found.push(Example {
                            method: method.to_ascii_uppercase(),
                            template: template.clone(),
                            status,
                            name: name.clone(),
                            value: value.clone(),
                        });
                    }
                }
            }
        }
    }
    found
}

fn check(spec: &Spec, example: &Example) -> Vec<Violation> {
    spec.check_response(
        &example.method,
        &example.template,
        example.status,
        Some(&example.value),
    )
}

fn render(violations: &[Violation]) -> String {
    let mut rendered = String::new();
    for violation in violations {
        rendered.push_str(&format!("  {violation}\n"));
    }
    rendered
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "the load time is reported, not asserted"
)]
fn load_time_is_reported() {
    let start = Instant::now();
    let spec = spec();
    eprintln!(
        "GitHub OpenAPI description {} loaded in {:?} (or earlier by another test)",
        spec.version(),
        start.elapsed()
    );
    assert!(!spec.version().is_empty());
}

#[test]
fn emulated_operations_accept_githubs_examples() {
    let spec = spec();
    let all = examples(spec);
    let mut unexpected = String::new();
    for (method, template) in EMULATED {
        let operation = spec
            .operation(method, template)
            .unwrap_or_else(|| panic!("`{method} {template}` is not in the description"));
        assert_eq!(operation.template, *template);
        for example in all
            .iter()
            .filter(|example| example.method == *method && example.template == *template)
        {
            let found: Vec<(String, String)> = check(spec, example)
                .into_iter()
                .map(|violation| (violation.pointer, violation.message))
                .collect();
            let known: Vec<(String, String)> = KNOWN_EXAMPLE_DEFECTS
                .iter()
                .filter(|defect| {
                    defect.0 == *method && defect.1 == *template && defect.2 == example.name
                })
                .map(|defect| (defect.3.to_owned(), defect.4.to_owned()))
                .collect();
            if found != known {
                for (pointer, message) in &found {
                    unexpected.push_str(&format!(
                        "    (\"{method}\", \"{template}\", \"{}\", \"{pointer}\", {message:?}),\n",
                        example.name
                    ));
                }
                if found.is_empty() {
                    unexpected.push_str(&format!(
                        "    example `{}` of {method} {template} now passes\n",
                        example.name
                    ));
                }
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "GitHub's own examples give other violations than the known defects:\n{unexpected}"
    );
}

/// The measured pass rate over the whole description (23.0.2) is 78.6% (782 of 995); the failures are
/// defects of GitHub's examples (fields the schema requires but the example omits, fields of
/// `full-repository` in a `repository`, strings like `"12,"` for integers, objects where the
/// schema says array), printed by this test. The floor guards the validator against
/// regressions; it is not the 97% hoped for, because the examples are not that consistent.
const PASS_RATE_FLOOR_PERCENT: usize = 78;

#[test]
#[expect(
    clippy::print_stderr,
    reason = "the pass rate and the failures are the report"
)]
fn most_examples_of_the_whole_description_pass() {
    let spec = spec();
    let all = examples(spec);
    let mut failed = 0usize;
    let mut only_required = 0usize;
    let mut only_invented = 0usize;
    // A `null` example value is GitHub's way of writing "no example".
    let checked: Vec<&Example> = all
        .iter()
        .filter(|example| !example.value.is_null())
        .collect();
    for example in &checked {
        let violations = check(spec, example);
        if violations.is_empty() {
            continue;
        }
        failed += 1;
        if violations
            .iter()
            .all(|violation| violation.message.starts_with("required property"))
        {
            only_required += 1;
        }
        if violations
            .iter()
            .all(|violation| violation.message.ends_with("is not in GitHub's schema"))
        {
            only_invented += 1;
        }
        eprintln!(
            "example `{}` of {} {} {}:\n{}",
            example.name,
            example.method,
            example.template,
            example.status,
            render(&violations[..violations.len().min(5)])
        );
    }
    let passed = checked.len() - failed;
    eprintln!(
        "{passed} of {} examples pass ({} null examples skipped); of the {failed} failing, \
         {only_required} only miss required properties and {only_invented} only have undeclared ones",
        checked.len(),
        all.len() - checked.len()
    );
    assert!(checked.len() > 900, "only {} examples found", checked.len());
    assert!(
        passed * 100 >= checked.len() * PASS_RATE_FLOOR_PERCENT,
        "only {passed} of {} examples pass",
        checked.len()
    );
}

/// A copy of the example `#/components/examples/NAME`'s value.
#[track_caller]
fn example_value(name: &str) -> Value {
    spec()
        .document()
        .pointer(&format!("/components/examples/{name}/value"))
        .unwrap_or_else(|| panic!("the description has no example `{name}`"))
        .clone()
}

/// The violations as `pointer: message` lines.
fn messages(violations: &[Violation]) -> Vec<String> {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.pointer, violation.message))
        .collect()
}

mod negative {
    use super::*;

    const PULL: &str = "/repos/o/r/pulls/7";

    /// GitHub's pull request example, with the one defect the description itself has
    /// (teams without `type`) repaired, so each test sees only its own violation.
    fn pull() -> Value {
        let mut pull = example_value("pull-request");
        for team in pull["requested_teams"]
            .as_array_mut()
            .expect("the example has teams")
        {
            team["type"] = json!("organization");
        }
        let violations = spec().check_response("GET", PULL, 200, Some(&pull));
        assert!(violations.is_empty(), "{}", render(&violations));
        pull
    }

    #[test]
    fn required_field_removed() {
        let mut pull = pull();
        pull.as_object_mut().expect("an object").remove("number");
        let violations = spec().check_response("GET", PULL, 200, Some(&pull));
        assert_eq!(
            messages(&violations),
            [": required property `number` is missing"]
        );
        assert_eq!(
            violations[0].operation,
            "GET /repos/{owner}/{repo}/pulls/{pull_number} (pulls/get)"
        );
        assert_eq!(violations[0].status, 200);
    }

    #[test]
    fn wrong_type_deep_inside() {
        let mut pull = pull();
        pull["head"]["repo"]["owner"]["login"] = json!(5);
        let violations = spec().check_response("GET", PULL, 200, Some(&pull));
        assert_eq!(
            messages(&violations),
            ["/head/repo/owner/login: expected string, found integer 5"]
        );
        assert_eq!(
            violations[0].to_string(),
            "GET /repos/{owner}/{repo}/pulls/{pull_number} (pulls/get) status 200: \
             /head/repo/owner/login: expected string, found integer 5"
        );
    }

    #[test]
    fn string_where_nullable_integer() {
        let mut organization = example_value("organization-full");
        // The example lacks `archived_at`, which the schema requires.
        organization["archived_at"] = json!(null);
        organization["private_gists"] = json!(null);
        assert_eq!(
            messages(&spec().check_response("GET", "/orgs/o", 200, Some(&organization))),
            Vec::<String>::new()
        );
        organization["private_gists"] = json!("3");
        assert_eq!(
            messages(&spec().check_response("GET", "/orgs/o", 200, Some(&organization))),
            [r#"/private_gists: expected integer or null, found string "3""#]
        );
    }

    #[test]
    fn float_where_integer() {
        let mut pull = pull();
        pull["number"] = json!(7.0);
        assert_eq!(
            messages(&spec().check_response("GET", PULL, 200, Some(&pull))),
            ["/number: expected integer, found number 7.0"]
        );
    }

    #[test]
    fn invented_property() {
        let mut pull = pull();
        pull["head"]["repo"]["owner"]["favourite_colour"] = json!("green");
        pull["auto_merge_magic"] = json!(true);
        assert_eq!(
            messages(&spec().check_response("GET", PULL, 200, Some(&pull))),
            [
                "/head/repo/owner/favourite_colour: property `favourite_colour` is not in GitHub's schema",
                "/auto_merge_magic: property `auto_merge_magic` is not in GitHub's schema",
            ]
        );
    }

    #[test]
    fn enum_value_outside() {
        let mut pull = pull();
        pull["state"] = json!("merged");
        assert_eq!(
            messages(&spec().check_response("GET", PULL, 200, Some(&pull))),
            [r#"/state: expected one of ["open", "closed"], found string "merged""#]
        );
    }

    #[test]
    fn date_time_that_is_not_rfc3339() {
        let mut pull = pull();
        pull["created_at"] = json!("2011-01-26 19:01:12");
        assert_eq!(
            messages(&spec().check_response("GET", PULL, 200, Some(&pull))),
            [r#"/created_at: expected an RFC 3339 date-time, found string "2011-01-26 19:01:12""#]
        );
    }

    #[test]
    fn undocumented_status() {
        let violations =
            spec().check_response("GET", PULL, 418, Some(&json!({"message": "teapot"})));
        assert_eq!(
            messages(&violations),
            [": status 418 is not documented; documented: 200, 304, 404, 406, 500, 503"]
        );
    }

    #[test]
    fn body_on_a_204() {
        let path = "/repos/o/r/git/refs/heads/feature";
        assert!(spec().check_response("DELETE", path, 204, None).is_empty());
        assert_eq!(
            messages(&spec().check_response("DELETE", path, 204, Some(&json!({})))),
            [": status 204 documents no body, but a body was given"]
        );
    }

    #[test]
    fn documented_body_missing() {
        assert_eq!(
            messages(&spec().check_response("GET", PULL, 200, None)),
            [": status 200 documents a `application/json` body, but none was given"]
        );
    }

    #[test]
    fn error_bodies_are_checked_too() {
        let found =
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"});
        assert!(
            spec()
                .check_response("GET", PULL, 404, Some(&found))
                .is_empty()
        );
        assert_eq!(
            messages(&spec().check_response(
                "GET",
                PULL,
                404,
                Some(&json!({"error": "Not Found"}))
            )),
            ["/error: property `error` is not in GitHub's schema"]
        );
    }

    #[test]
    fn path_that_matches_nothing() {
        let violations = spec().check_response("GET", "/repos/o/r/teleport?now=1", 200, None);
        assert_eq!(
            violations,
            [Violation {
                operation: "GET /repos/o/r/teleport".to_owned(),
                status: 200,
                pointer: String::new(),
                message: "no operation in GitHub's description matches `GET /repos/o/r/teleport`"
                    .to_owned(),
            }]
        );
    }

    #[test]
    fn method_the_path_does_not_have() {
        assert_eq!(
            messages(&spec().check_response("POST", PULL, 200, None)),
            [
                ": no operation in GitHub's description matches `POST /repos/o/r/pulls/7`; the path has GET, PATCH"
            ]
        );
    }
}

mod paths {
    use super::*;

    #[track_caller]
    fn template(method: &str, path: &str) -> String {
        match spec().operation(method, path) {
            Some(operation) => format!("{} {}", operation.template, operation.operation_id),
            None => "none".to_owned(),
        }
    }

    #[test]
    fn query_is_stripped_and_method_case_ignored() {
        assert_eq!(
            template("get", "/repos/o/r/pulls?state=open&per_page=100"),
            "/repos/{owner}/{repo}/pulls pulls/list"
        );
        assert_eq!(template("GET", "/user"), "/user users/get-authenticated");
    }

    #[test]
    fn literal_beats_parameter() {
        assert_eq!(
            template("GET", "/repos/o/r/pulls/comments"),
            "/repos/{owner}/{repo}/pulls/comments pulls/list-review-comments-for-repo"
        );
        assert_eq!(
            template("GET", "/repos/o/r/pulls/12"),
            "/repos/{owner}/{repo}/pulls/{pull_number} pulls/get"
        );
    }

    #[test]
    fn refs_with_slashes() {
        assert_eq!(
            template("GET", "/repos/o/r/git/ref/heads/feature/x"),
            "/repos/{owner}/{repo}/git/ref/{ref} git/get-ref"
        );
        assert_eq!(
            template("DELETE", "/repos/o/r/git/refs/heads/feature/x"),
            "/repos/{owner}/{repo}/git/refs/{ref} git/delete-ref"
        );
        assert_eq!(
            template(
                "GET",
                "/repos/o/r/commits/feature/x/check-runs?per_page=100"
            ),
            "/repos/{owner}/{repo}/commits/{ref}/check-runs checks/list-for-ref"
        );
        assert_eq!(
            template("GET", "/repos/o/r/commits/feature/x/status"),
            "/repos/{owner}/{repo}/commits/{ref}/status repos/get-combined-status-for-ref"
        );
        assert_eq!(
            template("GET", "/repos/o/r/commits/feature/x"),
            "/repos/{owner}/{repo}/commits/{ref} repos/get-commit"
        );
    }

    #[test]
    fn branches_with_slashes() {
        assert_eq!(
            template("GET", "/repos/o/r/branches/feature/x"),
            "/repos/{owner}/{repo}/branches/{branch} repos/get-branch"
        );
        assert_eq!(
            template("PUT", "/repos/o/r/branches/feature/x/protection"),
            "/repos/{owner}/{repo}/branches/{branch}/protection repos/update-branch-protection"
        );
    }

    #[test]
    fn basehead() {
        assert_eq!(
            template("GET", "/repos/o/r/compare/main...feature/x"),
            "/repos/{owner}/{repo}/compare/{basehead} repos/compare-commits-with-basehead"
        );
        assert_eq!(
            template("GET", "/repos/o/r/compare/main...dev"),
            "/repos/{owner}/{repo}/compare/{basehead} repos/compare-commits-with-basehead"
        );
    }

    #[test]
    fn parameters_do_not_span_otherwise() {
        assert_eq!(template("GET", "/repos/o/r/pulls/1/2"), "none");
        assert_eq!(template("GET", "/repos/o/r/"), "none");
        assert_eq!(
            template("GET", "/repos/o/r/pulls/7/merge"),
            "/repos/{owner}/{repo}/pulls/{pull_number}/merge pulls/check-if-merged"
        );
    }
}
