"""Saved files attacked byte by byte: crafted headers, zip bombs, tampered
configurations, truncations and flipped bytes, FIFOs; and what saving leaves
behind (temporary files, modes, links).  Loads that must refuse before they
allocate run in a child process under an address-space limit."""
import io
import json
import os
import resource
import stat
import subprocess
import sys
import textwrap
import threading
import zipfile

import numpy as np
import pytest

import initreg as ir
from conftest import _env_for_this_initreg
from initreg import _files, persistence


def _npy(array=None, *, header=None):
    """An .npy file: an array, or a hand-written header (and no data)."""
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, np.asarray(array), allow_pickle=True)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def _config(**model):
    base = {"layer_sizes": [4, 3, 2], "activation": ["tanh"], "init": "xavier",
            "bias_init": 0.0, "output": "softmax", "dtype": "float32", "leaky_slope": 0.01,
            "seed": "0", "epochs_trained": 0}
    return {"model": {**base, **model}, "optimizer": None}


def _write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)


def _model_file(path, *, config=None, parameters=None, version=persistence.FORMAT_VERSION,
                fmt=persistence.FORMAT, extra=None):
    config = _config() if config is None else config
    parameters = np.zeros(23, np.float32) if parameters is None else parameters
    members = {"format": _npy(np.array(fmt)), "format_version": _npy(np.array(version)),
               "config": _npy(np.array(config if isinstance(config, str) else
                                       json.dumps(config))),
               "parameters": parameters if isinstance(parameters, bytes) else _npy(parameters)}
    _write(path, {**members, **(extra or {})})
    return path


def test_a_well_formed_hand_written_file_loads(tmp_path):
    params = np.arange(23, dtype=np.float32) / 23
    net = ir.MLP.load(_model_file(tmp_path / "ok.npz", parameters=params))
    np.testing.assert_array_equal(net.parameters, params)


@pytest.mark.parametrize("case, words", [
    ("version 0", "never written"), ("version -1", "never written"),
    ("version 1.5", "wrong kind"), ("version 99", "newer"),
    ("version array", "version"), ("other format", "not an initreg.MLP model"),
    ("nested config", "nested"), ("huge config", "at most"),
    ("config NaN", "not JSON"), ("config not a table", "not {model, optimizer}"),
    ("layer sizes not ints", "layer_sizes"), ("negative seed", "seed"),
    ("unknown activation", "activation"), ("non-finite parameters", "NaN or infinity"),
    ("overflows float32", "NaN or infinity"), ("pickled parameters", "pickle"),
    ("int parameters", "not float32 or float64"), ("wrong shape", "shape"),
    ("too few bytes", "does not hold"), ("extra member", "not those"),
    ("missing member", "not an initreg model file"), ("foreign member", "it holds"),
    ("optimizer without arrays", "arrays"),
])
def test_tampered_files_are_refused_with_a_reason(tmp_path, case, words):
    path = tmp_path / "bad.npz"
    p = np.zeros(23, np.float32)
    kw = {
        "version 0": dict(version=0), "version -1": dict(version=-1),
        "version 1.5": dict(version=1.5), "version 99": dict(version=99),
        "version array": dict(version=np.array([2, 2])),
        "other format": dict(fmt="sklearn.MLP"),
        "nested config": dict(config="[" * 100_000 + "]" * 100_000),
        "huge config": dict(config=json.dumps({"model": "x" * (2 << 20), "optimizer": None})),
        "config NaN": dict(config='{"model": NaN, "optimizer": null}'),
        "config not a table": dict(config="[1, 2]"),
        "layer sizes not ints": dict(config=_config(layer_sizes=[4, 3.5, 2])),
        "negative seed": dict(config=_config(seed="-3")),
        "unknown activation": dict(config=_config(activation=["swish"])),
        "non-finite parameters": dict(parameters=np.where(np.arange(23) == 7, np.nan, 0)
                                      .astype(np.float32)),
        "overflows float32": dict(parameters=np.full(23, 1e39)),
        "pickled parameters": dict(parameters=np.array([{"a": 1}] * 23, dtype=object)),
        "int parameters": dict(parameters=np.zeros(23, np.int64)),
        "wrong shape": dict(parameters=np.zeros(24, np.float32)),
        "too few bytes": dict(parameters=_npy(p)[:-8]),
        "extra member": dict(extra={"secret": _npy(np.zeros(3))}),
        "optimizer without arrays": dict(config={**_config(), "optimizer": {"buffers": "x"}}),
    }.get(case, {})
    if case == "missing member":
        _write(path, {"format": _npy(np.array(persistence.FORMAT))})
    elif case == "foreign member":
        _model_file(path)
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("notes.txt", "hello")
    else:
        _model_file(path, **kw)
    with pytest.raises(ValueError, match=words) as info:
        ir.MLP.load(path)
    assert str(path) in str(info.value)  # names the file


