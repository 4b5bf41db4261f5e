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

class StepProducts:
    def __init__(self, layer_sizes: list[int], batch: int, dtype: object = ...) -> None: ...
    def run(self, repeats: int) -> None: ...
