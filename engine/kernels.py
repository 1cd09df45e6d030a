r"""The engine's verification kernels: shared validation, the pinned inverse-CDF rule, uniforms.

What every batched verifier (`specproof.engine.sd`, `exact_match`, `greedy`, ...) shares: the
result type [`BatchVerdict`][specproof.engine.kernels.BatchVerdict], input validation
([`check_round`][specproof.engine.kernels.check_round]), the pinned inverse-CDF rule over rows
and [`draw_uniforms`][specproof.engine.kernels.draw_uniforms]. Dispatch by algorithm name is in
[`specproof.engine.verify`][specproof.engine.verify], which imports the algorithms; the
algorithms import only this module and [`specproof.engine.rule`][specproof.engine.rule] (the
wrapper that gives each rule the shared signature and validation), so there is no import circle.

See [`specproof.engine.verify`][specproof.engine.verify] for the glossary, the shapes and what is
validated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

PLACEHOLDER_TOKEN = -1
"""Pads `BatchVerdict.tokens` after each row's last output token."""

FLOAT_DTYPES = (torch.float32, torch.float64)
INTEGER_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


@dataclass(frozen=True)
class BatchVerdict:
    """The result of verifying a batch of rounds.

    Attributes:
        tokens: `[B, K+1]` int64: row `b` holds its `n_accepted[b] + 1` output tokens (accepted
            drafts, then the recovered or bonus token), padded with `PLACEHOLDER_TOKEN`.
        n_accepted: `[B]` int64: drafts accepted per row (`n_accepted == K` means the last
            output token is the bonus token, otherwise it is the recovered token).
    """

    tokens: torch.Tensor
    n_accepted: torch.Tensor

    def row(self, b: int) -> list[int]:
        """The output tokens of row `b`, without padding."""
        return [int(t) for t in self.tokens[b, : int(self.n_accepted[b]) + 1]]


@dataclass(frozen=True)
class RoundShape:
    """The sizes of a validated batch of rounds."""

    batch: int
    k: int
    vocab: int


def check_round(
    target_probs: Any,
    draft_probs: Any,
    draft_tokens: Any,
    accept_u: Any,
    final_u: Any,
    *,
    check_values: bool = True,
    check_draft_values: bool = True,
) -> RoundShape:
    """Validate a batch of rounds; return its sizes.

    Args:
        target_probs: `[B, K+1, V]` float32 or float64.
        draft_probs: `[B, K, V]`, same dtype and device.
        draft_tokens: `[B, K]` integer, each in `[0, V)`.
        accept_u: `[B, K]`, same dtype as the probabilities, each in `[0, 1)`.
        final_u: `[B]`, same dtype, in `[0, 1)`.
        check_values: also scan every probability for NaN, infinities and negatives.
        check_draft_values: whether `draft_probs`'s values are checked at all (greedy ignores
            them; its shape is checked regardless).

    Raises:
        ValueError: naming the offending argument.
    """
    args = {
        "target_probs": target_probs,
        "draft_probs": draft_probs,
        "draft_tokens": draft_tokens,
        "accept_u": accept_u,
        "final_u": final_u,
    }
    for name, value in args.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if target_probs.dim() != 3:
        raise ValueError(
            f"target_probs must have shape [B, K+1, V], got {tuple(target_probs.shape)}"
        )
    batch, rows, vocab = target_probs.shape
    if rows < 1:
        raise ValueError(
            f"target_probs must have K+1 >= 1 rows per round (K >= 0), got {rows} rows "
            f"(K = {rows - 1})"
        )
    if vocab < 1:
        raise ValueError(f"target_probs must have a vocabulary of size V >= 1, got V = {vocab}")
    k = rows - 1
    expected = {
        "draft_probs": (batch, k, vocab),
        "draft_tokens": (batch, k),
        "accept_u": (batch, k),
        "final_u": (batch,),
    }
    for name, shape in expected.items():
        if tuple(args[name].shape) != shape:
            raise ValueError(
                f"{name} must have shape {list(shape)} (B={batch}, K={k}, V={vocab} from "
                f"target_probs {list(target_probs.shape)}), got {list(args[name].shape)}"
            )
    dtype = target_probs.dtype
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"target_probs must be float32 or float64, got {dtype}")
    for name in ("draft_probs", "accept_u", "final_u"):
        if args[name].dtype != dtype:
            raise ValueError(
                f"{name} must have target_probs's dtype {dtype}, got {args[name].dtype}"
            )
    if draft_tokens.dtype not in INTEGER_DTYPES:
        raise ValueError(f"draft_tokens must be an integer tensor, got {draft_tokens.dtype}")
    for name, value in args.items():
        if value.device != target_probs.device:
            raise ValueError(
                f"{name} is on {value.device} but target_probs is on {target_probs.device}"
            )
    if draft_tokens.numel():
        low, high = (int(v) for v in torch.aminmax(draft_tokens))
        if low < 0 or high >= vocab:
            bad = low if low < 0 else high
            raise ValueError(f"draft_tokens must lie in [0, V={vocab}), got {bad}")
    check_uniforms(accept_u, "accept_u")
    check_uniforms(final_u, "final_u")
    if check_values:
        check_distributions(target_probs, "target_probs")
        if check_draft_values:
            check_distributions(draft_probs, "draft_probs")
    return RoundShape(batch, k, vocab)


