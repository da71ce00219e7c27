#!/usr/bin/env bash
# One account's pipelines at once: the plain-shell recipe
# (docs/production/tenants.md#parallel-pipelines-for-one-account).
#
#   orchestration/run_pipelines.sh [NAME...]
#
# starts run_pipeline.sh for every NAME at the same time (default: meltano.yml's
# peopleai-email peopleai-meeting peopleai-call chartmogul), waits for all of them and
# exits non-zero if any failed, naming it. Each pipeline has its own extractor, loader,
# state id and batch directory, so they do not touch each other; a failed one is simply
# run again later from its own state. Each output goes to stdout with its name in front.
# Same environment variables as run_pipeline.sh. Before the first run side by side, create
# meltano's system database (`meltano install`) and the target schema (`CREATE SCHEMA`):
# loaders starting at the same moment race on PostgreSQL's CREATE SCHEMA IF NOT EXISTS.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$#" -eq 0 ]; then
  set -- peopleai-email peopleai-meeting peopleai-call chartmogul
fi
declare -A pids
for name in "$@"; do
  ("$here/run_pipeline.sh" "$name" 2>&1 | sed -u "s/^/[$name] /") &
  pids[$name]=$!
done
failed=()
for name in "$@"; do
  wait "${pids[$name]}" || failed+=("$name")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "run_pipelines: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run_pipelines: all ${#} pipelines succeeded: $*"
