"""Timing of the training programs (scripts/benchmark.py; the core never imports it): `timing`
(ours and every contender), `torch_epoch` (PyTorch), `machine`, `measurements`, `report`."""
