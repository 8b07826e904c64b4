//! Fault switches: rate limits and server errors, for the executors' retry tests.

use crate::support::{TOKEN, client, emulator, github_error, raw};
use plangate_github_emulator::{FaultCounts, Faults, GithubEmulatorConfig};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_answer_the_next_requests_in_order() {
    let emulator = emulator(GithubEmulatorConfig::default()).await;
    let github = client(&emulator, Some(TOKEN));
    emulator.set_faults(Faults {
        primary_rate_limit: 1,
        secondary_rate_limit: 1,
        secondary_status: 429,
        bad_gateway: 1,
        service_unavailable: 1,
        reset_after: Duration::from_millis(1500),
        retry_after: Duration::from_secs(7),
    });
    let authorization = format!("Bearer {TOKEN}");
    let headers = [("Authorization", authorization.as_str())];
    let (status, head, body) = raw(
        emulator.port(),
        "GET",
        "/repos/platform/gitops",
        &headers,
        "",
    )
    .await;
    assert_eq!(status, 403);
    assert!(head.contains("x-ratelimit-remaining: 0"), "{head}");
    assert!(
        body.contains("API rate limit exceeded for user ID 1."),
        "{body}"
    );
    let reset: u64 = head
        .lines()
        .find_map(|line| line.strip_prefix("x-ratelimit-reset: "))
        .and_then(|value| value.trim().parse().ok())
        .expect("a reset time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(reset > now && reset <= now + 3, "reset {reset} now {now}");

    let (status, head, body) = raw(
        emulator.port(),
        "GET",
        "/repos/platform/gitops",
        &headers,
        "",
    )
    .await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 7"), "{head}");
    assert!(body.contains("secondary rate limit"), "{body}");

    let error = github_error(github.repos("platform", "gitops").get().await);
    assert_eq!(error.status_code.as_u16(), 502);
    let error = github_error(github.repos("platform", "gitops").get().await);
    assert_eq!(error.status_code.as_u16(), 503);
    github
        .repos("platform", "gitops")
        .get()
        .await
        .expect("served again");
    assert_eq!(
        emulator.faults_served(),
        FaultCounts {
            primary_rate_limit: 1,
            secondary_rate_limit: 1,
            bad_gateway: 1,
            service_unavailable: 1,
        }
    );
    let exchanges = emulator.exchanges();
    assert_eq!(exchanges.len(), 5);
    assert!(exchanges[..4].iter().all(|exchange| exchange.injected));
    emulator.assert_conformant();
    emulator.shutdown().await;
}