def check_uniforms(u: torch.Tensor, name: str) -> None:
    """Raise `ValueError` naming `name` unless every entry of `u` lies in $[0, 1)$ (NaN fails)."""
    if u.numel() == 0:
        return
    low, high = (float(v) for v in torch.aminmax(u))
    if not (low >= 0 and high < 1):  # NaN propagates through aminmax and fails both
        bad = low if not low >= 0 else high
        raise ValueError(f"{name} must lie in [0, 1), got {bad}")


def check_probs(probs: torch.Tensor, name: str) -> None:
    """Raise `ValueError` naming `name` if any entry is NaN, infinite or negative."""
    if probs.numel() == 0:
        return
    low, high = torch.aminmax(probs)
    if torch.isnan(low) or torch.isnan(high):
        raise ValueError(f"{name} contains NaN")
    if torch.isinf(high):
        raise ValueError(f"{name} contains inf")
    if low < 0:
        raise ValueError(f"{name} contains a negative probability ({float(low)})")


ROW_SUM_TOLERANCE = 1e-4
"""How far from 1 a probability row's sum may be (rounding of float32 rows, as `softmax` makes)."""


def check_distributions(
    probs: torch.Tensor, name: str, tolerance: float = ROW_SUM_TOLERANCE
) -> None:
    """`check_probs`, and every row (last axis) sums to 1 within `tolerance`.

    A row summing to 2 is refused rather than read as if it were normalised: the accept rule
    `u * q(x) < p(x)` would then accept more often than the law it claims.
    """
    check_probs(probs, name)
    if probs.numel() == 0:
        return
    error = (probs.sum(-1, dtype=torch.float64) - 1).abs()
    worst = float(error.max())
    if not worst <= tolerance:
        raise ValueError(
            f"{name}: every row must sum to 1 (within {tolerance}), off by {worst:.3g}"
        )


def check_gathered(values: torch.Tensor, name: str, what: str, *, positive: bool = False) -> None:
    """Raise `ValueError` naming `name` unless the probabilities the rule reads are finite, >= 0.

    With `positive`, zero is refused too (a draft token must have positive draft probability).
    """
    if values.numel() == 0:
        return
    low, high = (float(v) for v in torch.aminmax(values))
    if not (low >= 0 and high < math.inf):  # NaN fails both comparisons
        raise ValueError(f"{name} has a NaN, infinite or negative probability at {what}")
    if positive and low == 0:
        raise ValueError(f"{name} is zero at {what}")


