"""Training: data, the loop, checkpoints, memory estimates — GUI-free (no Qt here).

    from app.train import TrainConfig, train
    result = train(graph, TrainConfig(epochs=3), callback=print)
"""
from app.lazy import lazy_names

# name → submodule, imported on first use (PEP 562): app.train.config needs no torch.
_LAZY = {
    "CheckpointError": "checkpoint", "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint", "OPTIMIZERS": "config", "SCHEDULES": "config",
    "TrainConfig": "config", "DataError": "data", "Dataset": "data", "load_dataset": "data",
    "TrainError": "loop", "TrainResult": "loop", "evaluate": "loop", "lr_at": "loop",
    "pick_device": "loop", "train": "loop", "MemoryEstimate": "memory",
    "estimate_memory": "memory",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


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
