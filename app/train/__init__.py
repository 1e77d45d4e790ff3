"""Training: data, the loop, checkpoints, memory estimates — GUI-free (no Qt here).

    from app.train import TrainConfig, train
    result = train(graph, TrainConfig(epochs=3), callback=print)
"""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import OPTIMIZERS, SCHEDULES, TrainConfig
from .data import DataError, Dataset, load_dataset
from .loop import TrainError, TrainResult, evaluate, lr_at, pick_device, train
from .memory import MemoryEstimate, estimate_memory

__all__ = [
           "OPTIMIZERS",
           "SCHEDULES",
           "CheckpointError",
           "DataError",
           "Dataset",
           "MemoryEstimate",
           "TrainConfig",
           "TrainError",
           "TrainResult",
           "estimate_memory",
           "evaluate",
           "load_checkpoint",
           "load_dataset",
           "lr_at",
           "pick_device",
           "save_checkpoint",
           "train",
]
