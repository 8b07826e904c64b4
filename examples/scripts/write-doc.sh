#!/bin/sh
# Writes a design document skeleton with provenance, for plan tasks that
# produce documentation. Usage: write-doc.sh OUT TITLE SOURCE [TOPIC...]
set -eu
if [ "$#" -lt 3 ]; then
  echo "usage: write-doc.sh OUT TITLE SOURCE [TOPIC...]" >&2
  exit 2
fi
out=$1 title=$2 source=$3
shift 3
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
{
  printf '# %s\n\n' "$title"
  printf -- '- Source: %s\n' "$source"
  printf -- '- Plan run: %s, task `%s`, attempt %s\n\n' "${PLANGATE_RUN_ID:-manual}" "${PLANGATE_TASK_ID:-manual}" "${PLANGATE_ATTEMPT:-0}"
  printf '## Context\n\nWhy this work exists and which environment it targets (dev first).\n\n'
  printf '## Decisions\n\n'
  if [ "$#" -eq 0 ]; then
    printf -- '- (none recorded yet)\n'
  fi
  for topic in "$@"; do
    printf -- '- %s: decision, alternatives considered, owner\n' "$topic"
  done
  printf '\n## Risks and rollback\n\nWhat can break in dev and in production, and how to undo it.\n\n'
  printf '## Verification\n\nHow a reviewer checks this document is complete.\n'
} > "$tmp"
mv "$tmp" "$out"
echo "wrote $out"
