"""A batched verify function from its rule: the shared signature and validation, written once.

Every batched verifier ([`verify_sd`][specproof.engine.sd.verify_sd],
[`verify_exact_match`][specproof.engine.exact_match.verify_exact_match],
[`verify_greedy`][specproof.engine.greedy.verify_greedy], ...) is called the same way:
`verify(target_probs, draft_probs, draft_tokens, accept_u, final_u, *, check_values=True)`,
reads its inputs without tracing gradients, and opens by validating them with
[`check_round`][specproof.engine.kernels.check_round]. An algorithm writes only its rule, a
function of the validated [`CheckedRound`][specproof.engine.rule.CheckedRound], and
[`round_verifier`][specproof.engine.rule.round_verifier] makes it the public verify function
(a [`RoundVerifier`][specproof.engine.rule.RoundVerifier] with the rule's name and docstring):

```python
@round_verifier()
def verify_mine(checked: CheckedRound) -> BatchVerdict:
    \"\"\"My rule (the docstring documents the public arguments).\"\"\"
```

The docs show such a function with the public signature (`docs/_hooks/griffe_verifiers.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .kernels import BatchVerdict, RoundShape, check_drafted, check_round


@dataclass(frozen=True)
class CheckedRound:
    """A validated batch of rounds, as a rule reads it.

    Attributes:
        target_probs: `[B, K+1, V]` float32/float64.
        draft_probs: `[B, K, V]`, same dtype and device.
        draft_tokens: `[B, K]` int64 (the caller's integer tokens, widened).
        draft_at_tokens: `[B, K]`, `draft_probs` gathered at `draft_tokens` ($q(x)$; checked
            finite and positive when the verifier reads the draft).
        accept_u: `[B, K]` uniforms in $[0, 1)$.
        final_u: `[B]` uniforms in $[0, 1)$.
        shape: the sizes `B`, `K`, `V`.
    """

    target_probs: torch.Tensor
    draft_probs: torch.Tensor
    draft_tokens: torch.Tensor
    draft_at_tokens: torch.Tensor
    accept_u: torch.Tensor
    final_u: torch.Tensor
    shape: RoundShape


Rule = Callable[[CheckedRound], BatchVerdict]


class RoundVerifier:
    """A batched verify function: one rule behind the shared signature and validation.

    It carries the rule's `__name__`, `__qualname__`, `__module__` and `__doc__`, so it reads
    as the function it replaces.

    Args:
        rule: the algorithm's rule, a function of the validated round.
        reads_draft: whether the rule reads the draft probabilities: then their values are
            validated and every draft token must have positive draft probability (it cannot
            have been drafted otherwise). Greedy does not; the shapes are checked regardless.
    """

    def __init__(self, rule: Rule, *, reads_draft: bool = True) -> None:
        self.rule = rule
        self.reads_draft = reads_draft
        self.__name__ = rule.__name__
        self.__qualname__ = rule.__qualname__
        self.__module__ = rule.__module__
        self.__doc__ = rule.__doc__

    def __repr__(self) -> str:
        return f"<verify function {self.__module__}.{self.__qualname__}>"

    def __reduce__(self) -> str:
        # Pickled by reference, as a function is: the module attribute of this name.
        return self.__qualname__

    @torch.no_grad()  # a sampling decision: inputs that require grad are read, never traced
    def __call__(
        self,
        target_probs: torch.Tensor,
        draft_probs: torch.Tensor,
        draft_tokens: torch.Tensor,
        accept_u: torch.Tensor,
        final_u: torch.Tensor,
        *,
        check_values: bool = True,
    ) -> BatchVerdict:
        """Validate a batch of rounds, then apply the rule.

        Args:
            target_probs: `[B, K+1, V]` float32/float64.
            draft_probs: `[B, K, V]`, the distributions the drafts were drawn from.
            draft_tokens: `[B, K]` integer, each with positive draft probability when the rule
                reads the draft.
            accept_u: `[B, K]` uniforms in $[0, 1)$.
            final_u: `[B]` uniforms in $[0, 1)$.
            check_values: check every probability for NaN/inf/negatives and every row for a
                sum of 1 first.

        Returns:
            The [`BatchVerdict`][specproof.engine.kernels.BatchVerdict].

        Raises:
            ValueError: on invalid inputs, naming the argument.
        """
        shape = check_round(
            target_probs,
            draft_probs,
            draft_tokens,
            accept_u,
            final_u,
            check_values=check_values,
            check_draft_values=self.reads_draft,
        )
        tokens = draft_tokens.to(torch.int64)
        draft_at_tokens = draft_probs.gather(2, tokens.unsqueeze(-1)).squeeze(2)
        if self.reads_draft:
            check_drafted(draft_at_tokens, tokens)
        return self.rule(
            CheckedRound(
                target_probs, draft_probs, tokens, draft_at_tokens, accept_u, final_u, shape
            )
        )


def round_verifier(*, reads_draft: bool = True) -> Callable[[Rule], RoundVerifier]:
    """Decorator: the public verify function of a rule (see the module).

    Args:
        reads_draft: whether the rule reads the draft probabilities (see
            [`RoundVerifier`][specproof.engine.rule.RoundVerifier]).

    Returns:
        A decorator turning a rule into its [`RoundVerifier`][specproof.engine.rule.RoundVerifier].
    """

    def wrap(rule: Rule) -> RoundVerifier:
        return RoundVerifier(rule, reads_draft=reads_draft)

    return wrap


__all__ = ["CheckedRound", "RoundVerifier", "Rule", "round_verifier"]
