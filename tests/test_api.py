"""The shape of the public API: keyword-only arguments after the data, one
calling convention for the initializers, read-only model configuration, one
table per vocabulary, one set of defaults, no import cycles."""
import ast
import inspect
import pathlib

import numpy as np
import pytest

import initreg as ir
from initreg import _vocabulary, datasets, init, optim
from initreg import experiments as ex
from initreg.cli import build_parser

PACKAGE = pathlib.Path(ir.__file__).parent


def _positional(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


@pytest.mark.parametrize("fn, allowed", [
    (ir.MLP.__init__, ["layer_sizes"]), (ir.MLP.fit, ["X", "y"]),
    (ir.MLP.loss, ["X", "y"]), (ir.MLP.loss_and_gradients, ["X", "y"]),
    (ir.MLP.save, ["path"]), (ir.SGD.__init__, []), (ir.Adam.__init__, []),
    (ir.AdamW.__init__, []), (ex.weight_decay, ["dataset"]),
    (ex.signal_propagation, ["depth"]), (ex.initialization, ["dataset"]),
    (ex.depth_study, ["dataset"]), (ex.regularization, ["dataset"]),
    (ex.landscape, ["problem"]), (ex.sweep, ["fn", "grid"]), (ex.load_dataset, ["spec"]),
    (ex.run_grid, ["spec", "out"]), (ex.train_run, ["dataset"]),
    (datasets.train_test_split, ["X", "y"]), (datasets.load_csv, ["path"]),
    (datasets.load_npz, ["path"]), (datasets.load_mnist, ["directory"]),
    (datasets.make_spirals, ["n_samples"]), (datasets.make_xor, ["n_samples"]),
    (init.lsuv, ["model", "X"]), (ir.EarlyStopping.__init__, ["patience"]),
])
def test_arguments_after_the_data_are_keyword_only(fn, allowed):
    assert _positional(fn) == allowed


@pytest.mark.parametrize("name", init._PUBLIC)
def test_every_initializer_has_one_calling_convention(name):
    f = getattr(init, name)
    assert _positional(f) == ["shape"]
    recipe = f()  # no shape: the initializer with its parameters bound
    assert isinstance(recipe, init.Initializer)
    drawn = f((7, 5), rng=3, dtype=np.float64)
    assert isinstance(drawn, np.ndarray) and drawn.shape == (7, 5)
    np.testing.assert_array_equal(recipe((7, 5), rng=3, dtype=np.float64), drawn)
    assert init.restore(init.describe(recipe)) == recipe


def test_lecun_uniform_is_xavier_uniform_by_another_name():
    assert init.lecun_uniform is init.xavier_uniform
    np.testing.assert_array_equal(init.get("lecun_uniform")((9, 4), rng=1),
                                  init.get("xavier_uniform")((9, 4), rng=1))


@pytest.mark.parametrize("attribute", ["init", "bias_init", "seed", "layer_sizes",
                                       "activations", "output", "dtype", "leaky_slope",
                                       "diverged", "epochs_trained", "weights", "biases"])
def test_model_configuration_is_read_only(attribute):
    net = ir.MLP([3, 4, 2], init="xavier", seed=0)
    before = net.parameters.copy()
    with pytest.raises(AttributeError):
        setattr(net, attribute, "he" if attribute == "init" else 1)
    net.reinitialize(net.seed)  # the model still draws what it says it draws
    np.testing.assert_array_equal(net.parameters, before)
    assert net.init == "xavier"


def _cli_defaults(command):
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    return {a.dest: (a.default, a.choices) for a in sub._actions}


def test_each_vocabulary_is_one_table_and_the_cli_reads_it():
    train = _cli_defaults("train")
    assert set(train["activation"][1]) == {*_vocabulary.ACTIVATIONS,
                                           *_vocabulary.ACTIVATION_ALIASES}
    assert tuple(train["init"][1]) == init.names() == tuple(init.INITIALIZERS)
    assert set(train["l1_mode"][1]) == set(_vocabulary.L1_MODES)
    for name, cls in optim.OPTIMIZERS.items():
        assert set(cls.L1_MODES) == {mode for mode, spec in _vocabulary.L1_MODES.items()
                                     if name in spec.optimizers}
    assert set(train["optimizer"][1]) == set(optim.OPTIMIZERS)
    assert len({mode.code for mode in _vocabulary.L1_MODES.values()}) == len(
        _vocabulary.L1_MODES)
    for name in datasets.DATASETS:  # every named dataset loads through the one table
        data = ex.load_dataset(name, seed=0)
        assert data.n_classes >= 2 and data.name == name
    for name, act in _vocabulary.ACTIVATIONS.items():
        assert act.name == name and init.gain(name) == act.gain(0.01)


def test_defaults_agree_across_surfaces():
    sgd = ir.SGD()
    defaults = {"lr": optim.DEFAULT_LR, "momentum": optim.DEFAULT_MOMENTUM,
                "l1_mode": optim.DEFAULT_L1_MODE}
    assert {k: getattr(sgd, k) for k in defaults} == defaults
    train = _cli_defaults("train")  # None: the optimizer's own default, SGD's by default
    assert train["optimizer"][0] == "sgd" and train["l1_mode"][0] == optim.DEFAULT_L1_MODE
    assert train["lr"][0] is None and train["momentum"][0] is None
    run = inspect.signature(ex.train_run).parameters
    assert run["optimizer"].default == "sgd" and run["lr"].default is None
    for fn in (ex.initialization, ex.depth_study, ex.regularization):
        params = inspect.signature(fn).parameters
        for key, value in defaults.items():
            if key in params:
                assert params[key].default == value, (fn.__name__, key)
    # the estimators follow scikit-learn's MLPClassifier(solver="sgd") instead
    # (docs/api.md says so): all but the step size agree
    pytest.importorskip("sklearn")
    est = inspect.signature(ir.MLPClassifier).parameters
    assert est["l1_mode"].default == optim.DEFAULT_L1_MODE
    assert est["momentum"].default == optim.DEFAULT_MOMENTUM
    assert est["lr"].default == 0.001 and est["solver"].default == "adam"


def _imports(path):
    """The initreg modules a module's code imports (at any depth)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("initreg"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if not base.startswith("initreg"):
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if _exists(sub) else base)
    return module, found


def _exists(module):
    rel = PACKAGE.parent.joinpath(*module.split("."))
    return rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file()


def test_the_package_has_no_import_cycles():
    graph = dict(_imports(p) for p in PACKAGE.rglob("*.py"))
    # importing a submodule runs its parents' __init__ first: that is not a
    # dependency of the submodule's own code
    graph = {m: {d for d in deps if d != m and not m.startswith(d + ".")}
             for m, deps in graph.items()}
    cycles = []

    def visit(node, path):
        for nxt in graph.get(node, ()):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    done = set()
    for start in graph:
        if start not in done:
            visit(start, [start])
    assert not cycles, cycles
