import pytest
from threadpoolctl import threadpool_limits

# One BLAS thread: the kernels' cost, not the machine's thread scheduling.
_limits = threadpool_limits(limits=1)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param
