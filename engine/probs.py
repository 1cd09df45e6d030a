r"""Logits to probabilities: temperature, then top-k, then top-p, with pinned semantics.

[`logits_to_probs`][specproof.engine.probs.logits_to_probs] is the one function that turns a
model's logits into the distribution a verifier sees. Wherever an algorithm needs target and
draft distributions transformed alike (standard SD is lossless with respect to the *transformed*
target), both go through this function with the same settings.

Semantics, in order (all in the computation dtype):

1. **temperature** $T > 0$ (finite): $z = \ell / T$. $T = 0$ is refused: greedy decoding is its
   own verifier (`"greedy"`), not a limit of this transform.
2. **top-k** ($k \ge 1$, or `None` for off): keep every token whose $z$ is $\ge$ the $k$-th
   largest $z$ of its row. Ties at the boundary are all kept, so more than $k$ tokens may
   survive; $k \ge V$ keeps everything. Removed tokens get $z = -\infty$.
3. **top-p** ($0 < p \le 1$, or `None` for off; $p = 1$ is off): on $\pi = \mathrm{softmax}(z)$
   after top-k, sort the tokens by decreasing $\pi$; let $m$ be the smallest count whose
   cumulative mass is $\ge p$ (the sum is the dtype's `cumsum` of the sorted probabilities; if
   rounding keeps it below $p$ throughout, $m$ is every token of positive mass). Keep every
   token with $\pi \ge \pi_{(m)}$, the $m$-th largest: ties at the boundary are all kept, and at
   least one token always survives.
4. **output**: $\mathrm{softmax}(z)$ over the kept tokens, zero elsewhere.

Inputs: `-inf` logits are allowed (a mask: probability zero, never kept by top-k unless
fewer than $k$ tokens are finite, in which case all finite ones are kept and the `-inf` ones
stay at zero); a row must have at least one finite logit. NaN and `+inf` are refused with a
`ValueError` naming `logits`.
"""

from __future__ import annotations

import math

import torch

LOW_PRECISION = (torch.float16, torch.bfloat16)


def logits_to_probs(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Turn logits `[..., V]` into probabilities `[..., V]` (see the module docstring).

    Args:
        logits: `[..., V]` floating point; `-inf` masks a token.
        temperature: $T > 0$, finite.
        top_k: keep the tokens scoring at least the $k$-th largest (ties kept); `None` is off.
        top_p: nucleus mass in $(0, 1]$; `None` (or 1) is off.
        dtype: computation and output dtype; by default the logits' dtype, or float32 for
            float16/bfloat16 logits.

    Returns:
        Probabilities of the same shape; each row sums to 1 up to rounding.

    Raises:
        ValueError: naming `logits`, `temperature`, `top_k`, `top_p` or `dtype` when invalid
            (a temperature so small that a finite logit divided by it overflows included).

    Examples:
        >>> import torch
        >>> probs = logits_to_probs(torch.tensor([0.0, 0.0, 1.0, -float("inf")]), top_k=2)
        >>> (probs > 0).tolist()  # the 2nd-largest logit is tied: both copies kept
        [True, True, True, False]
        >>> (logits_to_probs(torch.log(torch.tensor([0.1, 0.2, 0.7])), top_p=0.8) > 0).tolist()
        [False, True, True]
        >>> logits_to_probs(torch.tensor([[2.0, 2.0, 0.0]]), top_k=1).tolist()  # tie kept
        [[0.5, 0.5, 0.0]]
    """
    if not isinstance(logits, torch.Tensor) or not logits.dtype.is_floating_point:
        raise ValueError("logits must be a floating-point torch.Tensor")
    if logits.dim() < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape [..., V] with V >= 1, got {list(logits.shape)}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"temperature must be finite and > 0, got {temperature} (use the greedy verifier "
            "for temperature 0)"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an int >= 1 or None, got {top_k!r}")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, int | float) or not (0 < top_p <= 1)
    ):
        raise ValueError(f"top_p must be a number in (0, 1] or None, got {top_p!r}")
    if dtype is None:
        dtype = torch.float32 if logits.dtype in LOW_PRECISION else logits.dtype
    elif not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    _check_values(logits)
    scores = logits.to(dtype)
    if temperature != 1:
        scores = scores / temperature
    # Only a division by T < 1 or a narrower dtype can overflow a finite logit.
    narrower = torch.finfo(scores.dtype).max < torch.finfo(logits.dtype).max
    if temperature < 1 or narrower:
        if bool((torch.isfinite(logits) & ~torch.isfinite(scores)).any()):
            raise ValueError(
                f"temperature {temperature:g} is too small for these logits in {dtype}: "
                "logits / temperature overflows (use a larger temperature, a wider dtype, or "
                "the greedy verifier)"
            )
    vocab = scores.shape[-1]
    if top_k is not None and top_k < vocab:
        kth = torch.topk(scores, top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_probs = torch.sort(probs, dim=-1, descending=True, stable=True).values
        mass = sorted_probs.cumsum(-1)
        # m - 1 = number of sorted prefixes whose mass is still below top_p.
        below = (mass < top_p).sum(-1, keepdim=True)
        positive = (sorted_probs > 0).sum(-1, keepdim=True)
        last = torch.minimum(below, positive - 1)
        boundary = sorted_probs.gather(-1, last)
        scores = scores.masked_fill(probs < boundary, -math.inf)
        probs = torch.softmax(scores, dim=-1)
    return probs


def _check_values(logits: torch.Tensor) -> None:
    """Refuse NaN, `+inf` and all-`-inf` rows, in one pass over `logits` when all is well.

    Each row's maximum is NaN if the row holds a NaN, `+inf` if it holds `+inf` and `-inf` if
    every entry is `-inf`, so one reduction (`amax`, which propagates NaN) clears a valid
    tensor; only an invalid one pays for the scans that say what is wrong.
    """
    if bool(torch.isfinite(logits.amax(-1)).all()):
        return
    if bool(torch.isnan(logits).any()):
        raise ValueError("logits contains NaN")
    if bool(torch.isposinf(logits).any()):
        raise ValueError("logits contains +inf")
    raise ValueError("logits has a row whose entries are all -inf (nothing to sample)")
