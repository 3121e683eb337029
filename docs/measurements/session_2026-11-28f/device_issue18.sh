#!/bin/bash
# Issue 18's remaining trainings on a lent GPU (prepared on 2026-11-28 on the 2-core CPU VM,
# where they take ~10 h or more). From the repository root here, e.g. in two calls:
#   run(command="bash workdirs/device/issue18.sh ref4_step3 ref4_step4 reproduce_ref4_step3_lr reproduce_ref4_step4_lr",
#       carry=[".whl", "workdirs/device"], timeout_s=590)
#   run(command="bash workdirs/device/issue18.sh reproduce_ref1_code4_lr reproduce_ref2_final_exp1_lr reproduce_ref5_step3_lr", ...)
# Jobs: ref4_step3 / ref4_step4 (configs/ref4.py, 3 seeds) and reproduce_* (configs/sweeps.py).
# No job is started past BUDGET seconds (default 560) and each is cut at what is left of it.
# .whl holds clu, ml_collections and dm_pix (the device image lacks them; the device README):
#   echo /.whl/ >> .git/info/exclude; python3 -m pip download --no-deps --only-binary=:all: \
#     --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 -d .whl \
#     clu==0.0.12 ml_collections==1.1.0 dm_pix==0.4.5
# Back comes $OUT/issue18.tgz: each workdir's small files (no checkpoints, no events) and logs;
# unpack it into workdirs/gpu/ here, then finish each sweep as docs/EXPERIMENTS.md says.
# SMOKE=1: 1 epoch on 512 / 512 images, to check the script itself (on any machine).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || exit 1
export PYTHONUNBUFFERED=1
BUDGET=${BUDGET:-560}
W=/tmp/issue18; mkdir -p "$W"
finish() {
  tar czf "$OUT/issue18.tgz" -C "$W" --exclude=checkpoints --exclude='events.out*' \
    --exclude=steps.jsonl .
  ls -la "$OUT"
}
trap finish EXIT
extra=()
[ -n "$SMOKE" ] && extra=(--config.num_epochs=1 --config.train_subset=512 --config.test_subset=512)
python3 -c "import jax; print(jax.__version__, jax.devices())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
for name in "$@"; do
  case $name in
    ref4_step*) config=(--config "configs/ref4.py:${name#ref4_}" --config.num_seeds=3) ;;
    reproduce_*) config=(--config "configs/sweeps.py:$name") ;;
    *) echo "unknown job $name (ref4_step3, ref4_step4 or reproduce_<step>_<field>)"; exit 1 ;;
  esac
  left=$((BUDGET - SECONDS))
  if [ "$left" -lt 20 ]; then echo "$name: not started, ${left} s of the budget left"; continue; fi
  start=$SECONDS
  timeout "$left" python3 scripts/train.py "${config[@]}" --workdir "$W/$name" \
    --config.progress_bar=False "${extra[@]}" > "$W/$name.log" 2>&1
  echo "$name: rc=$? in $((SECONDS - start)) s; $(tail -1 "$W/$name.log" | cut -c1-200)"
done
