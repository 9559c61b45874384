"""The training stage: data for a cell, the SGD loop, checkpoints, multi-task heads."""
