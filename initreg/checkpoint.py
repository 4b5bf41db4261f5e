"""Checkpoints: a model and its optimizer in one file, to resume training
exactly (``MLP.save(path, optimizer=opt)`` writes one)."""
from __future__ import annotations

from initreg.model import MLP
from initreg.optim import from_state_dict

__all__ = ["load_checkpoint"]


def load_checkpoint(path):
    """``(model, optimizer)`` from a file written by
    ``MLP.save(path, optimizer=opt)``; the optimizer is None when none was
    saved.  The optimizer is bound to the model and holds its state
    (velocity, L1 bookkeeping, step and epoch counts): ``model.fit(...,
    optimizer=optimizer)`` continues as the saved run would have.

    Raises as :meth:`MLP.load`, and ValueError naming the file for an
    optimizer state that does not fit the model."""
    net, opt_config, buffers = MLP._read(path)
    if opt_config is None:
        return net, None
    try:
        opt = from_state_dict({**opt_config, "buffers": buffers})
        opt._bind(net)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: the saved optimizer cannot be restored: {exc}") from None
    return net, opt
