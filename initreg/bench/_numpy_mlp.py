"""What a user would otherwise write: a plain, idiomatic NumPy MLP.

Softmax cross-entropy, tanh or ReLU hidden layers, SGD with the L1 + L2
update ``W -= lr * (dW + l1 sign(W) + 2 l2 W)`` on the weights (biases get
the plain step).  Vectorised NumPy throughout, preallocation-free, as a
tutorial or a course would write it: the NumPy line of ``initreg bench``.
"""
import numpy as np


class NumpyMLP:
    def __init__(self, sizes, activation="tanh", seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        scale = 2.0 if activation == "relu" else 1.0
        self.W = [(rng.standard_normal((a, b)) * np.sqrt(scale / a)).astype(dtype)
                  for a, b in zip(sizes, sizes[1:])]
        self.b = [np.zeros(b, dtype=dtype) for b in sizes[1:]]
        self.activation = activation

    def _act(self, z):
        return np.tanh(z) if self.activation == "tanh" else np.maximum(z, 0)

    def _act_grad(self, a):
        return 1 - a * a if self.activation == "tanh" else (a > 0).astype(a.dtype)

    def step(self, X, y, lr, l1=0.0, l2=0.0):
        # forward
        acts = [X]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            acts.append(self._act(acts[-1] @ W + b))
        logits = acts[-1] @ self.W[-1] + self.b[-1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(p[np.arange(n), y]).mean()
        # backward
        d = p
        d[np.arange(n), y] -= 1
        d /= n
        for l in range(len(self.W) - 1, -1, -1):
            dW = acts[l].T @ d
            db = d.sum(axis=0)
            if l:
                d = (d @ self.W[l].T) * self._act_grad(acts[l])
            self.W[l] -= lr * (dW + l1 * np.sign(self.W[l]) + 2 * l2 * self.W[l])
            self.b[l] -= lr * db
        return loss
