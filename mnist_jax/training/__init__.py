"""Training: TrainState and the step (`step`), the epoch program over replicas (`epoch`),
the replica axis of seeds and sweep cells (`sweep`), checkpoints (`checkpoint`), metrics and
console lines, the run's files and plots, and `train.train_and_evaluate`."""
