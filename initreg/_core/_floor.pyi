import numpy.typing as npt
from typing_extensions import Self, disjoint_base

@disjoint_base
class StepProducts:
    def __new__(cls, layer_sizes: list[int], batch: int, dtype: npt.DTypeLike = ...) -> Self: ...
    def run(self, repeats: int) -> None: ...
