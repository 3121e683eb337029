"""The optimizer of a run: SGD with torch semantics and its schedules (`schedules`: StepLR,
OneCycleLR in `one_cycle`, ReduceLROnPlateau in `plateau`), the grid of swept values trained as
replicas (`sweep`), and `recipe.Recipe`, which builds all of them once per run."""