def check_drafted(draft_at_tokens: torch.Tensor, draft_tokens: torch.Tensor) -> None:
    """Raise `ValueError` unless every draft token has finite, positive draft probability.

    Args:
        draft_at_tokens: `[B, K]`, `draft_probs` gathered at `draft_tokens`.
        draft_tokens: `[B, K]` integer, named in the error.
    """
    if all_positive_finite(draft_at_tokens):
        return
    check_gathered(draft_at_tokens, "draft_probs", "a draft token")
    b, i = (draft_at_tokens <= 0).nonzero()[0].tolist()
    raise ValueError(
        f"draft_tokens[{b}, {i}] = {int(draft_tokens[b, i])} has zero draft probability in "
        f"draft_probs[{b}, {i}]: it cannot have been drafted"
    )


def all_positive_finite(values: torch.Tensor) -> bool:
    """Whether every entry is finite and > 0 (one reduction; NaN fails)."""
    if values.numel() == 0:
        return True
    low, high = (float(v) for v in torch.aminmax(values))
    return low > 0 and high < math.inf


CHUNK_BYTES = 2 << 20
"""Rows are gathered in chunks of about this many bytes: large temporaries cost page faults."""

BLOCK = 1024
"""Typical block size of the two-level inverse-CDF search (used when V >= 4 * `BLOCK`)."""


def inverse_cdf_rows(
    weights: torch.Tensor, u: torch.Tensor, block: int | None = None
) -> torch.Tensor:
    r"""The pinned inverse-CDF rule, row by row: the first $y$ with $u \cdot \sum w < \mathrm{cumsum}(w)[y]$.

    Args:
        weights: `[..., V]` non-negative weights with a positive, finite sum per row.
        u: `[...]` uniforms in $[0, 1)$.
        block: block size of the two-level search (see
            [`inverse_cdf_with_mass`][specproof.engine.kernels.inverse_cdf_with_mass]).

    Returns:
        `[...]` int64 token indices in $[0, V)$, never a zero-weight token. Rows are not checked
        here: a row without a positive, finite sum gets an arbitrary index (use
        [`inverse_cdf_with_mass`][specproof.engine.kernels.inverse_cdf_with_mass] to check).
    """
    return inverse_cdf_with_mass(weights, u, block)[0]


