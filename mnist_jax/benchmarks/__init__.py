"""Timing of the training programs (scripts/benchmark.py); the core never imports it.

`timing` (our epoch, and `run`/`run_sweep` for every contender), `torch_epoch` (the same
network in PyTorch), `machine` (what it ran on), `measurements` (the records), `report` (the
Markdown and its sections of docs/PERFORMANCE.md).
"""
