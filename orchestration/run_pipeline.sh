#!/usr/bin/env bash
# Run one pipeline, then delete the BATCH files its earlier runs left.
#
#   orchestration/run_pipeline.sh NAME
#
# runs `meltano run tap-activities--NAME target-postgres--NAME` (meltano.yml's inherited
# pair) in the meltano project and, only when that run succeeded, prunes the pipeline's
# batch directory (its batch_config.storage.root) with prune_batches.py: files of earlier
# runs go, this run's stay. A failed run deletes nothing and exits with meltano's status.
#
# Environment: MELTANO_BIN (default `meltano`), MELTANO_ENVIRONMENT (default `prod`),
# MELTANO_PROJECT_ROOT (default: the repository this script lies in), PYTHON (default
# `python3`), TAP_ACTIVITIES_LOADER (default target-postgres--NAME).
set -euo pipefail
name=${1:?usage: run_pipeline.sh NAME}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
meltano=${MELTANO_BIN:-meltano}
environment=${MELTANO_ENVIRONMENT:-prod}
python=${PYTHON:-python3}
loader=${TAP_ACTIVITIES_LOADER:-target-postgres--$name}
cd "${MELTANO_PROJECT_ROOT:-$here/..}"

started=$(date +%s)
"$meltano" --environment="$environment" run "tap-activities--$name" "$loader"
root=$("$meltano" --environment="$environment" config print "tap-activities--$name" 2>/dev/null |
  "$python" -c 'import json, sys; c = json.load(sys.stdin).get("batch_config") or {}; print((c.get("storage") or {}).get("root", ""))')
"$python" "$here/prune_batches.py" --started "$started" "$root"
