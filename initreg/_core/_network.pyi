from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

OK: int
DIVERGED: int
INTERRUPTED: int
SOFTMAX_XENT: int
SIGMOID_BCE: int
MSE: int
STAT_COLUMNS: tuple[str, ...]
ALIGNMENT: int

def aligned_zeros(n: int, dtype: npt.DTypeLike) -> npt.NDArray: ...

class EpochTotals(NamedTuple):
    status: int
    loss_sum: float
    correct: int
    seen: int
    steps: int
    pending: BaseException | None

@disjoint_base
class OptimizerState:
    n_params: int
    n_weights: int
    is_f64: bool
    dtype: np.dtype
    buffers: dict[str, npt.NDArray[np.floating]]
    lr: float
    steps: int
    cum_u: float
    def __new__(cls, n_params: int, n_weights: int, double: bool) -> Self: ...
    @property
    def busy(self) -> bool: ...
    def acquire(self) -> None: ...
    def release(self) -> None: ...
    def configure(
        self,
        lr: float,
        momentum: float,
        nesterov: bool,
        l1: float,
        l2: float,
        weight_decay: float,
        l1_mode: int,
        regularize_bias: bool,
    ) -> None: ...
    def configure_adam(
        self,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        l1: float,
        l2: float,
        weight_decay: float,
        l1_mode: int,
        amsgrad: bool,
        regularize_bias: bool,
    ) -> None: ...
    def load_buffer(self, name: str, values: npt.ArrayLike) -> None: ...

@disjoint_base
class Network:
    is_f64: bool
    dtype: np.dtype
    params: npt.NDArray[np.floating]
    grads: npt.NDArray[np.floating]
    token: int
    def __new__(
        cls,
        layer_sizes: Sequence[int],
        activations: Sequence[int],
        slopes: Sequence[float],
        loss: int,
        double: bool,
    ) -> Self: ...
    @property
    def n_weights(self) -> int: ...
    @property
    def busy(self) -> bool: ...
    @property
    def capacity(self) -> int: ...
    def acquire(self) -> None: ...
    def release(self) -> None: ...
    def layout(self) -> list[tuple[int, int, int, int]]: ...
    def workspace_bytes(self, rows: int) -> int: ...
    def trace(
        self, X: npt.NDArray[np.floating], T: npt.NDArray | None = ...
    ) -> tuple[
        float | None, list[npt.NDArray[np.floating]], list[npt.NDArray[np.floating]] | None
    ]: ...
    def forward(self, X: npt.NDArray[np.floating], out: npt.NDArray[np.floating]) -> None: ...
    def evaluate(self, X: npt.NDArray[np.floating], T: npt.NDArray) -> tuple[float, int]: ...
    def jacobian(
        self, X: npt.NDArray[np.floating], out: npt.NDArray[np.floating], layer: int, chunk: int
    ) -> None: ...
    def jacobian_bytes(self, layer: int, chunk: int) -> int: ...
    def loss_and_gradients(self, X: npt.NDArray[np.floating], T: npt.NDArray) -> float: ...
    def penalty(
        self, l1: float, l2: float, regularize_bias: bool = ..., add_to_gradient: bool = ...
    ) -> tuple[float, float, int]: ...
    def step(
        self, X: npt.NDArray[np.floating], T: npt.NDArray, state: OptimizerState
    ) -> tuple[int, float, int]: ...
    def train_epoch(
        self,
        X: npt.NDArray[np.floating],
        T: npt.NDArray,
        order: npt.NDArray[np.int64],
        batch_size: int,
        state: OptimizerState,
        stats: npt.NDArray[np.float64] | None = ...,
        batch_losses: npt.NDArray[np.float64] | None = ...,
        check_signals: bool = ...,
    ) -> EpochTotals: ...
