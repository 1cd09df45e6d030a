"""Adapters that let the engine stand where a reference verifier stands.

[`EngineVerifier`][specproof.engine.adapters.EngineVerifier] has the reference verifiers'
`verify(target_rows, draft_rows, draft_tokens, draws) -> Verdict` method, but computes the
verdict with the batched torch kernels (batch size 1) in float32 or float64. The conformance
tests run one test body over the reference and over this adapter, draw by draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import torch

from specproof.reference.dist import Dist, Token
from specproof.reference.verifier import BaseVerifier, Draws, RoundInputs, Verdict

from .verify import FLOAT_DTYPES, BatchVerdict, engine_verifier, verify_batch


def rows_to_tensor(
    rows: Sequence[Dist], vocab: int, dtype: torch.dtype, device: torch.device | str, what: str
) -> torch.Tensor:
    """Stack exact rows over tokens `0..vocab-1` into a `[len(rows), vocab]` tensor.

    Each `Fraction` is rounded to the nearest float64, then to `dtype`.

    Raises:
        ValueError: naming `what` if a row is not a `Dist` over exactly `0, 1, ..., vocab-1`.
    """
    expected = tuple(range(vocab))
    for i, row in enumerate(rows):
        if not isinstance(row, Dist) or row.tokens != expected:
            raise ValueError(
                f"{what}[{i}] must be a Dist over the tokens 0..{vocab - 1} in order, got {row!r}"
            )
    values = [[float(p) for p in row.probs] for row in rows]
    return (
        torch.tensor(values, dtype=torch.float64, device=device).reshape(len(rows), vocab).to(dtype)
    )


def uniforms_to_tensor(
    values: Sequence[Fraction], dtype: torch.dtype, device: torch.device | str
) -> torch.Tensor:
    """Exact uniforms as a 1-D tensor (rounded to the nearest float64, then to `dtype`)."""
    return torch.tensor([float(u) for u in values], dtype=torch.float64, device=device).to(dtype)


class EngineVerifier(BaseVerifier):
    """The engine's batched kernels behind the reference's `verify` interface.

    `verify` (with the reference's length checks) is
    [`BaseVerifier.verify`][specproof.reference.verifier.BaseVerifier.verify]; the rule is the
    registered algorithm's engine verify function.

    Args:
        algorithm: a registered algorithm with an engine form (e.g. `"sd"`).
        dtype: `torch.float32` or `torch.float64`.
        device: where the tensors live.

    Raises:
        ValueError: on an unknown algorithm or dtype.

    Examples:
        >>> from fractions import Fraction as F
        >>> import torch
        >>> from specproof.reference import STANDARD_SD, Dist, Draws
        >>> p0, p1 = Dist({0: F(1, 4), 1: F(3, 4)}), Dist({0: F(1, 2), 1: F(1, 2)})
        >>> q0 = Dist({0: F(1, 2), 1: F(1, 2)})
        >>> draws = Draws((F(1, 2),), F(0))  # u * q(0) = p(0): the strict rule rejects
        >>> engine = EngineVerifier("sd", torch.float64)
        >>> engine.verify([p0, p1], [q0], [0], draws) == STANDARD_SD.verify([p0, p1], [q0], [0], draws)
        True
    """

    def __init__(
        self, algorithm: str, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
    ) -> None:
        engine_verifier(algorithm)  # ValueError naming `algorithm` for an unknown name
        if dtype not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.algorithm = algorithm
        self.name = f"engine_{algorithm}_{str(dtype).removeprefix('torch.')}"
        self.dtype = dtype
        self.device = device

    def __repr__(self) -> str:
        return f"EngineVerifier({self.algorithm!r}, {self.dtype}, {self.device!r})"

    def tensors(
        self,
        target_rows: Sequence[Dist],
        draft_rows: Sequence[Dist],
        draft_tokens: Sequence[Token],
        draws: Draws,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One round as batch-of-one tensors `(target_probs, draft_probs, draft_tokens, accept_u, final_u)`.

        Raises:
            ValueError: if the rows are not over `0..V-1` or the lengths do not fit together.
        """
        if len(target_rows) < 1:
            raise ValueError("target_rows must hold K+1 >= 1 rows")
        vocab = len(target_rows[0])
        k = len(draft_tokens)
        if len(draft_rows) != k:
            raise ValueError(f"draft_rows must have length K={k}, got {len(draft_rows)}")
        if len(draws.accept_u) != k:
            raise ValueError(f"draws.accept_u must have length K={k}, got {len(draws.accept_u)}")
        for i, token in enumerate(draft_tokens):
            if isinstance(token, bool) or not isinstance(token, int):
                raise ValueError(f"draft_tokens[{i}] must be an int token, got {token!r}")
        target = rows_to_tensor(target_rows, vocab, self.dtype, self.device, "target_rows")
        draft = rows_to_tensor(draft_rows, vocab, self.dtype, self.device, "draft_rows")
        return (
            target.unsqueeze(0),
            draft.reshape(1, k, vocab),
            torch.tensor([list(draft_tokens)], dtype=torch.int64, device=self.device).reshape(1, k),
            uniforms_to_tensor(draws.accept_u, self.dtype, self.device).reshape(1, k),
            uniforms_to_tensor([draws.final_u], self.dtype, self.device),
        )

    def verdict(self, inputs: RoundInputs) -> Verdict:
        """Verify one round with the engine's batched kernel (batch size 1).

        Args:
            inputs: the round, as `verify` received it.

        Raises:
            ValueError: on invalid inputs (naming the argument).
        """
        tensors = self.tensors(
            inputs.target_rows, inputs.draft_rows, inputs.draft_tokens, inputs.draws
        )
        return to_verdict(verify_batch(self.algorithm, *tensors), 0, inputs.k)


def to_verdict(verdict: BatchVerdict, b: int, k: int) -> Verdict:
    """Row `b` of a batch verdict as a reference `Verdict` (`k` is the round's $K$)."""
    n = int(verdict.n_accepted[b])
    return Verdict(tuple(verdict.row(b)), n, "bonus" if n == k else "recovered")
