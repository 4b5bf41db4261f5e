from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

HYPER_COLUMNS: tuple[str, ...]
LANE_BYTES: int
BUFFERS: tuple[str, ...]

def lanes_for(n_models: int, double: bool) -> int: ...

class EnsembleEpoch(NamedTuple):
    loss_sum: npt.NDArray[np.float64]
    correct: npt.NDArray[np.int64]
    seen: int
    steps: int
    batch_losses: npt.NDArray[np.float64]

@disjoint_base
class EnsembleNetwork:
    is_f64: bool
    dtype: np.dtype
    n_models: int
    lanes: int
    block: int
    n_params: int
    params: npt.NDArray[np.floating]
    grads: npt.NDArray[np.floating]
    buffers: dict[str, npt.NDArray[np.floating]]
    hyper: npt.NDArray[np.float64]
    def __new__(
        cls,
        layer_sizes: Sequence[int],
        activations: Sequence[int],
        slopes: Sequence[float],
        loss: int,
        double: bool,
        n_models: int,
    ) -> Self: ...
    def set_kinds(self, n_sgd: int, n_adam: int) -> None: ...
    def workspace_bytes(self, rows: int, own_inputs: bool = ...) -> int: ...
    def train_epoch(
        self,
        X: npt.NDArray[np.floating],
        T: npt.NDArray,
        orders: npt.NDArray[np.int64],
        batch_size: int,
        stats: npt.NDArray[np.float64] | None = ...,
        check_signals: bool = ...,
    ) -> EnsembleEpoch: ...
    def norms(self) -> npt.NDArray[np.float64]: ...
    def logits(self, X: npt.NDArray[np.floating], out: npt.NDArray[np.floating]) -> None: ...
