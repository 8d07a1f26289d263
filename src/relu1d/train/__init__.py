"""Training: gradient descent, gradient flow, SGD and noisy SGD (Langevin).

``train(net, data, ...)`` returns a :class:`Trajectory`; ``train_many`` runs many
networks on the same data in parallel. See :func:`train` for every option.
"""

from ._api import (Snapshots, Trajectory, TrainingDiverged, TrainingInterrupted, interrupt_policy,
                   langevin_noise, train, train_many)

__all__ = ["train", "train_many", "Trajectory", "Snapshots", "TrainingDiverged", "TrainingInterrupted",
           "interrupt_policy", "langevin_noise"]
