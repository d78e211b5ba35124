"""The embedded defaults: the services a run uses when the configuration names nothing else."""