def inverse_cdf_with_mass(
    weights: torch.Tensor, u: torch.Tensor, block: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""[`inverse_cdf_rows`][specproof.engine.kernels.inverse_cdf_rows], also returning each row's sum $S$.

    A row whose $S$ is not finite and positive gets an arbitrary index (possibly outside
    $[0, V)$): callers check $S$.

    **One level** (`block >= V`): cumulative sums of the whole row, threshold $t = u \cdot S$
    with $S$ the last cumulative sum, binary search for the first cumulative sum $> t$. The
    index is always in range and never a zero-weight token: for a float $u < 1$
    round-to-nearest gives $\mathrm{fl}(u S) < S$, and a zero weight repeats the previous
    cumulative sum (the CPU cumulative sum of non-negative numbers is non-decreasing).

    **Two levels** (`block < V`; the default from $2^{17}$ weights with $V \ge 4 \cdot$ `BLOCK`,
    with a divisor of $V$ near `BLOCK` as the block size when there is one): the row is cut into
    blocks; $S$ is the sum of the block sums $s_b$, the block is the first with
    $t < \sum_{c \le b} s_c$, and inside it the token is the first $y$ with
    $t - \sum_{c < b} s_c < \mathrm{cumsum}(w_{\text{block}})[y]$. In exact arithmetic this is
    the same rule; it reads the row once for the block sums and only one block for a cumulative
    sum. Because a block's sum and its cumulative sum round differently, the threshold may pass
    the block's last cumulative sum; then the block's last token of positive weight is taken
    (the exact rule's answer up to that rounding; the block has positive mass since $t$ falls
    inside it).
    """
    vocab = weights.shape[-1]
    lead = weights.shape[:-1]
    rows = weights.reshape(-1, vocab)
    n = rows.shape[0]
    if block is None:
        # The two-level search costs a few dozen small operations more: worth it from ~1e5 weights.
        block = block_size(vocab) if vocab >= 4 * BLOCK and n * vocab >= 2**17 else vocab
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    if block >= vocab:
        cum = rows.cumsum(-1)
        mass = cum[:, -1]
        index = torch.searchsorted(cum, (u.reshape(-1) * mass).unsqueeze(-1), right=True)
        return index.reshape(lead), mass.reshape(lead)
    blocks = -(-vocab // block)
    if blocks * block != vocab:
        rows = torch.nn.functional.pad(rows, (0, blocks * block - vocab))
    blocked = rows.reshape(n, blocks, block)
    sums = torch.nn.functional.pad(blocked.sum(-1), (1, 0))
    prefix = sums.cumsum_(-1)  # prefix[:, b] = mass of the blocks before b
    mass = prefix[:, -1]
    threshold = u.reshape(-1) * mass
    # prefix[:, 0] = 0 <= threshold, so the first prefix above the threshold is at 1 or later.
    chosen = torch.searchsorted(prefix, threshold.unsqueeze(-1), right=True).sub_(1)
    chosen = chosen.clamp_(0, blocks - 1)  # only rows without usable mass need this
    before = prefix.gather(1, chosen).squeeze(1)
    within = blocked.gather(1, chosen.unsqueeze(-1).expand(n, 1, block)).squeeze(1)
    cum = within.cumsum(-1)
    offset = torch.searchsorted(cum, (threshold - before).unsqueeze(-1), right=True).squeeze(1)
    if bool((offset >= block).any()):
        last_positive = block - 1 - (within > 0).flip(-1).to(torch.int8).argmax(-1)
        offset = torch.minimum(offset, last_positive)
    index = chosen.squeeze(1) * block + offset
    return index.reshape(lead), mass.reshape(lead)


def block_size(vocab: int) -> int:
    """A divisor of `vocab` in [BLOCK / 2, 2 * BLOCK] nearest to `BLOCK`, else `BLOCK`."""
    divisors = [d for d in range(BLOCK // 2, 2 * BLOCK + 1) if vocab % d == 0]
    return min(divisors, key=lambda d: abs(d - BLOCK)) if divisors else BLOCK


def assemble(
    draft_tokens: torch.Tensor, n_accepted: torch.Tensor, last: torch.Tensor
) -> BatchVerdict:
    """Build the padded output: accepted drafts, then `last`, then `PLACEHOLDER_TOKEN`."""
    batch, k = draft_tokens.shape
    tokens = torch.full(
        (batch, k + 1), PLACEHOLDER_TOKEN, dtype=torch.int64, device=draft_tokens.device
    )
    if k > 0:
        positions = torch.arange(k, device=draft_tokens.device)
        kept = positions.unsqueeze(0) < n_accepted.unsqueeze(1)
        tokens[:, :k] = torch.where(kept, draft_tokens.to(torch.int64), PLACEHOLDER_TOKEN)
    tokens.scatter_(1, n_accepted.unsqueeze(1), last.to(torch.int64).unsqueeze(1))
    return BatchVerdict(tokens, n_accepted)


def leading_true(mask: torch.Tensor) -> torch.Tensor:
    """`[B]` int64: how many leading entries of each row of the `[B, K]` bool `mask` are True."""
    if mask.shape[1] == 0:
        return torch.zeros(mask.shape[0], dtype=torch.int64, device=mask.device)
    return mask.to(torch.int64).cumprod(1).sum(1)


def draw_uniforms(
    generator: torch.Generator,
    batch: int,
    k: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the uniforms one batch of rounds consumes: `(accept_u [B, K], final_u [B])`.

    Both come from one `torch.rand` call of `B * (K + 1)` values in $[0, 1)$, so a seeded
    generator gives the same uniforms for the same `(B, K, dtype, device)`.

    Raises:
        ValueError: if `batch` or `k` is negative or `dtype` is not float32/float64.
    """
    if batch < 0:
        raise ValueError(f"batch must be >= 0, got {batch}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    u = torch.rand((batch, k + 1), generator=generator, dtype=dtype, device=device)
    return u[:, :k].contiguous(), u[:, k].contiguous()
