"""Running generations: the task engine, the per-prediction step runner, storage of results."""
