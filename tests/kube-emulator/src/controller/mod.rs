//! A tiny controller manager: the deployment and replica-set controllers, a kubelet stand-in
//! that makes pods ready, and status writers for the other workload kinds.
//!
//! The controller reacts to store events and to its own timers (pods becoming ready after
//! `rollout_delay`, progress deadlines), and writes through the same
//! [`crate::operations`] pipeline as API clients, so its writes show up in watches and in
//! `managedFields` (as `kube-controller-manager` and `kubelet`).

mod deployment;
mod memory;
mod pods;
mod runner;
mod workloads;

pub(crate) use runner::run;
