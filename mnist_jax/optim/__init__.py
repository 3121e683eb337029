"""The numbers a run trains with and how it steps: the hyperparameters as one typed tree
(`hyperparameters`), SGD with torch semantics and its schedules (`schedules`: StepLR,
OneCycleLR in `one_cycle`, ReduceLROnPlateau in `plateau`) built once per run (`optimizer`), and
the grid of swept values trained as replicas (`sweep`)."""
