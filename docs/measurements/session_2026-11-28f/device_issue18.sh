#!/bin/bash
# Issue 18's remaining trainings on a lent GPU, in one device call (prepared on 2026-11-28 on
# the CPU VM, where they take ~10 h). From the repository root here:
#   run(command="bash workdirs/device/issue18.sh", carry=[".whl", "workdirs/device"], timeout_s=580)
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
job() {  # job <name> <seconds> <config>: one training, its log beside its workdir
  local start=$SECONDS
  timeout "$2" python3 scripts/train.py --config "$3" --workdir "$W/$1" \
    --config.progress_bar=False "${extra[@]}" "${@:4}" > "$W/$1.log" 2>&1
  echo "$1: rc=$? in $((SECONDS - start)) s; $(tail -1 "$W/$1.log" | cut -c1-200)"
}
job ref4_step3 120 configs/ref4.py:step3 --config.num_seeds=3
job ref4_step4 120 configs/ref4.py:step4 --config.num_seeds=3
job reproduce_ref1_code4_lr 100 configs/sweeps.py:reproduce_ref1_code4_lr
job reproduce_ref2_final_exp1_lr 100 configs/sweeps.py:reproduce_ref2_final_exp1_lr
job reproduce_ref5_step3_lr 100 configs/sweeps.py:reproduce_ref5_step3_lr
