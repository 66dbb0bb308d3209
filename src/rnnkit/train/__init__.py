"""The training engine shared by every task: ``Trainer`` (``fit → run_epoch → train_step``),
its ``TrainConfig``, objectives, callbacks, checkpoints, history and metrics.

A task supplies an objective (``rnnkit.train.objective``) and batches; the trainer does the rest:
optimizers and schedules by name, clipping, L1/L2 penalties, early stopping, a time budget,
seeding, progress bars, ``history.csv`` and ``curves.png``, atomic checkpoints and resume::

    from rnnkit.train import SupervisedObjective, TrainConfig, Trainer
    trainer = Trainer(model, SupervisedObjective(nn.CrossEntropyLoss()), TrainConfig(epochs=5))
    history = trainer.fit(train_loader, val_loader, out_dir="runs/demo")
"""

from rnnkit.train.callbacks import Callback
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint, load_model_state, save_checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import move_to_device, resolve_device
from rnnkit.train.history import History
from rnnkit.train.objective import Objective, SupervisedObjective
from rnnkit.train.optimizers import OPTIMIZERS, build_optimizer
from rnnkit.train.rng import seed_everything
from rnnkit.train.schedules import SCHEDULES, build_scheduler
from rnnkit.train.trainer import NonFiniteLossError, Trainer

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "Checkpoint",
    "History",
    "NonFiniteLossError",
    "Objective",
    "SupervisedObjective",
    "TrainConfig",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "load_checkpoint",
    "load_model_state",
    "move_to_device",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
]
