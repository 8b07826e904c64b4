//! The per-test emulator, octocrab clients, git helpers and raw HTTP.

use octocrab::Octocrab;
use plangate_github_emulator::{GithubEmulator, GithubEmulatorConfig, TokenScope};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The token every test's client uses (login `plangate-bot`, every repository).
pub(crate) const TOKEN: &str = "t0ken-bot";
/// The user of [`TOKEN`].
pub(crate) const LOGIN: &str = "plangate-bot";
/// The repository most tests use.
pub(crate) const REPO: &str = "platform/gitops";

/// Starts an emulator with [`TOKEN`] and an empty [`REPO`] (default branch `main`).
pub(crate) async fn emulator(config: GithubEmulatorConfig) -> GithubEmulator {
    let emulator = GithubEmulator::start(config)
        .await
        .expect("the emulator starts");
    emulator.add_token(TOKEN, LOGIN, TokenScope::All);
    emulator
        .create_repo(REPO, "main")
        .expect("the repository is created");
    emulator
}

/// An octocrab client for the emulator with `token` (none when `None`).
pub(crate) fn client(emulator: &GithubEmulator, token: Option<&str>) -> Octocrab {
    let builder = Octocrab::builder()
        .base_uri(emulator.api_url())
        .expect("a valid base URI");
    let builder = match token {
        Some(token) => builder.personal_token(token.to_owned()),
        None => builder,
    };
    builder.build().expect("the client builds")
}

/// The GitHub error of an octocrab failure.
#[track_caller]
pub(crate) fn github_error<T: std::fmt::Debug>(
    result: octocrab::Result<T>,
) -> Box<octocrab::GitHubError> {
    match result {
        Err(octocrab::Error::GitHub { source, .. }) => source,
        other => panic!("expected a GitHub error, got {other:?}"),
    }
}

/// A raw HTTP/1.1 exchange: the status, the lowercased head and the body.
pub(crate) async fn raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("reads");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// libgit2 fetch options that answer the credential callback with `token`.
pub(crate) fn fetch_options(token: &str) -> git2::FetchOptions<'static> {
    let mut options = git2::FetchOptions::new();
    options.remote_callbacks(callbacks(token));
    options
}

/// libgit2 callbacks that answer the credential callback with `token` (once: a rejected
/// token fails instead of looping).
pub(crate) fn callbacks<'a>(token: &str) -> git2::RemoteCallbacks<'a> {
    let token = token.to_owned();
    let mut asked = 0;
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.credentials(move |_, _, _| {
        asked += 1;
        if asked > 1 {
            return Err(git2::Error::from_str("the token was rejected"));
        }
        git2::Cred::userpass_plaintext("x-access-token", &token)
    });
    callbacks
}

/// Clones `url` into `into` with libgit2 and `token`.
pub(crate) fn clone(url: &str, into: &Path, token: &str) -> Result<git2::Repository, git2::Error> {
    git2::build::RepoBuilder::new()
        .fetch_options(fetch_options(token))
        .clone(url, into)
}

/// Commits a file on the checked-out branch of a work tree.
pub(crate) fn commit_file(
    repository: &git2::Repository,
    path: &str,
    content: &str,
    message: &str,
) -> git2::Oid {
    let workdir = repository.workdir().expect("a work tree");
    let file = workdir.join(path);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).expect("the directory is created");
    }
    std::fs::write(&file, content).expect("the file is written");
    let mut index = repository.index().expect("an index");
    index.add_path(Path::new(path)).expect("the file is staged");
    index.write().expect("the index is written");
    let tree = repository
        .find_tree(index.write_tree().expect("a tree"))
        .expect("the tree");
    let signature = git2::Signature::now("Tester", "tester@example.invalid").expect("a signature");
    let parent = repository
        .head()
        .ok()
        .and_then(|head| head.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repository
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .expect("the commit is written")
}

/// Pushes `refspec` to `origin` with libgit2 and `token`.
pub(crate) fn push(
    repository: &git2::Repository,
    refspec: &str,
    token: &str,
) -> Result<(), git2::Error> {
    let mut remote = repository.find_remote("origin")?;
    let mut rejected = None;
    let mut callbacks = callbacks(token);
    callbacks.push_update_reference(|reference, status| {
        if let Some(status) = status {
            rejected = Some(format!("{reference}: {status}"));
        }
        Ok(())
    });
    let mut options = git2::PushOptions::new();
    options.remote_callbacks(callbacks);
    remote.push(&[refspec], Some(&mut options))?;
    drop(options);
    match rejected {
        Some(message) => Err(git2::Error::from_str(&message)),
        None => Ok(()),
    }
}

/// Opens the emulator's bare repository.
pub(crate) fn bare(emulator: &GithubEmulator) -> git2::Repository {
    git2::Repository::open_bare(emulator.repo_path(REPO)).expect("the bare repository opens")
}
