//! End-to-end tests: the real octocrab client, libgit2 and the `git` CLI against a fresh
//! emulator per test on 127.0.0.1.

// The REST API through octocrab: auth, repositories, pull requests, merges, mergeability.
mod api;
// The `github-emulator` binary with `--seed-gitops`, and the admin API over HTTP.
mod binary;
// Refs, commits and comparisons.
mod endpoints;
// Fault switches: rate limits and server errors.
mod faults;
// Git smart HTTP: libgit2 and the `git` CLI clone and push with a token.
mod git;
// Reviews, check runs, statuses, branch protection and the mergeable states.
mod protection;
// The per-test emulator, clients and raw HTTP.
mod support;
