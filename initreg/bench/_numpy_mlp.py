"""What a user would otherwise write: a plain, idiomatic NumPy MLP.

Softmax cross-entropy, tanh or ReLU hidden layers, and the L1 + L2 update
``W -= lr * (dW + l1 sign(W) + 2 l2 W)`` on the weights (biases get the
plain step), by SGD or by Adam.  Vectorised NumPy throughout,
preallocation-free, as a tutorial or a course would write it: the NumPy line
of ``initreg bench``.
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
        self.moments = None  # Adam's (m, v) per parameter array
        self.t = 0

    def _act(self, z):
        return np.tanh(z) if self.activation == "tanh" else np.maximum(z, 0)

    def _act_grad(self, a):
        return 1 - a * a if self.activation == "tanh" else (a > 0).astype(a.dtype)

    def gradients(self, X, y, l1, l2):
        """The batch's loss and [(dW, db)] per layer, penalties included."""
        acts = [X]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            acts.append(self._act(acts[-1] @ W + b))
        logits = acts[-1] @ self.W[-1] + self.b[-1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(p[np.arange(n), y]).mean()
        d = p
        d[np.arange(n), y] -= 1
        d /= n
        grads = [None] * len(self.W)
        for l in range(len(self.W) - 1, -1, -1):
            dW = acts[l].T @ d + l1 * np.sign(self.W[l]) + 2 * l2 * self.W[l]
            grads[l] = (dW, d.sum(axis=0))
            if l:
                d = (d @ self.W[l].T) * self._act_grad(acts[l])
        return loss, grads

    def step(self, X, y, lr, l1=0.0, l2=0.0):
        loss, grads = self.gradients(X, y, l1, l2)
        for l, (dW, db) in enumerate(grads):
            self.W[l] -= lr * dW
            self.b[l] -= lr * db
        return loss

    def adam_step(self, X, y, lr, l1=0.0, l2=0.0, betas=(0.9, 0.999), eps=1e-8):
        loss, grads = self.gradients(X, y, l1, l2)
        if self.moments is None:
            self.moments = [[np.zeros_like(a), np.zeros_like(a)] for a in (*self.W, *self.b)]
        self.t += 1
        b1, b2 = betas
        for param, grad, mv in zip((*self.W, *self.b),
                                   [g[0] for g in grads] + [g[1] for g in grads],
                                   self.moments):
            mv[0] = b1 * mv[0] + (1 - b1) * grad
            mv[1] = b2 * mv[1] + (1 - b2) * grad * grad
            denom = np.sqrt(mv[1] / (1 - b2**self.t)) + eps
            param -= lr / (1 - b1**self.t) * mv[0] / denom
        return loss
