"""Tools that read runs and time programs; the core (`mnist_jax/*.py`) never imports them.

docs/RESULTS.md: `runs` (reading and collecting run workdirs), `analysis` (per-seed numbers,
the published comparison, the flagship's acceptance), `results` (the Markdown).
Sweeps: `sweeps` (one row per cell of a sweep workdir, ranked on validation; its plot).
Benchmark: `benchmark` (our epoch, and `run` for every contender), `torch_epoch` (the torch
side), `machine` (what it ran on), `measurements` (the records), `benchmark_report` (the
Markdown and docs/PERFORMANCE.md).
"""
