"""The ``initreg`` command line."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _demo(args):
    import initreg as ir

    rng = np.random.default_rng(args.seed)
    # A task with a known answer: labels of a random "teacher" network.
    X = rng.normal(size=(4000, 64)).astype(np.float32)
    teacher = rng.normal(size=(64, 10))
    y = np.argmax(np.tanh(X @ teacher), axis=1)
    net = ir.MLP([64, 128, 128, 10], activation="tanh", init="xavier", seed=args.seed)
    opt = ir.SGD(lr=0.1, momentum=0.9, l2=1e-5)
    order_rng = np.random.default_rng(args.seed + 1)
    print(f"{net}\ntraining on 4000 samples of a teacher network's labels")
    print(f"{'epoch':>5} {'loss':>8} {'accuracy':>9} {'ms':>7}")
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = order_rng.permutation(len(X))
        losses = [net.step(X[order[s:s + 32]], y[order[s:s + 32]], opt)
                  for s in range(0, len(X), 32)]
        ms = (time.perf_counter() - t0) * 1e3
        print(f"{epoch + 1:>5} {np.mean(losses):8.4f} {net.score(X, y):9.3f} {ms:7.1f}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="initreg",
        description="Weight-initialization and L1/L2-regularization experiments "
                    "on dense networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small network and print the loss falling")
    demo.add_argument("--epochs", type=int, default=5)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
