r"""Batched verification in torch: the reference's pinned rules, vectorised over a batch.

Glossary (the reference's, after vLLM): an *accepted* token is a draft kept; the *recovered*
token is output at the first rejected position instead of the draft; the *bonus* token is drawn
from the target after all $K$ drafts are accepted; the *output* is the accepted drafts followed
by the recovered or bonus token, so each row outputs between 1 and $K + 1$ tokens.

Shapes (every function here opens by checking them):

- `target_probs` `[B, K+1, V]`: row `i < K` is the target's distribution at draft position `i`,
  row `K` the one after the last draft;
- `draft_probs` `[B, K, V]`: the distributions the drafts were drawn from;
- `draft_tokens` `[B, K]` (integer): the drafts;
- `accept_u` `[B, K]` and `final_u` `[B]`: the uniforms in $[0, 1)$, in the probabilities' dtype.

**Randomness is an argument**: the verify functions draw nothing. They are pure functions of
their inputs, so the engine can be compared with the exact reference draw by draw
(`tests/conformance/`). [`draw_uniforms`][specproof.engine.kernels.draw_uniforms] draws the
uniforms from a `torch.Generator` and [`sample_verify`][specproof.engine.verify.sample_verify]
does both.

This module dispatches by algorithm name through the algorithm registry
([`ALGORITHMS`][specproof.reference.algorithms.ALGORITHMS]: each algorithm's engine form, e.g.
`specproof.engine.sd.verify_sd`). What the algorithms share (the result type, input validation,
the pinned inverse-CDF rule, the uniforms) is in [`specproof.engine.kernels`][specproof.engine.kernels]
and re-exported here.

**What is validated.** Always: shapes, dtypes and devices; draft tokens in $[0, V)$ (and, for
standard SD and exact-match, with positive draft probability); uniforms in $[0, 1)$; the
gathered $p(x)$ and $q(x)$ finite and non-negative; and every row a token is drawn from must have
a finite, positive sum (a NaN or infinity anywhere in it makes the sum non-finite). So with the
default checks or without, an output never depends silently on a NaN or an infinity. With
`check_values=True` (the default) every entry of `target_probs` and `draft_probs` is also
checked for NaN, infinities and negatives: one extra pass over both tensors, which dominates the
cost at large $V$ (`bench/results/verify.json`); a loop that makes its probabilities with
[`logits_to_probs`][specproof.engine.probs.logits_to_probs] (which refuses NaN and `+inf`
logits) may pass `check_values=False`. With `check_values=True` every row of `target_probs` and
`draft_probs` must also sum to 1 within `ROW_SUM_TOLERANCE` (1e-4): a row summing to 2 is
refused, not read as if normalised. Nothing is renormalised or clipped (the inverse-CDF rule
scales the uniform by the sum of the row it draws from, as the reference does, which matters
for the residual rows $(p - q)_+$).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from specproof.reference.algorithms import ALGORITHMS as _REGISTRY

from .kernels import (
    CHUNK_BYTES,
    FLOAT_DTYPES,
    INTEGER_DTYPES,
    PLACEHOLDER_TOKEN,
    BatchVerdict,
    RoundShape,
    check_round,
    draw_uniforms,
    inverse_cdf_rows,
    inverse_cdf_with_mass,
    leading_true,
)


def __getattr__(name: str) -> Any:
    # `ALGORITHMS`: the names verify_batch accepts, read live from the algorithm registry.
    if name == "ALGORITHMS":
        return _REGISTRY.names(engine=True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


VerifyFn = Callable[..., BatchVerdict]


def engine_verifier(algorithm: str) -> VerifyFn:
    """The batched verify function of the registered algorithm `algorithm`.

    Raises:
        ValueError: naming `algorithm`, for a name without an engine form.
    """
    names = _REGISTRY.names(engine=True)
    if not isinstance(algorithm, str) or algorithm not in names:
        raise ValueError(f"algorithm must be one of {names}, got {algorithm!r}")
    function: VerifyFn = _REGISTRY.get(algorithm).engine_function()
    return function


def verify_batch(
    algorithm: str,
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
    *,
    check_values: bool = True,
) -> BatchVerdict:
    """Verify a batch of rounds with the registered algorithm `algorithm` (e.g. `"sd"`).

    Args:
        algorithm: which verifier.
        target_probs: `[B, K+1, V]`.
        draft_probs: `[B, K, V]`.
        draft_tokens: `[B, K]`.
        accept_u: `[B, K]`.
        final_u: `[B]`.
        check_values: scan every probability for NaN/inf/negatives (see the module docstring).

    Returns:
        The [`BatchVerdict`][specproof.engine.kernels.BatchVerdict].

    Raises:
        ValueError: on an unknown algorithm or invalid inputs (naming the argument).

    Examples:
        >>> import torch
        >>> p = torch.tensor([[[0.25, 0.75], [0.5, 0.5]]], dtype=torch.float64)
        >>> q = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
        >>> x = torch.tensor([[0]])
        >>> u, u_final = torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)
        >>> verify_batch("sd", p, q, x, u, u_final).row(0)  # 0.5 * q(0) = p(0): strict rule rejects
        [1]
    """
    return engine_verifier(algorithm)(
        target_probs, draft_probs, draft_tokens, accept_u, final_u, check_values=check_values
    )


def sample_verify(
    algorithm: str,
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    generator: torch.Generator,
    *,
    check_values: bool = True,
) -> BatchVerdict:
    """Draw the uniforms from `generator`, then [`verify_batch`][specproof.engine.verify.verify_batch].

    Raises:
        ValueError: on invalid inputs (naming the argument).
    """
    if not isinstance(target_probs, torch.Tensor) or target_probs.dim() != 3:
        raise ValueError("target_probs must be a tensor of shape [B, K+1, V]")
    batch, rows, _ = target_probs.shape
    if rows < 1:
        raise ValueError(f"target_probs must have K+1 >= 1 rows per round, got {rows}")
    accept_u, final_u = draw_uniforms(
        generator, batch, rows - 1, target_probs.dtype, target_probs.device
    )
    return verify_batch(
        algorithm,
        target_probs,
        draft_probs,
        draft_tokens,
        accept_u,
        final_u,
        check_values=check_values,
    )


__all__ = [
    "CHUNK_BYTES",
    "FLOAT_DTYPES",
    "INTEGER_DTYPES",
    "PLACEHOLDER_TOKEN",
    "BatchVerdict",
    "RoundShape",
    "check_round",
    "draw_uniforms",
    "engine_verifier",
    "inverse_cdf_rows",
    "inverse_cdf_with_mass",
    "leading_true",
    "sample_verify",
    "verify_batch",
]
