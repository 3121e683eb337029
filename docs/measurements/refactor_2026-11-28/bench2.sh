#!/bin/bash
PY=/work/main/.venv/bin/python
export MNIST_JAX_COMPILATION_CACHE=0
echo "== sweep benchmark $(date -u +%T)"
cd /work/main && $PY scripts/benchmark.py --config configs/final.py --sweep --sweep_replicas 1,8,32,64 --sweep_num_examples 1280 --epochs 3 --output docs/PERFORMANCE.md --section sweep_cpu 2>&1 | grep -v "^WARNING\|^I1\|^W1" | tail -30
for version in before after15; do
  echo "== benchmark 5 epochs: $version $(date -u +%T)"
  cd /tmp/$version && $PY scripts/benchmark.py --config configs/final.py --num_examples 6400 --epochs 5 --seeds= 2>&1 | grep "^| ours\|^| torch eager\|\*\*"
done
echo "== done $(date -u +%T)"
