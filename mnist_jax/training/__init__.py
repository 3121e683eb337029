"""Training: TrainState and the step (`step`), the epoch program over replicas (`epoch`) on the
device mesh (`replicas`), evaluation (`evaluate`), checkpoints (`checkpoint`), divergence,
metrics and console lines, the run's files (`run_log`, `run_files`, `plots`), one run's parts
(`trainer`) and the loop that calls them, `train.train_and_evaluate`."""
