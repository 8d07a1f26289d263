"""Training: gradient descent, gradient flow, SGD and noisy SGD (Langevin).

``train(net, data, ...)`` returns a :class:`Trajectory`; ``train_many`` runs many
networks on the same data in parallel. See :func:`train` for every option; the method is
``"gd"``, ``"flow"``, ``"sgd"``, ``"langevin"`` or an object :class:`GD`, :class:`Flow`,
:class:`SGD`, :class:`Langevin`. ``loss_and_grad(net, data)`` gives the loss ½Σ(f − y)²
and its gradient in (a, b, c).
"""

from ._api import (
                   Snapshots,
                   TrainingDiverged,
                   TrainingInterrupted,
                   Trajectory,
                   interrupt_policy,
                   langevin_noise,
                   train,
                   train_many,
)
from ._methods import GD, SGD, Flow, Langevin, Method, check_options
from ._objective import LossAndGrad, loss_and_grad

__all__ = [
    "train",
    "train_many",
    "Trajectory",
    "Snapshots",
    "TrainingDiverged",
    "TrainingInterrupted",
    "interrupt_policy",
    "langevin_noise",
    "loss_and_grad",
    "LossAndGrad",
    "GD",
    "Flow",
    "SGD",
    "Langevin",
    "Method",
    "check_options",
]
