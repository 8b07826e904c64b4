//! Writing a kubeconfig that points kubectl and helm at the emulator.
//!
//! The emulator serves plain HTTP, so the cluster entry has only `server:`; the user entry
//! carries a placeholder bearer token, which the emulator ignores (kubectl warns about
//! nothing, and helm needs some user entry to build its REST config).

use std::{io, path::Path};

/// The kubeconfig YAML for a server URL and a context name.
pub(crate) fn render(url: &str, context: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: {url}
users:
- name: {context}
  user:
    token: kube-emulator
contexts:
- name: {context}
  context:
    cluster: {context}
    user: {context}
    namespace: default
current-context: {context}
preferences: {{}}
"
    )
}

/// Writes the kubeconfig to `path` with owner-only permissions where the platform has them,
/// since helm warns about group- or world-readable kubeconfigs.
pub(crate) fn write(path: &Path, url: &str, context: &str) -> io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(url, context))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_context() {
        let yaml = render("http://127.0.0.1:1234", "dev");
        assert!(yaml.contains("server: http://127.0.0.1:1234"));
        assert!(yaml.contains("current-context: dev"));
        let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("valid YAML");
        assert_eq!(parsed["contexts"][0]["name"], "dev");
    }
}
