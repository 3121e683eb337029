#!/bin/bash
# Issue 18's CPU queue (2026-11-29): waits for ref4 Step 4, then the two lr sweeps, each
# resuming from its Orbax checkpoint.
cd /work/main && . .venv/bin/activate
while pgrep -f "workdir workdirs/ref4_step4" >/dev/null; do sleep 20; done
for s in reproduce_ref5_step3_lr reproduce_ref1_code4_lr; do
  echo "$(date -u +%T) start $s"
  python scripts/train.py --config "configs/sweeps.py:$s" --workdir "workdirs/$s" \
    --config.progress_bar=False >> "workdirs/$s.log" 2>&1
  echo "$(date -u +%T) $s rc=$?"
done
