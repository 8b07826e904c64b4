#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the test tools it needs
# (real kubectl and helm, into .tools/bin; GitHub's OpenAPI description, into
# .tools/openapi; yaml-language-server, into .tools/yaml-language-server), then
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-tools.sh
export PLANGATE_TOOLS_DIR="$PWD/.tools/bin"
export PLANGATE_GITHUB_OPENAPI="$PWD/.tools/openapi/api.github.com.json"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
