"""The ``initreg`` command line (also ``python -m initreg``).

    initreg report [--dataset D] [--out DIR] [--quick] [--seed N] [--force]
    initreg train --layers 64,128,10 --activation relu --init he --l1 1e-4 ...
    initreg sweep GRID_FILE --out DIR [--dask local:N | --scheduler tcp://HOST:PORT]
    initreg bench [--threads 1,2] [--configs ...] [--rounds N] [--json FILE]

Exit status: 0 on success, 1 when a run failed (the report keeps what
finished), 2 for bad arguments or an output directory that would be
overwritten.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def _report(args):
    from initreg._files import OutputExists
    from initreg.report import run_report

    start = time.perf_counter()
    try:
        path, errors = run_report(args.dataset, out=args.out, quick=args.quick, seed=args.seed,
                                  force=args.force, progress=not args.no_progress)
    except OutputExists as exc:
        print(f"initreg report: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"initreg report: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # a dataset that cannot be read
        print(f"initreg report: {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - start
    print(f"wrote {path} ({took:.1f} s)" + (f"; failed: {', '.join(errors)}" if errors else ""))
    return 1 if errors else 0


def _sweep(args):
    from initreg._files import OutputExists
    from initreg.experiments._grid import load_grid, local_dask, run_grid

    cluster = client = None
    try:
        if args.dask and args.scheduler:
            print("initreg sweep: give --dask local:N or --scheduler, not both", file=sys.stderr)
            return 2
        spec = load_grid(args.grid_file)  # a bad file fails before any cluster starts
        if args.dask or args.scheduler:
            try:
                from dask.distributed import Client
            except ImportError:
                print('initreg sweep: Dask is not installed: pip install "initreg[dask]"',
                      file=sys.stderr)
                return 2
            if args.dask:
                kind, _, n = args.dask.partition(":")
                if kind != "local" or not n.isdigit() or int(n) < 1:
                    print(f"initreg sweep: --dask takes local:N, got {args.dask!r}",
                          file=sys.stderr)
                    return 2
                cluster, client = local_dask(int(n))
            else:
                client = Client(args.scheduler, timeout="30s")
        start = time.perf_counter()
        result = run_grid(spec, args.out, executor=client,
                          progress=not args.no_progress, force=args.force,
                          max_workers=args.workers)
    except OutputExists as exc:
        print(f"initreg sweep: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, TypeError) as exc:
        print(f"initreg sweep: {exc}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    failed = len(result.errors)
    print(f"wrote {args.out}/results.csv, results.json, records.jsonl: "
          f"{len(result.records)} runs in {time.perf_counter() - start:.1f} s"
          + (f", {failed} failed (see the error column)" if failed else ""))
    return 1 if failed else 0


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


def _train(args):
    import numpy as np

    import initreg as ir
    from initreg.experiments import load_dataset

    try:
        data = load_dataset(args.dataset, seed=args.seed)
    except (ValueError, OSError, TypeError) as exc:
        print(f"initreg train: {exc}", file=sys.stderr)
        return 2
    sizes = args.layers or [data.n_features, 128, data.n_classes]
    if sizes[0] != data.n_features or sizes[-1] != data.n_classes:
        print(f"initreg train: --layers must start with {data.n_features} inputs and end with "
              f"{data.n_classes} outputs for {data.name}; got {sizes}", file=sys.stderr)
        return 2
    try:
        net = ir.MLP(sizes, activation=args.activation, init=args.init, dtype=args.dtype,
                     seed=args.seed)
        opt = ir.SGD(lr=args.lr, momentum=args.momentum, l1=args.l1, l2=args.l2,
                     l1_mode=args.l1_mode)
    except (ValueError, TypeError) as exc:
        print(f"initreg train: {exc}", file=sys.stderr)
        return 2

    header = f"{'epoch':>5} {'loss':>9} {'penalty':>9} {'train':>7} {'test':>7} {'zeros':>7} {'ms':>7}"

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
                       callbacks=[] if args.json else [show])
    except (ValueError, TypeError) as exc:  # --epochs -1, --batch-size 0, ...
        print(f"initreg train: {exc}", file=sys.stderr)
        return 2
    if args.save:
        net.save(args.save)
    if args.json:
        print(json.dumps({"model": net._config(), "optimizer": opt.to_dict(),
                          "dataset": data.name, "history": hist.to_dict(),
                          "test_accuracy": net.score(data.X_test, data.y_test)}))
    else:
        status = ("diverged" if hist.diverged else "interrupted" if hist.interrupted else "done")
        print(f"{status}: test accuracy {net.score(data.X_test, data.y_test):.4f}, "
              f"{int(np.sum([np.sum(w == 0) for w in net.weights]))} of "
              f"{sum(w.size for w in net.weights)} weights exactly 0")
    return 1 if hist.diverged or hist.interrupted else 0


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


def build_parser():
    from initreg._vocabulary import ACTIVATION_ALIASES, ACTIVATIONS, L1_MODES
    from initreg.datasets import DATASETS
    from initreg.init import names as init_names
    from initreg.optim import DEFAULT_L1_MODE, DEFAULT_LR, DEFAULT_MOMENTUM

    parser = argparse.ArgumentParser(
        prog="initreg",
        description="Weight-initialization and L1/L2-regularization experiments on dense "
                    "networks, on a compiled CPU core.")
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
    tr.add_argument("--l1", type=float, default=0.0)
    tr.add_argument("--l2", type=float, default=0.0)
    tr.add_argument("--l1-mode", default=DEFAULT_L1_MODE, choices=tuple(L1_MODES))
    tr.add_argument("--lr", type=float, default=DEFAULT_LR)
    tr.add_argument("--momentum", type=float, default=DEFAULT_MOMENTUM)
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
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
    sw.add_argument("--no-progress", action="store_true")
    sw.set_defaults(run=_sweep)

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
