#!/bin/bash
# Issue 15 acceptance measurements, sequential on the otherwise idle 2-core CPU.
PY=/work/main/.venv/bin/python
export MNIST_JAX_COMPILATION_CACHE=0
echo "== flagship 1 epoch, after (HEAD of issue 15) $(date -u +%T)"
cd /tmp/after15 && rm -rf /tmp/m15/after_final && $PY scripts/train.py --config configs/final.py --config.num_epochs=1 --workdir /tmp/m15/after_final --config.progress_bar=False 2>&1 | grep -v "^EPOCH"
for round in 1 2; do
  for version in before after15; do
    echo "== benchmark round $round: $version $(date -u +%T)"
    cd /tmp/$version && $PY scripts/benchmark.py --config configs/final.py --num_examples 12800 --epochs 3 --seeds= 2>&1 | grep -v "^WARNING\|^I1\|^W1" | tail -25
  done
done
echo "== done $(date -u +%T)"
