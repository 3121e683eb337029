"""Tools that read runs; the core (`mnist_jax/*.py`) never imports them.

docs/RESULTS.md: `runs` (reading and collecting run workdirs), `analysis` (per-seed numbers,
the published comparison, the flagship's acceptance), `results` (the Markdown).
Sweeps: `sweeps` (one row per cell of a sweep workdir, ranked on validation; its plot).
The benchmark (timing programs) is `mnist_jax/benchmarks/`.
"""
