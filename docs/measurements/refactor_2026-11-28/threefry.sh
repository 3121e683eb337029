#!/bin/bash
# Legacy vs default (partitionable) threefry, with JAX's persistent compilation cache: cold, then warm.
cd /tmp/before
for round in 1; do
for mode in 0 1; do
  cache=/tmp/m15/cache_${mode}_r$round; rm -rf $cache
  for run in cold warm; do
    wd=/tmp/m15/tf_${mode}_${run}_r$round; rm -rf $wd
    echo "== round $round THREEFRY_DEFAULT=$mode $run"
    THREEFRY_DEFAULT=$mode MNIST_JAX_COMPILATION_CACHE=$cache /work/main/.venv/bin/python scripts/train.py --config configs/final.py \
      --config.num_epochs=2 --config.train_subset=12800 --config.dropout_rate=0.05 --config.progress_bar=False --config.plots=False --workdir $wd 2>&1 | grep -v "^EPOCH"
    python3 -c "import json; print('epoch_seconds', [round(json.loads(l)['epoch_seconds'],2) for l in open('$wd/metrics.jsonl')])"
  done
done
done