def test_truncated_and_flipped_files_are_refused_or_load_the_same_model(tmp_path):
    net = ir.MLP([6, 5, 3], seed=1)
    good = tmp_path / "good.npz"
    net.save(good, optimizer=ir.SGD())
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    cuts = sorted(set(np.linspace(0, len(data) - 1, 120, dtype=int)) |
                  set(range(max(len(data) - 64, 0), len(data))))
    flips = rng.integers(0, len(data), 300)
    bad = tmp_path / "bad.npz"
    outcomes = {"refused": 0, "same": 0}
    for variant in ([data[:c] for c in cuts]
                    + [data[:i] + bytes([data[i] ^ (1 << int(rng.integers(8)))]) + data[i + 1:]
                       for i in flips]):
        bad.write_bytes(variant)
        try:
            back = ir.MLP.load(bad)
        except ValueError:
            outcomes["refused"] += 1
        else:  # a flip in a byte nothing reads (zip padding, a timestamp)
            np.testing.assert_array_equal(back.parameters, net.parameters)
            outcomes["same"] += 1
    assert outcomes["refused"] > len(cuts)  # every cut, and most flips


def _run_limited(code, limit_mb, tmp_path, timeout=120):
    """Run ``code`` in a child whose address space may grow by ``limit_mb``
    beyond what importing initreg takes."""
    prelude = textwrap.dedent(f"""
        import resource
        import initreg as ir
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (mapped + {limit_mb} * 2**20, resource.RLIM_INFINITY))
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          env=_env_for_this_initreg())


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_files_that_declare_huge_arrays_are_refused_before_anything_is_allocated(tmp_path):
    # a header announcing 2^40 parameters in a file of a few hundred bytes
    _model_file(tmp_path / "header.npz",
                parameters=_npy(header={"descr": "<f4", "fortran_order": False,
                                        "shape": (2**40,)}))
    # a configuration of layers tens of thousands wide
    _model_file(tmp_path / "wide.npz", config=_config(layer_sizes=[60000, 60000, 10]))
    # 256 MB of zeros, compressed to a few hundred kB, for a model of 23 parameters
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        _model_file(tmp_path / "small.npz")
        with zipfile.ZipFile(tmp_path / "small.npz") as small:
            for name in ("format", "format_version", "config"):
                z.writestr(name + ".npy", small.read(name + ".npy"))
        with z.open("parameters.npy", "w", force_zip64=True) as f:
            f.write(_npy(header={"descr": "<f4", "fortran_order": False,
                                 "shape": (64 * 2**20,)}))
            chunk = bytes(2**20)
            for _ in range(256):
                f.write(chunk)
    assert (tmp_path / "bomb.npz").stat().st_size < 2**21
    done = _run_limited("""
        for name in ("header", "wide", "bomb"):
            try:
                ir.MLP.load(name + ".npz")
            except ValueError as exc:
                print(name, "refused:", exc)
            else:
                print(name, "LOADED")
    """, limit_mb=120, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all("refused" in line for line in lines), done.stdout
    assert "shape" in lines[0] and "would need" in lines[1] and "shape" in lines[2]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_try(ir.MLP.load, fifo)),
                              daemon=True)
    reader.start()
    reader.join(10)
    assert outcome and isinstance(outcome[0], ValueError), outcome
    assert "not a regular file" in str(outcome[0])
    with pytest.raises(ValueError, match="not a regular file"):
        ir.MLP([3, 2]).save(fifo)  # nor is a FIFO ever replaced
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc


def test_saving_keeps_modes_follows_links_and_cleans_up(tmp_path):
    net = ir.MLP([4, 3, 2], seed=0)
    # a new file: 0666 less the umask
    code = ("import os, initreg as ir; os.umask(0o027); "
            "ir.MLP([4, 3, 2], seed=0).save('new.npz')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   env=_env_for_this_initreg())
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o640
    # an existing file keeps its mode
    kept = tmp_path / "kept.npz"
    net.save(kept)
    os.chmod(kept, 0o600)
    net.save(kept)
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    # a symbolic link stays a link; the file it points to is replaced
    target, link = tmp_path / "target.npz", tmp_path / "link.npz"
    ir.MLP([4, 3, 2], seed=5).save(target)
    link.symlink_to(target)
    net.save(link)
    assert link.is_symlink()
    np.testing.assert_array_equal(ir.MLP.load(target).parameters, net.parameters)
    # temporaries of writers that died here, or a day ago anywhere, are removed
    host = _files._host()
    dead = tmp_path / f".kept.npz.{host}.{2**22 + 12345}.0badc0de{_files.TMP_SUFFIX}"
    live = tmp_path / f".kept.npz.{host}.{os.getpid()}.0badc0de{_files.TMP_SUFFIX}"
    elsewhere = tmp_path / f".kept.npz.00000000.4242.0badc0de{_files.TMP_SUFFIX}"
    old = tmp_path / f".kept.npz.00000000.4243.0badc0de{_files.TMP_SUFFIX}"
    for p in (dead, live, elsewhere, old):
        p.write_bytes(b"half a model")
    os.utime(old, (0, 0))
    net.save(kept)
    assert not dead.exists() and not old.exists()
    assert live.exists() and elsewhere.exists()  # may still be writing


def _kill_during_saves(tmp_path, trials):
    """Kill a process that saves in a loop at random moments; return what
    each kill left."""
    code = textwrap.dedent("""
        import sys, numpy as np, initreg as ir
        net = ir.MLP([512, 1024, 512, 10], seed=0)
        for version in range(10**6):
            net.parameters[0] = version
            net.save("model.npz")
            print(version, flush=True)
    """)
    rng = np.random.default_rng(7)
    left = []
    for _ in range(trials):
        child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path,
                                 stdout=subprocess.PIPE, text=True, env=_env_for_this_initreg())
        child.stdout.readline()  # one save finished
        threading.Event().wait(float(rng.uniform(0.0, 0.4)))
        child.kill()
        child.wait()
        back = ir.MLP.load(tmp_path / "model.npz")  # the old file or the new, never half
        assert float(back.parameters[0]).is_integer()
        left.append(sorted(p.name for p in tmp_path.iterdir() if p.name != "model.npz"))
    return left


@pytest.mark.skipif(sys.platform != "linux", reason="process kill semantics of Linux")
def test_kill_9_during_saves_leaves_the_last_whole_file_and_no_litter(tmp_path):
    left = _kill_during_saves(tmp_path, trials=8)
    # each kill leaves at most the temporary file of the save it interrupted,
    # and the next save cleans up after the dead writer
    assert all(len(names) <= 1 for names in left), left
    assert any(left), "no kill landed during a save; the test proved nothing"
    ir.MLP([512, 1024, 512, 10], seed=1).save(tmp_path / "model.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def _fsize_child(code, limit_bytes, cwd):
    """Run code in a child that cannot write files larger than limit_bytes
    (a full disk, as the writer sees it)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return subprocess.run(code, capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=_env_for_this_initreg(), preexec_fn=limit)


def _litter(root):
    return [p for p in root.rglob("*") if p.name.endswith((_files.TMP_SUFFIX, ".tmp"))]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics of Linux")
def test_a_full_disk_fails_saves_cleanly(tmp_path):
    small = ir.MLP([4, 3, 2], seed=0)
    small.save(tmp_path / "model.npz")
    before = (tmp_path / "model.npz").read_bytes()
    code = [sys.executable, "-c",
            "import initreg as ir\n"
            "try:\n"
            "    ir.MLP([256, 256, 10], seed=1).save('model.npz')\n"
            "except OSError as exc:\n"
            "    print('OSError', exc.errno)\n"]
    done = _fsize_child(code, 64 * 1024, tmp_path)
    assert done.stdout.startswith("OSError"), (done.stdout, done.stderr)
    assert (tmp_path / "model.npz").read_bytes() == before  # the old model is intact
    assert not _litter(tmp_path)


def test_idx_files_are_read_no_further_than_their_header_announces(tmp_path):
    import gzip
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(header)
        for _ in range(64):  # 64 MB of zeros where 10 bytes are announced
            f.write(bytes(2**20))
    with pytest.raises(ValueError, match="more data bytes"):
        ir.datasets._read_idx(tmp_path / "train-labels-idx1-ubyte.gz")
    huge = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2**31, 2**31, 8))
    (tmp_path / "huge-idx3-ubyte").write_bytes(huge)
    with pytest.raises(ValueError, match="would need"):
        ir.datasets._read_idx(tmp_path / "huge-idx3-ubyte")


def test_nested_grid_files_are_refused(tmp_path):
    from initreg import experiments as ex
    deep = tmp_path / "grid.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="not valid JSON"):
        ex.load_grid(deep)
