//! End-to-end tests: the real octocrab client, libgit2 and the `git` CLI against a fresh
//! emulator per test on 127.0.0.1.

// The REST API through octocrab: auth, repositories, pull requests, merges, mergeability.
mod api;
// Git smart HTTP: libgit2 and the `git` CLI clone and push with a token.
mod git;
// The per-test emulator, clients and raw HTTP.
mod support;
