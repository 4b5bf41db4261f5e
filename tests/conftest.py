import os

# scikit-learn's estimator checks include one that runs with array-API
# dispatch on; SciPy reads this switch once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

# Results (bit-identity between runs, thread comparisons) depend on how BLAS
# splits its work, so every test runs with one BLAS thread.
_limits = threadpool_limits(limits=1)

#: Tolerances of float comparisons, by dtype.
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _env_for_this_initreg():
    """Environment for a child Python that imports the initreg under test
    (installed, or built in place), whatever its working directory."""
    import initreg
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(initreg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env
