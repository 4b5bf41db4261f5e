import numpy as np
import numpy.typing as npt

_F = npt.NDArray[np.floating]

IDENTITY: int
TANH: int
SIGMOID: int
RELU: int
LEAKY_RELU: int
L1_SUBGRADIENT: int
L1_PROXIMAL: int
L1_CUMULATIVE: int
L1_PROXIMAL_PRECONDITIONED: int
STREAM_BYTES: int

def exp(x: _F) -> _F: ...
def tanh(x: _F) -> _F: ...
def sigmoid(x: _F) -> _F: ...
def bias_activation(z: _F, b: _F, activation: int, slope: float = ...) -> None: ...
def activation_backward(d: _F, a: _F, activation: int, slope: float = ...) -> _F: ...
def softmax_xent(z: _F, labels: npt.NDArray[np.int64]) -> tuple[float, _F, _F, int]: ...
def sigmoid_bce(z: _F, t: _F) -> tuple[float, _F, _F, int]: ...
def mse(z: _F, t: _F) -> tuple[float, _F, _F]: ...
def softmax_rows(z: _F) -> None: ...
def sgd_update(
    w: _F,
    g: _F,
    v: _F | None = ...,
    q: _F | None = ...,
    *,
    lr: float,
    momentum: float = ...,
    l1: float = ...,
    l2: float = ...,
    weight_decay: float = ...,
    cum_u: float = ...,
    nesterov: bool = ...,
    l1_mode: int = ...,
) -> int: ...
def adam_update(
    w: _F,
    g: _F,
    m: _F,
    v: _F,
    vmax: _F | None = ...,
    *,
    lr: float,
    step: int,
    beta1: float = ...,
    beta2: float = ...,
    eps: float = ...,
    l1: float = ...,
    l2: float = ...,
    weight_decay: float = ...,
    amsgrad: bool = ...,
    l1_mode: int = ...,
) -> int: ...
def penalty(
    w: _F, g: _F | None = ..., l1: float = ..., l2: float = ...
) -> tuple[float, float, int]: ...
def moments(x: _F) -> tuple[float, float]: ...
def all_finite(x: npt.NDArray[np.float32] | npt.NDArray[np.float64]) -> bool: ...
def label_range(labels: npt.NDArray[np.int64]) -> tuple[int, int]: ...
