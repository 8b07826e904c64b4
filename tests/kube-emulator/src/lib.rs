//! A small Kubernetes API emulator for plangate's end-to-end tests.
//!
//! No Kubernetes API server can run where plangate's tests run, yet plangate's kubectl and
//! helm executors must be tested with the real `kubectl` and `helm` binaries. This crate
//! serves an honest emulation of the API on `127.0.0.1`: it keeps real state, answers with the
//! real API's shapes and status codes (discovery, OpenAPI v2 and v3, CRUD, watch, the four
//! patch types including server-side apply, `dryRun`, `Status` errors, `Table`s, custom
//! resources of stored CRDs) and runs a tiny controller so deployments roll out and become
//! available.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use plangate_kube_emulator::{Emulator, EmulatorConfig};
//! use std::time::Duration;
//!
//! let emulator = Emulator::start(EmulatorConfig {
//!     rollout_delay: Duration::ZERO,
//!     ..EmulatorConfig::default()
//! })
//! .await?;
//! emulator.write_kubeconfig("/tmp/kubeconfig", "dev")?;
//! // Run `kubectl --kubeconfig /tmp/kubeconfig apply -f ...` here.
//! let state = emulator.dump();
//! assert!(state["resources"]["namespaces"].is_array());
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! See `README.md` for what is emulated and what is not.
#![warn(missing_docs)]

mod admin;
mod cli;
mod controller;
mod defaults;
mod discovery;
mod errors;
mod kubeconfig;
mod meta;
mod openapi;
mod openapi_v2;
mod operations;
mod patch;
mod protobuf;
mod resources;
mod selectors;
mod server;
mod store;
mod structural;
mod table;
mod validation;
mod watch;

#[doc(hidden)]
pub use cli::main_impl;

use server::AppState;
use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokio::{sync::watch as signal, task::JoinHandle};

/// How the emulator behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// How long a new pod takes to become ready. Zero makes rollouts complete as soon as the
    /// controller runs.
    pub rollout_delay: Duration,
    /// The longest a deployment rollout may make no progress before its `Progressing`
    /// condition turns `False` with `ProgressDeadlineExceeded`; the effective deadline is the
    /// shorter of this and the deployment's `spec.progressDeadlineSeconds`. Only rollouts that
    /// cannot finish (images tagged `broken`) ever reach it.
    pub progress_deadline: Duration,
    /// The port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            rollout_delay: Duration::from_millis(300),
            progress_deadline: Duration::from_secs(5),
            port: 0,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding the listening socket failed, e.g. because the port is taken. Retryable with
    /// another port.
    #[error("failed to bind `{address}`")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The bound socket has no local address (should not happen on loopback).
    #[error("failed to read the listening address")]
    LocalAddress(#[source] io::Error),
    /// Creating the background runtime of [`Emulator::spawn`] failed.
    #[error("failed to create the emulator's tokio runtime")]
    Runtime(#[source] io::Error),
}

/// Why a kubeconfig could not be written.
#[derive(Debug, thiserror::Error)]
#[error("failed to write the kubeconfig `{}`", path.display())]
pub struct WriteKubeconfigError {
    /// The kubeconfig path.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Starts emulators.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds 127.0.0.1 and starts serving on the current tokio runtime (which must have the
    /// time and I/O drivers enabled). The emulator runs until the returned handle is shut
    /// down or dropped.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, StartError> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| StartError::Bind { address, source })?;
        let local = listener.local_addr().map_err(StartError::LocalAddress)?;
        let (shutdown_sender, shutdown_receiver) = signal::channel(false);
        let state = Arc::new(AppState::new(
            config,
            shutdown_receiver.clone(),
            local.to_string(),
        ));
        let controller = tokio::spawn(controller::run(Arc::clone(&state)));
        let router = server::router(Arc::clone(&state));
        let mut graceful = shutdown_receiver;
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // Either a shutdown request or a dropped sender ends the server.
                    let _ = graceful.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the emulator's server failed");
            }
        });
        Ok(RunningEmulator {
            url: format!("http://{local}"),
            port: local.port(),
            state,
            shutdown: shutdown_sender,
            tasks: vec![server, controller],
            runtime: None,
        })
    }

    /// Starts the emulator on its own background runtime, for synchronous callers (tests that
    /// run kubectl with `std::process::Command`). Dropping the handle stops it.
    pub fn spawn(config: EmulatorConfig) -> Result<RunningEmulator, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kube-emulator")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let mut running = runtime.block_on(Self::start(config))?;
        running.runtime = Some(runtime);
        Ok(running)
    }
}

/// A running emulator. Dropping it stops the server and the controller.
#[derive(Debug)]
pub struct RunningEmulator {
    url: String,
    port: u16,
    state: Arc<AppState>,
    shutdown: signal::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RunningEmulator {
    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Writes a kubeconfig whose only context, `context_name`, points at this emulator (with
    /// an insecure placeholder token user and namespace `default`).
    pub fn write_kubeconfig(
        &self,
        path: impl AsRef<Path>,
        context_name: &str,
    ) -> Result<(), WriteKubeconfigError> {
        let path = path.as_ref();
        kubeconfig::write(path, &self.url, context_name).map_err(|source| WriteKubeconfigError {
            path: path.to_owned(),
            source,
        })
    }

    /// Every stored object, as `{"resourceVersion": "N", "resources": {"deployments.apps":
    /// [...], ...}}`, the same document `GET /_emulator/state` returns.
    pub fn dump(&self) -> serde_json::Value {
        admin::state(&self.state)
    }

    /// Deletes every object and seeds the initial namespaces again, like `POST
    /// /_emulator/reset`.
    pub fn reset(&self) {
        admin::reset(&self.state);
    }

    /// Stops serving: running watches end, and the call returns once the server and the
    /// controller have stopped.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            // A panicked task has already stopped, which is all shutdown needs.
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn start_serves_until_shutdown() {
        let emulator = Emulator::start(EmulatorConfig::default())
            .await
            .expect("starts");
        assert!(emulator.url().starts_with("http://127.0.0.1:"));
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", emulator.port()))
            .await
            .expect("connects");
        stream
            .write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("sends");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("reads");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.contains("\"gitVersion\":\"v1.33.0\""),
            "{response}"
        );
        assert_eq!(
            emulator.dump()["resources"]["namespaces"]
                .as_array()
                .map(Vec::len),
            Some(4)
        );
        let port = emulator.port();
        emulator.shutdown().await;
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        );
    }
}
