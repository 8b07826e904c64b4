#!/usr/bin/env bash
# Regenerates the report screenshots in docs/img/: the marathon's impact report
# (`plangate plan examples/marathon-42.yaml --format html`) and the run report of a
# finished quickstart run (`plangate report --format html`), each rendered by headless
# Chromium (/usr/bin/chromium; ./scripts/install-test-tools.sh installs it) at
# 1280x1600. The runs happen in a temporary folder; nothing in the checkout changes
# but the two PNG files.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
cargo build -q --locked -p plangate
binary="${repo_root}/target/debug/plangate"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cp -r examples "${work}/examples"
(
    cd "${work}"
    "${binary}" plan examples/marathon-42.yaml --format html -o "${work}/marathon.html"
    "${binary}" run examples/quickstart.yaml --approve publish-site >/dev/null
    "${binary}" report --format html -o "${work}/quickstart-run.html"
)
for page in marathon:marathon-plan quickstart-run:quickstart-run; do
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="${work}/browser-${page%%:*}" --hide-scrollbars \
        --window-size=1280,1600 --screenshot="${repo_root}/docs/img/${page##*:}.png" \
        "file://${work}/${page%%:*}.html" 2>/dev/null
done
echo "screenshots: docs/img/marathon-plan.png docs/img/quickstart-run.png"
