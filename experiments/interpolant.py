r"""The exact rank-1 interpolant of a two-point dataset (sympy; no torch).

For inputs $x_1, x_2 \in \mathbb{R}^2$ that are linearly independent and any labels
$y_1, y_2 \in \mathbb{R}^k$, the depth-2 bias-free ReLU network
$x \mapsto W_2 \sigma(W_1 x)$ with

$$W_1 = u v^\top,\quad u = (1, -1),\quad v = X^{-1} (1, -1)^\top,\quad W_2 = [y_1\ y_2]$$

($X$ has rows $x_1^\top, x_2^\top$) fits both points exactly: $v^\top x_1 = 1$ and
$v^\top x_2 = -1$, so the hidden codes are $\sigma(u) = e_1$ and $\sigma(-u) = e_2$, and $W_2$
maps them to $y_1, y_2$. $W_1$ is an outer product of non-zero vectors: rank 1, stable rank 1.
A linear network $W_2 W_1$ fitting the labels $I_2$ needs $\operatorname{rank} W_1 = 2$ instead.
"""

from __future__ import annotations

from typing import Any

import sympy

#: The paper's two-point dataset, exactly: $x_{1,2} = (\pm 1, 99/100) / \|(1, 99/100)\|$.
PAPER_RAW = ((1, sympy.Rational(99, 100)), (-1, sympy.Rational(99, 100)))


def relu(vector: sympy.Matrix) -> sympy.Matrix:
    r"""Entrywise $\max(0, \cdot)$ of a vector of numbers whose sign sympy can decide."""
    return vector.applyfunc(lambda entry: sympy.Max(0, entry))


def rank_one_interpolant(inputs: sympy.Matrix, labels: sympy.Matrix) -> tuple[Any, Any]:
    r"""The weights `(W1, W2)` above for inputs (rows of `inputs`) and labels (columns).

    Args:
        inputs: a 2x2 matrix with rows $x_1^\top, x_2^\top$, invertible.
        labels: a kx2 matrix with columns $y_1, y_2$.

    Returns:
        `(W1, W2)` as sympy matrices.

    Raises:
        ValueError: if `inputs` is not 2x2, is singular, or `labels` has not 2 columns.
    """
    if inputs.shape != (2, 2):
        raise ValueError(f"inputs must be 2x2 (rows = points), got shape {inputs.shape}")
    if labels.shape[1] != 2:
        raise ValueError(f"labels must have 2 columns (one per point), got shape {labels.shape}")
    if sympy.simplify(inputs.det()) == 0:
        raise ValueError("inputs must be linearly independent (det = 0)")
    direction = sympy.Matrix([1, -1])
    v = inputs.inv() * direction
    return direction * v.T, labels


def prove_general() -> dict[str, Any]:
    r"""Symbolically, for all invertible inputs and all labels in $\mathbb{R}^2$: exact fit, rank 1.

    Returns:
        A certificate: the simplified residuals (all zero) and the determinant of $W_1$.

    Raises:
        AssertionError: if any identity does not simplify to zero.
    """
    a, b, c, d = sympy.symbols("a b c d", real=True)
    y11, y12, y21, y22 = sympy.symbols("y11 y12 y21 y22", real=True)
    inputs = sympy.Matrix([[a, b], [c, d]])
    labels = sympy.Matrix([[y11, y21], [y12, y22]])  # columns y1, y2
    first, second = rank_one_interpolant(inputs, labels)
    pre_1 = sympy.simplify(first * inputs[0, :].T)
    pre_2 = sympy.simplify(first * inputs[1, :].T)
    # Pre-activations are exactly u and -u: the ReLU codes are then e1 and e2.
    if pre_1 != sympy.Matrix([1, -1]) or pre_2 != sympy.Matrix([-1, 1]):
        raise AssertionError(f"pre-activations {pre_1.T}, {pre_2.T} are not u, -u")
    out_1 = second * relu(pre_1)
    out_2 = second * relu(pre_2)
    residual_1 = sympy.simplify(out_1 - labels[:, 0])
    residual_2 = sympy.simplify(out_2 - labels[:, 1])
    det = sympy.simplify(first.det())
    if residual_1 != sympy.zeros(2, 1) or residual_2 != sympy.zeros(2, 1) or det != 0:
        raise AssertionError(f"residuals {residual_1.T}, {residual_2.T}, det(W1) = {det}")
    return {
        "assumption": "det([x1; x2]) = a*d - b*c != 0",
        "pre_activations": [str(list(pre_1)), str(list(pre_2))],
        "residuals": [str(list(residual_1)), str(list(residual_2))],
        "det_W1": str(det),
        "W1_times_x1_nonzero": "W1 x1 = (1, -1) != 0, so W1 != 0 and rank(W1) = 1",
    }


def paper_instance() -> dict[str, Any]:
    r"""The paper's dataset with labels $I_2$: exact weights, outputs, rank and stable rank.

    Returns:
        A certificate with the exact weights, the outputs, $\operatorname{rank} W_1$ and its
        stable rank $\|W_1\|_F^2 / \|W_1\|_2^2$, and $\det X$ (non-zero: a linear net
        needs rank 2).

    Raises:
        AssertionError: if the outputs are not exactly the labels or the rank is not 1.
    """
    norm = sympy.sqrt(1 + sympy.Rational(99, 100) ** 2)
    inputs = sympy.Matrix([[x / norm for x in row] for row in PAPER_RAW])
    labels = sympy.eye(2)
    first, second = rank_one_interpolant(inputs, labels)
    first = sympy.simplify(first)
    outputs = sympy.simplify(
        sympy.Matrix.hstack(*(second * relu(first * inputs[i, :].T) for i in range(2)))
    )
    gram_eigenvalues = list((first.T * first).eigenvals())
    frobenius_sq = sympy.simplify(sum(entry**2 for entry in first))
    spectral_sq = max(gram_eigenvalues)
    stable_rank = sympy.simplify(frobenius_sq / spectral_sq)
    if outputs != labels or first.rank() != 1 or stable_rank != 1:
        raise AssertionError(f"outputs {outputs}, rank {first.rank()}, stable rank {stable_rank}")
    return {
        "inputs": str(inputs.tolist()),
        "W1": str(first.tolist()),
        "W2": str(second.tolist()),
        "outputs": str(outputs.tolist()),
        "rank_W1": int(first.rank()),
        "stable_rank_W1": str(stable_rank),
        "det_inputs": str(sympy.simplify(inputs.det())),
    }
