"""Plain NumPy (float64) references of what the compiled core computes.

Written for clarity, independent of initreg's code paths: the oracle the
kernel and engine tests compare against.
"""
import numpy as np


def act(z, name, slope=0.01):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z < 0, slope * z, z)
    return z.copy()


def act_grad(z, name, slope=0.01):
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    if name == "relu":
        return (z > 0).astype(float)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, slope)
    return np.ones_like(z)


def logsumexp(z):
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def data_loss(z, t, output):
    """Mean loss and its gradient with respect to the logits z."""
    z = z.astype(np.float64)
    n = z.shape[0]
    if output == "softmax":
        p = np.exp(z - logsumexp(z)[:, None])
        loss = np.mean(logsumexp(z) - z[np.arange(n), t])
        g = p.copy()
        g[np.arange(n), t] -= 1
        return loss, g / n
    if output == "sigmoid":
        loss = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
        return loss, (1.0 / (1.0 + np.exp(-z)) - t) / z.size
    r = z - t
    return np.mean(r**2), 2 * r / z.size


def forward_backward(weights, biases, activations, output, X, t, slope=0.01):
    """Mean data loss and [(dW, db)] of an MLP, all in float64."""
    a = [X.astype(np.float64)]
    zs = []
    for l, (W, b) in enumerate(zip(weights, biases)):
        z = a[-1] @ W.astype(np.float64) + b
        zs.append(z)
        a.append(act(z, activations[l], slope) if l < len(weights) - 1 else z)
    loss, dz = data_loss(zs[-1], t, output)
    grads = []
    for l in range(len(weights) - 1, -1, -1):
        grads.append((a[l].T @ dz, dz.sum(axis=0)))
        if l:
            dz = (dz @ weights[l].T.astype(np.float64)) * act_grad(zs[l - 1], activations[l - 1], slope)
    return loss, grads[::-1]
