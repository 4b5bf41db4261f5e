"""The ``initreg`` command line (also ``python -m initreg``).

    initreg report [--dataset D] [--out DIR] [--quick] [--seed N] [--force]
    initreg train --layers 64,128,10 --activation relu --init he --l1 1e-4 ...
    initreg sweep GRID_FILE --out DIR [--dask local:N | --scheduler tcp://HOST:PORT]
    initreg bench [--threads 1,2] [--configs ...] [--rounds N] [--json FILE]
    initreg playground [--port 8000] [--host 127.0.0.1] [--open]
    initreg --version

Exit status: 0 on success, 1 when a run failed (the report keeps what
finished), 2 for bad arguments or an output directory that would be
overwritten, 74 when a file cannot be written (a full disk, say), 130 after
Ctrl-C.  Each failure prints one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_IOERR = 74         # sysexits.h EX_IOERR
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _report(args):
    from initreg._files import OutputExists

    start = time.perf_counter()
    try:
        from initreg.report import BadDataset, run_report
        path, errors = run_report(args.dataset, out=args.out, quick=args.quick, seed=args.seed,
                                  force=args.force, progress=not args.no_progress)
    except (OutputExists, BadDataset, ImportError) as exc:
        return _fail("report", exc, EXIT_USAGE)
    except OSError as exc:
        return _fail("report", exc, EXIT_IOERR, f"; {args.out} keeps the sections that "
                     "were written")
    except KeyboardInterrupt:
        return _fail("report", "interrupted", EXIT_INTERRUPTED,
                     f"; {args.out} keeps the sections that finished")
    took = time.perf_counter() - start
    print(f"wrote {path} ({took:.1f} s)" + (f"; failed: {', '.join(errors)}" if errors else ""))
    return EXIT_FAILED if errors else EXIT_OK


def _fail(command, what, status, more=""):
    """One line on stderr, and the exit status."""
    print(f"initreg {command}: {what}{more}", file=sys.stderr)
    return status


def _sweep(args):
    from initreg._files import OutputExists
    from initreg.experiments._grid import load_grid, local_dask, run_grid

    if args.dask and args.scheduler:
        return _fail("sweep", "give --dask local:N or --scheduler, not both", EXIT_USAGE)
    if args.workers is not None and args.workers < 1:
        return _fail("sweep", f"--workers must be at least 1, got {args.workers}", EXIT_USAGE)
    if args.resume and args.force:
        return _fail("sweep", "give --resume or --force, not both", EXIT_USAGE)
    cluster = client = None
    try:
        spec = load_grid(args.grid_file)  # a bad file fails before any cluster starts
        if args.dask or args.scheduler:
            try:
                from dask.distributed import Client
            except ImportError:
                return _fail("sweep", 'Dask is not installed: pip install "initreg[dask]"',
                             EXIT_USAGE)
            if args.dask:
                kind, _, n = args.dask.partition(":")
                if kind != "local" or not n.isdigit() or int(n) < 1:
                    return _fail("sweep", f"--dask takes local:N, got {args.dask!r}",
                                 EXIT_USAGE)
                cluster, client = local_dask(int(n))
            else:
                client = Client(args.scheduler, timeout="30s")
    except (OutputExists, ValueError, TypeError, OSError) as exc:
        return _fail("sweep", exc, EXIT_USAGE)
    start = time.perf_counter()
    try:
        result = run_grid(spec, args.out, executor=client, progress=not args.no_progress,
                          force=args.force, resume=args.resume, max_workers=args.workers)
    except (OutputExists, ValueError) as exc:
        return _fail("sweep", exc, EXIT_USAGE)
    except OSError as exc:
        return _fail("sweep", exc, EXIT_IOERR)
    except KeyboardInterrupt:
        return _fail("sweep", "interrupted", EXIT_INTERRUPTED,
                     f"; the finished runs are in {args.out}/records.jsonl (continue with "
                     "--resume)")
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    failed = len(result.errors)
    print(f"wrote {args.out}/results.csv, results.json, records.jsonl: "
          f"{len(result.records)} runs in {time.perf_counter() - start:.1f} s"
          + (f", {failed} failed (see the error column)" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


def _layers(text):
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers must be comma-separated integers, got "
                                         f"{text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError("--layers needs at least an input and an output size, "
                                         "all positive")
    return sizes


def _writable(path):
    """Why ``path`` cannot be saved to, or None: checked before training, so
    that a bad --save costs no training time."""
    import os
    import tempfile
    from pathlib import Path

    if not path:
        return "--save needs a file name"
    target = Path(path)
    if target.is_dir():
        return f"--save {path}: is a directory; give a file name"
    if target.exists() and not target.resolve().is_file():
        return f"--save {path}: exists and is not a regular file"
    directory = target.resolve().parent
    if not directory.is_dir():
        return f"--save {path}: directory {directory} does not exist"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return f"--save {path}: cannot write in {directory} ({exc.strerror or exc})"
    if not os.access(directory, os.W_OK):
        return f"--save {path}: cannot write in {directory}"
    return None


def _train(args):
    import numpy as np

    import initreg as ir
    from initreg.experiments import load_dataset
    from initreg.optim import OPTIMIZERS

    if args.save is not None and (problem := _writable(args.save)):
        return _fail("train", problem, EXIT_USAGE)
    data_seed = args.seed if args.data_seed is None else args.data_seed
    try:
        data = load_dataset(args.dataset, seed=data_seed, test_size=args.test_fraction,
                            n_samples=args.samples, noise=args.noise)
    except (ValueError, OSError, TypeError) as exc:
        return _fail("train", exc, EXIT_USAGE)
    sizes = args.layers or [data.n_features, 128, data.n_classes]
    if sizes[0] != data.n_features or sizes[-1] != data.n_classes:
        return _fail("train", f"--layers must start with {data.n_features} inputs and end "
                     f"with {data.n_classes} outputs for {data.name}; got {sizes}", EXIT_USAGE)
    try:
        net = ir.MLP(sizes, activation=args.activation,
                     init=ir.init.with_parameter(args.init, args.init_param),
                     bias_init=args.bias_init, dtype=args.dtype, seed=args.seed)
        settings = {k: v for k, v in (("lr", args.lr), ("momentum", args.momentum),
                                      ("weight_decay", args.weight_decay)) if v is not None}
        if "momentum" in settings and args.optimizer != "sgd":
            return _fail("train", f"--momentum is SGD's; --optimizer {args.optimizer} has "
                         "none", EXIT_USAGE)
        opt = OPTIMIZERS[args.optimizer](l1=args.l1, l2=args.l2, l1_mode=args.l1_mode,
                                         **settings)
    except (ValueError, TypeError) as exc:
        return _fail("train", exc, EXIT_USAGE)

    header = (f"{'epoch':>5} {'loss':>9} {'penalty':>9} {'train':>7} {'test':>7} "
              f"{'zeros':>7} {'ms':>7}")

    def show(model, hist, epoch):
        print(f"{epoch + 1:>5} {hist.loss[-1]:9.4f} {hist.penalty[-1]:9.4f} "
              f"{hist.accuracy[-1]:7.3f} {hist.val_accuracy[-1]:7.3f} "
              f"{hist.sparsity[-1]:7.3f} {1e3 * hist.epoch_time[-1]:7.1f}", flush=True)

    if not args.json:
        print(f"{net}\n{data.name}: {len(data.y_train)} training, {len(data.y_test)} test "
              f"samples; {opt}")
        print(header)
    try:
        hist = net.fit(data.X_train, data.y_train, epochs=args.epochs,
                       batch_size=args.batch_size, optimizer=opt,
                       validation_data=(data.X_test, data.y_test), seed=args.seed,
                       callbacks=[] if args.json else [show], on_divergence="ignore")
    except (ValueError, TypeError) as exc:  # --epochs -1, --batch-size 0, ...
        return _fail("train", exc, EXIT_USAGE)
    except KeyboardInterrupt:
        hist = net.history_
        interrupted = True
    else:
        interrupted = False
    try:
        if args.save:
            net.save(args.save, optimizer=opt)
    except OSError as exc:
        return _fail("train", f"cannot save to {args.save}: {exc}", EXIT_IOERR)
    if args.json:
        print(json.dumps({"model": net._config(), "optimizer": opt.to_dict(),
                          "dataset": data.name, "history": hist.to_dict(),
                          "test_accuracy": net.score(data.X_test, data.y_test)}))
    else:
        status = "diverged" if hist.diverged else "interrupted" if interrupted else "done"
        print(f"{status} after {hist.n_epochs} epochs: test accuracy "
              f"{net.score(data.X_test, data.y_test):.4f}, "
              f"{int(np.sum([np.sum(w == 0) for w in net.weights]))} of "
              f"{sum(w.size for w in net.weights)} weights exactly 0"
              + (f"; saved to {args.save}" if args.save else ""))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if hist.diverged else EXIT_OK


def _bench(script_args):
    try:
        from initreg.bench import main as bench_main
    except ImportError as exc:
        print(f"initreg bench: {exc}", file=sys.stderr)
        return 2
    try:
        return bench_main(script_args)
    except SystemExit as exc:  # argparse's --help and usage errors
        return exc.code or 0


def _playground(args):
    try:
        from initreg.playground import serve
    except ImportError as exc:
        return _fail("playground", f"{exc}; install it with: pip install "
                     "\"initreg[playground]\"", EXIT_USAGE)
    try:
        serve(host=args.host, port=args.port, open_browser=args.open,
              max_sessions=args.max_sessions)
    except (ValueError, OSError) as exc:
        return _fail("playground", exc, EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def build_parser():
    import initreg
    from initreg._vocabulary import ACTIVATION_ALIASES, ACTIVATIONS, L1_MODES
    from initreg.datasets import DATASETS
    from initreg.init import names as init_names
    from initreg.optim import DEFAULT_L1_MODE, DEFAULT_LR, DEFAULT_MOMENTUM, OPTIMIZERS

    parser = argparse.ArgumentParser(
        prog="initreg",
        description="Weight-initialization and L1/L2-regularization experiments on dense "
                    "networks, on a compiled CPU core.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {initreg.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    datasets = f"{', '.join(DATASETS)} (default: digits), mnist:DIR, npz:PATH or csv:PATH"

    rep = sub.add_parser("report", help="run the experiments and write an HTML report",
                         description="Run the initialization and regularization experiments "
                                     "and write DIR/report.html, DIR/figures/*.png and "
                                     "DIR/results.json.")
    rep.add_argument("--dataset", default="digits", help=datasets)
    rep.add_argument("--out", default="initreg-report", metavar="DIR",
                     help="output directory (default: initreg-report)")
    rep.add_argument("--quick", action="store_true",
                     help="fewer seeds, epochs and depths: seconds instead of minutes")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--force", action="store_true",
                     help="overwrite the report in an existing, non-empty DIR")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep.set_defaults(run=_report)

    tr = sub.add_parser("train", help="train one network and print a table per epoch")
    tr.add_argument("--dataset", default="digits", help=datasets)
    tr.add_argument("--layers", type=_layers, default=None,
                    help="comma-separated sizes, input to output (default: n_features,128,"
                         "n_classes)")
    tr.add_argument("--activation", default="relu",
                    choices=(*ACTIVATIONS, *ACTIVATION_ALIASES))
    tr.add_argument("--init", default="he", choices=init_names(), metavar="INIT",
                    help=f"one of {', '.join(init_names())} (default: he)")
    tr.add_argument("--init-param", type=float, default=None, metavar="X",
                    help="the one number of --init orthogonal (gain), normal (std), uniform "
                         "(limit) or constant (value)")
    tr.add_argument("--bias-init", type=float, default=0.0)
    tr.add_argument("--optimizer", default="sgd", choices=tuple(OPTIMIZERS))
    tr.add_argument("--l1", type=float, default=0.0)
    tr.add_argument("--l2", type=float, default=0.0)
    tr.add_argument("--weight-decay", type=float, default=None,
                    help="decoupled weight decay (default: the optimizer's: 0 for sgd and "
                         "adam, 0.01 for adamw)")
    tr.add_argument("--l1-mode", default=DEFAULT_L1_MODE, choices=tuple(L1_MODES))
    tr.add_argument("--lr", type=float, default=None,
                    help=f"learning rate (default: the optimizer's: {DEFAULT_LR} for sgd, "
                         "0.001 for adam and adamw)")
    tr.add_argument("--momentum", type=float, default=None,
                    help=f"SGD's momentum (default: {DEFAULT_MOMENTUM})")
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    tr.add_argument("--seed", type=int, default=0,
                    help="seed of the weights and the shuffling (and of the data, unless "
                         "--data-seed)")
    tr.add_argument("--data-seed", type=int, default=None,
                    help="seed of a generated data set and of the train/test split")
    tr.add_argument("--test-fraction", type=float, default=0.25)
    tr.add_argument("--samples", type=int, default=None,
                    help="points of a 2-D set (spirals, moons, circles, blobs, xor; default 600)")
    tr.add_argument("--noise", type=float, default=None,
                    help="noise of a 2-D set (initreg.datasets.make_plane)")
    tr.add_argument("--save", metavar="PATH",
                    help="save the trained model and its optimizer (.npz; "
                         "initreg.load_checkpoint reads both)")
    tr.add_argument("--json", action="store_true", help="print one JSON object, no table")
    tr.set_defaults(run=_train)

    sw = sub.add_parser("sweep", help="run a grid of runs from a JSON/TOML file, locally or "
                                      "on a Dask cluster",
                        description="Run every combination of a grid file's parameters for "
                                    "every seed and write DIR/results.csv, results.json, "
                                    "records.jsonl (streamed) and summary figures.")
    sw.add_argument("grid_file", help="JSON or TOML: experiment, fixed, grid, seeds")
    sw.add_argument("--out", required=True, metavar="DIR")
    sw.add_argument("--dask", metavar="local:N",
                    help="start a local Dask cluster of N single-threaded worker processes")
    sw.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run on an existing Dask cluster")
    sw.add_argument("--workers", type=int, default=None,
                    help="threads for a local run without Dask (default: CPU count)")
    sw.add_argument("--force", action="store_true", help="overwrite results in DIR")
    sw.add_argument("--resume", action="store_true",
                    help="continue the sweep of the same grid file in DIR: finished runs "
                         "are not run again")
    sw.add_argument("--no-progress", action="store_true")
    sw.set_defaults(run=_sweep)

    pg = sub.add_parser("playground", help="serve the live playground page",
                        description="Serve a page that trains networks live in the browser: "
                                    "data, initializers, optimizers, L1/L2, per-layer "
                                    "statistics and side-by-side comparisons.")
    pg.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1: this machine only)")
    pg.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    pg.add_argument("--open", action="store_true", help="open the page in a web browser")
    pg.add_argument("--max-sessions", type=int, default=8,
                    help="browser tabs served at once (default 8)")
    pg.set_defaults(run=_playground)

    be = sub.add_parser("bench", help="side-by-side timing table against NumPy, PyTorch, "
                                      "scikit-learn and the GEMM floor",
                        description="Time training steps of initreg against NumPy, PyTorch, "
                                    "scikit-learn and the GEMM floor (try: initreg bench "
                                    "--help).", add_help=False)
    be.add_argument("args", nargs=argparse.REMAINDER)  # parsed by initreg.bench, see main()
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # every option after it belongs to initreg.bench
        return _bench(argv[1:])
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
