//! End-to-end tests of the `plangate` binary. One test binary, one module per area:
//!
//! - `cli`: what the command line prints and accepts itself: short run ids,
//!   log events on stderr, approvals, state-file locations, exit codes;
//! - `validate`: every validation error, with its file:line:column and caret;
//! - `docs`: shell completions, man pages and the examples in `--help`;
//! - `errors`: the catalogue of errors a user can cause, each naming what
//!   to do next, as one snapshot;
//! - `schema`: `plangate schema`, the committed `docs/plan.schema.json`, and
//!   the bundled plans and broken ones checked against it;
//! - `explain`: `plangate explain PLAN TASK` on the bundled plans, checked
//!   against their impact reports, and where each setting comes from;
//! - `dry_run`: the impact report (Markdown, JSON, HTML) of the bundled examples;
//! - `graph`: dot and Mermaid output;
//! - `html_reports`: every JSON fact in the HTML and Markdown reports,
//!   escaping, and the pages in headless Chromium;
//! - `reports`: `status`, `report` and failed previews: the tool's own
//!   error line in every format, approval times, whole renderings;
//! - `runs`: the `runs` table, `status` as a tree and `diff` of two runs, on
//!   the quickstart and a failing variant of it;
//! - `exclusive`: resource groups: tasks of a group never overlap, others
//!   run together, across a resume; the dry run and `explain` show them;
//! - `run`: executing plans: failure policies, rollback order, approvals,
//!   changed plans, unusable state files, secrets;
//! - `secrets`: planted secrets searched for in every output and the state file;
//! - `progress`: a run's progress on stderr: plain lines off a terminal,
//!   JSON lines, and the live display on a real pseudo-terminal;
//! - `promotion`: environment promotion (evidence across plan files in a
//!   shared state file, its age, failed and unverified evidence) and
//!   approvals bound to their plan, by distinct approvers, revoked before use;
//! - `failpoints`: the engine killed after each commit of a run, and resumed;
//! - `crash`: kill -9 at random instants, signals, locks, timeouts;
//! - `kube`: kubectl and Helm plans against the in-repo API emulator, with
//!   the real binaries;
//! - `github`: GitOps plans (git and github_merge) against the in-repo GitHub
//!   emulator, with real repositories.

mod cli;
mod common;
mod crash;
mod docs;
mod dry_run;
mod errors;
mod exclusive;
mod explain;
mod failpoints;
mod github;
mod graph;
mod html_reports;
mod kube;
mod progress;
mod promotion;
mod reports;
mod run;
mod runs;
mod schema;
mod secrets;
mod validate;
