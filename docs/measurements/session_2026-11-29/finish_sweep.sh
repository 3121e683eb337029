#!/bin/bash
# Finishes a reproduction sweep: report (closest cell -> runs/<record>), docs/sweeps/<sweep>.md,
# the sweep's small files and console log -> runs/sweeps/<sweep>/.
set -e
sweep=$1; record=$2
cd /work/main && . .venv/bin/activate
python scripts/sweep_report.py --workdir "workdirs/$sweep" --reproduce "$record" \
  --output "docs/sweeps/$sweep.md" --collect runs
mkdir -p "runs/sweeps/$sweep"
cp "workdirs/$sweep/"{config.json,metrics.jsonl,summary.json} "runs/sweeps/$sweep/"
cp "workdirs/$sweep.log" "runs/sweeps/$sweep/console.log"
