//! The git executor against real repositories made with libgit2 in
//! temporary folders; "remotes" are bare repositories reached by path
//! (libgit2's local transport), or the in-repo GitHub emulator on
//! 127.0.0.1 (git's smart HTTP with a token). Nothing else touches the network.

/// Cancellation, observe, verify, evidence, instances.
mod contract;
/// The token over smart HTTP, against the in-repo GitHub emulator.
mod http;
/// commit, branch, tag, checkout and merge, with their rollbacks.
mod local;
/// push, fetch and clone, force-with-lease, observe, the token.
mod remote;
/// Repositories, actions and contexts.
mod support;
