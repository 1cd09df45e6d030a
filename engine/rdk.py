r"""RDK in torch: batched proposals $q' M$, two-stage drafting and verification (arXiv 2506.03206).

Mirrors `specproof.reference.rdk` rule for rule. Shapes: the drafter's TLI rows `source`
`[..., V]` (zero off the pruned vocabulary; see [`PrunedHead`][specproof.engine.pruned.PrunedHead]),
a kernel over the target vocabulary of size $V$, uniforms `[...]`.

Three kernel forms, one interface (`propose`, `draw_row`; for a drafter that computes $q'$ only
on its vocabulary $D$, `propose_kept` from the $|D|$ values and `rows`, the materialised rows
$M[x, \cdot]$ that the generation loop's sampler draws the second stage from; `to` casts):

- [`RankOneKernel`][specproof.engine.rdk.RankOneKernel]: $M_\lambda = (1-\lambda)\mathrm{Id} +
  \lambda \mathbf{1} r^\top$; proposal $(1-\lambda) q' + \lambda r$ in $O(V)$; a row draw by two
  binary searches in the prior's cumulative sums, $O(\log V)$.
- [`SparseKernel`][specproof.engine.rdk.SparseKernel]: $k$ neighbours per row (`indices [V, k]`,
  ascending per row, `weights [V, k]`); proposal by scatter-add in $O(V k)$; a row draw reads $k$
  weights.
- [`DenseKernel`][specproof.engine.rdk.DenseKernel]: `matrix [V, V]`; proposal $q' M$ in
  $O(V^2)$ (the baseline the first-order form avoids).

**Pinned rule** (the reference's): source $x$ = inverse CDF of $q'$ at `first_u`, draft
$y$ = inverse CDF of $M[x, \cdot]$ at `second_u` (first $y$ with $u \sum w < \mathrm{cumsum}(w)[y]$,
in vocabulary order; the sparse form keeps each row's indices ascending so its walk is the same).
Verification is standard SD ([`verify_sd`][specproof.engine.sd.verify_sd]) with the proposal rows
as the draft rows. Floating point: the rank-one draw compares $u S$ with
$\lambda\,\mathrm{cumsum}(r) + (1-\lambda)[y \ge x]$ instead of the cumulative sums of the materialised row; the two agree in
exact arithmetic (and on dyadic inputs, which the differential tests use) and differ only by
rounding otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .kernels import check_distributions, check_probs, check_uniforms, inverse_cdf_rows
from .sd import verify_sd


@dataclass(frozen=True)
class RankOneKernel:
    r"""$M_\lambda = (1-\lambda)\,\mathrm{Id} + \lambda\,\mathbf{1} r^\top$, never materialised.

    Attributes:
        prior: `[V]` the distribution $r$ (float32/float64, sums to 1).
        mix: $\lambda \in [0, 1]$.
    """

    prior: torch.Tensor
    mix: float

    def __post_init__(self) -> None:
        if self.prior.dim() != 1:
            raise ValueError(f"prior must be [V], got shape {tuple(self.prior.shape)}")
        check_distributions(self.prior, "prior", 1e-4)
        if not 0 <= self.mix <= 1:
            raise ValueError(f"mix must lie in [0, 1], got {self.mix}")
        object.__setattr__(self, "_scaled_cum", self.mix * self.prior.cumsum(0))
        object.__setattr__(self, "_scaled_prior", self.mix * self.prior)

    @property
    def vocab_size(self) -> int:
        """$V$."""
        return int(self.prior.shape[0])

    def propose(self, source: torch.Tensor) -> torch.Tensor:
        r"""$(1-\lambda) q' + \lambda r$ for `source` `[..., V]`, in $O(V)$ per row."""
        return torch.add(source * (1 - self.mix), self.prior, alpha=self.mix)

    def draw_row(self, rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        r"""Inverse CDF of $M_\lambda[x, \cdot]$ at `u` for source tokens `rows` (any shape).

        $\mathrm{cumsum}(M_\lambda[x])[y] = \lambda C_r[y] + (1-\lambda)[y \ge x]$: the first $y < x$
        with $\lambda C_r[y] > uS$, else the first $y \ge x$ with $\lambda C_r[y] > uS - (1-\lambda)$.
        """
        cum: torch.Tensor = self._scaled_cum  # type: ignore[attr-defined]
        total = cum[-1] + (1 - self.mix)
        threshold = (u.to(cum.dtype) * total).reshape(-1)
        flat = rows.reshape(-1)
        before = torch.searchsorted(cum, threshold, right=True)
        after = torch.maximum(torch.searchsorted(cum, threshold - (1 - self.mix), right=True), flat)
        return torch.where(before < flat, before, after).reshape(rows.shape)

    def propose_kept(self, values: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        r"""The proposal from $q'$ given only on its support: `values` `[n, |D|]` at ids `kept`.

        $\lambda r$ plus $(1-\lambda)$ `values` added at `kept`: one pass over $V$ and one over
        $|D|$, never a padded $q'$ (equal to `propose` of the zero-padded rows).
        """
        scaled: torch.Tensor = self._scaled_prior  # type: ignore[attr-defined]
        out = scaled.to(values.dtype).expand(values.shape[0], -1).clone()
        # scatter_add_ along the last dimension: index_add_ along dim 1 takes a slow path on CPU
        # (~400x slower at V = 262,144, bench/results/rdk_speed.json).
        index = kept.unsqueeze(0).expand(values.shape[0], -1)
        return out.scatter_add_(1, index, values * (1 - self.mix))

    def rows(self, sources: torch.Tensor) -> torch.Tensor:
        r"""`[n, V]` the rows $M_\lambda[x, \cdot] = \lambda r + (1-\lambda) e_x$ for `sources` `[n]`."""
        scaled: torch.Tensor = self._scaled_prior  # type: ignore[attr-defined]
        out = scaled.expand(sources.shape[0], -1).clone()
        out[torch.arange(sources.shape[0], device=out.device), sources] += 1 - self.mix
        return out

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> RankOneKernel:
        """The same kernel with its prior in `dtype` on `device`."""
        return RankOneKernel(self.prior.to(dtype=dtype, device=device), self.mix)


@dataclass(frozen=True)
class KeptSparseRows:
    """A sparse kernel's rows for a fixed kept set $D$, gathered once ([`SparseKernel.restricted`][specproof.engine.rdk.SparseKernel.restricted]).

    Attributes:
        indices: `[1, |D| k]` the target tokens of the kept rows, row after row.
        weights: `[|D|, k]` their weights.
        vocab_size: $V$.
    """

    indices: torch.Tensor
    weights: torch.Tensor
    vocab_size: int

    def propose(self, values: torch.Tensor) -> torch.Tensor:
        r"""$q' M$ from $q'$ given on $D$ (`values` `[n, |D|]`): one scatter-add, $O(V + |D| k)$."""
        n = values.shape[0]
        out = values.new_zeros(n, self.vocab_size)
        contributions = (values.unsqueeze(-1) * self.weights.to(values.dtype)).reshape(n, -1)
        return out.scatter_add_(1, self.indices.expand(n, -1), contributions)


@dataclass(frozen=True)
class SparseKernel:
    """A kernel with $k$ entries per row.

    Attributes:
        indices: `[V, k]` int64 target tokens, strictly ascending within each row.
        weights: `[V, k]` non-negative, each row summing to 1.
    """

    indices: torch.Tensor
    weights: torch.Tensor

    def __post_init__(self) -> None:
        if self.indices.dim() != 2 or self.indices.shape != self.weights.shape:
            raise ValueError(
                f"indices and weights must both be [V, k], got {tuple(self.indices.shape)} and "
                f"{tuple(self.weights.shape)}"
            )
        vocab = self.indices.shape[0]
        if self.indices.numel() and (
            int(self.indices.min()) < 0 or int(self.indices.max()) >= vocab
        ):
            raise ValueError(f"indices must lie in [0, {vocab})")
        if self.indices.shape[1] > 1 and not bool((self.indices.diff(dim=1) > 0).all()):
            raise ValueError("indices must be strictly ascending within each row")
        check_distributions(self.weights, "weights", 1e-4)

    @property
    def vocab_size(self) -> int:
        """$V$."""
        return int(self.indices.shape[0])

    def propose(self, source: torch.Tensor) -> torch.Tensor:
        r"""$q' M$ by scatter-add, $O(V k)$ per row."""
        lead, vocab = source.shape[:-1], source.shape[-1]
        flat = source.reshape(-1, vocab)
        out = torch.zeros_like(flat)
        contributions = (flat.unsqueeze(-1) * self.weights.to(flat.dtype)).reshape(
            flat.shape[0], -1
        )
        index = self.indices.reshape(1, -1).expand(flat.shape[0], -1)
        out.scatter_add_(1, index, contributions)
        return out.reshape(*lead, vocab)

    def draw_row(self, rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Inverse CDF of the $k$ weights of row `rows` at `u`, mapped to their tokens."""
        flat = rows.reshape(-1)
        position = inverse_cdf_rows(self.weights[flat], u.reshape(-1).to(self.weights.dtype))
        return self.indices[flat, position].reshape(rows.shape)

    def propose_kept(self, values: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        r"""The proposal from $q'$ given on its support (`values` `[n, |D|]` at ids `kept`).

        Only the rows of `kept` are read: $O(V + |D| k)$ per row instead of $O(V k)$.
        """
        return self.restricted(kept).propose(values)

    def restricted(self, kept: torch.Tensor) -> KeptSparseRows:
        """The rows of `kept` only, gathered once: for a drafter whose kept set is fixed."""
        return KeptSparseRows(
            self.indices[kept].reshape(1, -1), self.weights[kept], self.vocab_size
        )

    def rows(self, sources: torch.Tensor) -> torch.Tensor:
        """`[n, V]` the kernel rows of `sources` `[n]`, materialised."""
        out = self.weights.new_zeros(sources.shape[0], self.vocab_size)
        return out.scatter_(1, self.indices[sources], self.weights[sources])

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> SparseKernel:
        """The same kernel with its weights in `dtype` on `device`."""
        return SparseKernel(
            self.indices.to(device=device), self.weights.to(dtype=dtype, device=device)
        )


@dataclass(frozen=True)
class DenseKernel:
    """A dense `[V, V]` row-stochastic matrix.

    Attributes:
        matrix: `[V, V]`, rows summing to 1.
    """

    matrix: torch.Tensor

    def __post_init__(self) -> None:
        if self.matrix.dim() != 2 or self.matrix.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"matrix must be [V, V], got {tuple(self.matrix.shape)}")
        check_distributions(self.matrix, "matrix", 1e-4)

    @property
    def vocab_size(self) -> int:
        """$V$."""
        return int(self.matrix.shape[0])

    def propose(self, source: torch.Tensor) -> torch.Tensor:
        """$q' M$, $O(V^2)$ per row."""
        return source @ self.matrix.to(source.dtype)

    def draw_row(self, rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Inverse CDF of `matrix[rows]` at `u`."""
        flat = rows.reshape(-1)
        return inverse_cdf_rows(self.matrix[flat], u.reshape(-1).to(self.matrix.dtype)).reshape(
            rows.shape
        )

    def propose_kept(self, values: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        r"""The proposal from $q'$ given on its support: `values @ matrix[kept]`, $O(|D| V)$."""
        return values @ self.matrix[kept].to(values.dtype)

    def rows(self, sources: torch.Tensor) -> torch.Tensor:
        """`[n, V]` the kernel rows of `sources` `[n]`."""
        return self.matrix[sources]

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> DenseKernel:
        """The same kernel in `dtype` on `device`."""
        return DenseKernel(self.matrix.to(dtype=dtype, device=device))


Kernel = RankOneKernel | SparseKernel | DenseKernel


def draft_rdk(
    source: torch.Tensor, kernel: Kernel, first_u: torch.Tensor, second_u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pinned two-stage draw, batched: `(source tokens, draft tokens)`, each `[...]`.

    Args:
        source: `[..., V]` TLI rows $q'$ (non-negative, positive sum).
        kernel: the kernel over the same $V$.
        first_u: `[...]` uniforms in $[0, 1)$ for the source token.
        second_u: `[...]` uniforms in $[0, 1)$ for the kernel row.

    Raises:
        ValueError: on mismatched shapes, uniforms outside $[0, 1)$ or a bad `source`.
    """
    if source.shape[-1] != kernel.vocab_size:
        raise ValueError(
            f"source has V={source.shape[-1]} but the kernel has V={kernel.vocab_size}"
        )
    for name, u in (("first_u", first_u), ("second_u", second_u)):
        if u.shape != source.shape[:-1]:
            raise ValueError(
                f"{name} must have shape {tuple(source.shape[:-1])}, got {tuple(u.shape)}"
            )
        check_uniforms(u, name)
    check_probs(source, "source")
    sources = inverse_cdf_rows(source, first_u.to(source.dtype))
    return sources, kernel.draw_row(sources, second_u)


verify_rdk = verify_sd
"""RDK verification is [`verify_sd`][specproof.engine.sd.verify_sd] with the RDK proposal rows.

Its `draft_probs` are the **proposals** $q' M$ (`kernel.propose(source)`), not the drafter's
own rows: verifying against $q'$ would be wrong (and refuses drafts that $q'$ cannot produce);
its `draft_tokens` come from [`draft_rdk`][specproof.engine.rdk.draft_rdk].
"""


def mixture_acceptance(
    target: torch.Tensor, source: torch.Tensor, prior: torch.Tensor, mix: torch.Tensor | float
) -> torch.Tensor:
    r"""$\alpha(\lambda) = \sum_t \min(p, (1-\lambda) q' + \lambda r)$ for rows `[..., V]`."""
    return torch.minimum(target, torch.lerp(source, prior.expand_as(source), mix)).sum(-1)


def optimal_mix(
    target: torch.Tensor, source: torch.Tensor, prior: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The oracle $(\lambda^*, \alpha(\lambda^*))$ per row (reads $p$: a bound, not a rule).

    $\alpha$ is concave and piecewise linear; its kinks $\lambda_t = (p - q')/(r - q')$ in
    $(0, 1)$ are sorted and $\alpha$ is evaluated at each of them and at the ends, the maximum
    taken (ties: the smallest $\lambda$), as the reference's `optimal_mix` does. $O(V \log V)$
    per row.

    Args:
        target: `[N, V]`.
        source: `[N, V]`.
        prior: `[V]`.
    """
    gap = prior.expand_as(source) - source
    kinks = torch.where(gap != 0, (target - source) / gap, torch.full_like(gap, -1.0))
    kinks = torch.where((kinks > 0) & (kinks < 1), kinks, torch.zeros_like(kinks))
    # Slope just right of lambda: sum of b over tokens still below p (b > 0) or already below
    # (b < 0). Each kink changes the slope by -|b|: a token's term turns flat (b > 0) or starts
    # falling (b < 0). So alpha(lambda_j) = alpha(0) + integral of the slope, computed exactly
    # from sorted kinks and cumulative slope changes.
    below = source < target
    equal = source == target
    slope0 = torch.where(below, gap, torch.where(equal, gap.clamp(max=0), torch.zeros_like(gap)))
    slope0 = slope0.sum(-1)
    has_kink = kinks > 0
    change = torch.where(has_kink, -gap.abs(), torch.zeros_like(gap))
    order = kinks.argsort(-1)
    sorted_kinks = kinks.gather(-1, order)
    sorted_change = change.gather(-1, order)
    lengths = sorted_kinks.diff(dim=-1, prepend=torch.zeros_like(sorted_kinks[..., :1]))
    slopes = slope0.unsqueeze(-1) + sorted_change.cumsum(-1) - sorted_change
    alpha0 = torch.minimum(target, source).sum(-1)
    values = alpha0.unsqueeze(-1) + (slopes * lengths).cumsum(-1)
    end_slope = slope0 + sorted_change.sum(-1)
    alpha1 = values[..., -1] + end_slope * (1 - sorted_kinks[..., -1])
    candidates = torch.cat([alpha0.unsqueeze(-1), values, alpha1.unsqueeze(-1)], -1)
    lambdas = torch.cat(
        [
            torch.zeros_like(alpha0).unsqueeze(-1),
            sorted_kinks,
            torch.ones_like(alpha0).unsqueeze(-1),
        ],
        -1,
    )
    best = candidates.argmax(-1, keepdim=True)
    return lambdas.gather(-1, best).squeeze(-1), candidates.gather(-1, best).squeeze(-1)


__all__ = [
    "DenseKernel",
    "Kernel",
    "KeptSparseRows",
    "RankOneKernel",
    "SparseKernel",
    "draft_rdk",
    "mixture_acceptance",
    "optimal_mix",
    "verify_rdk",
]
