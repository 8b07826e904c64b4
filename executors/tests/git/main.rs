//! The git executor against real repositories made with libgit2 in
//! temporary folders; "remotes" are bare repositories reached by path
//! (libgit2's local transport). Nothing touches the network.

/// commit, branch, tag, checkout and merge, with their rollbacks.
mod local;
/// push, fetch and clone, force-with-lease, observe, the token.
mod remote;
/// Repositories, actions and contexts.
mod support;
