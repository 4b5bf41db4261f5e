import numpy as np
import numpy.typing as npt

NoTrans: int
Trans: int

def matmul(
    a: npt.NDArray[np.floating],
    b: npt.NDArray[np.floating],
    transpose_a: bool = ...,
    transpose_b: bool = ...,
) -> npt.NDArray[np.floating]: ...

def step_products(
    layer_sizes: list[int], batch: int, repeats: int, dtype: object = ...
) -> None: ...
