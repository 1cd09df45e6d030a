"""Deliberately broken engine verifiers: the negative controls of the conformance harness.

Each computes a verdict from the same tensors as `EngineVerifier` but with one rule wrong.
`gross` says whether the bug changes decisions away from boundaries (then even the float32
tolerance must not hide it) or only at exact ties (caught by the exact float64 comparison).
"""

from __future__ import annotations

import torch

from specproof.engine.adapters import EngineVerifier
from specproof.engine.verify import inverse_cdf_rows
from specproof.reference import Verdict


class BrokenEngine(EngineVerifier):
    """A single-round engine verifier whose rule is given by `decide`/`last`."""

    gross = True

    def __init__(self, algorithm: str, name: str) -> None:
        super().__init__(algorithm, torch.float64)
        self.name = name

    def accepts(self, p, q, x, u):
        """Whether the draft `x` is accepted at a position (rows `p`, `q`, uniform `u`)."""
        return bool(u * q[x] < p[x])

    def recovered(self, p, q, final_u):
        """The token output after a rejection."""
        return int(inverse_cdf_rows((p - q).clamp(min=0), final_u))

    def bonus(self, p, final_u):
        """The token drawn after all drafts are accepted."""
        return int(inverse_cdf_rows(p, final_u))

    def verify(self, target_rows, draft_rows, draft_tokens, draws):
        target, draft, tokens, accept_u, final_u = self.tensors(
            target_rows, draft_rows, draft_tokens, draws
        )
        out = []
        for i, x in enumerate(tokens[0].tolist()):
            if not self.accepts(target[0, i], draft[0, i], x, accept_u[0, i]):
                out.append(self.recovered(target[0, i], draft[0, i], final_u[0]))
                return Verdict(tuple(out), i, "recovered")
            out.append(x)
        k = len(out)
        return Verdict((*out, self.bonus(target[0, k], final_u[0])), k, "bonus")


class AcceptOnEquality(BrokenEngine):
    """Bug: accept iff u * q(x) <= p(x) (non-strict): differs only at exact ties."""

    gross = False

    def accepts(self, p, q, x, u):
        return bool(u * q[x] <= p[x])


class RecoverFromTarget(BrokenEngine):
    """Bug: after a rejection, draw from the target row instead of the residual."""

    def recovered(self, p, q, final_u):
        return int(inverse_cdf_rows(p, final_u))


class GreedyHighestIndexOnTies(BrokenEngine):
    """Bug: greedy argmax that lets the highest index win ties."""

    @staticmethod
    def argmax(row):
        return int(row.shape[0] - 1 - int(row.flip(0).argmax()))

    def accepts(self, p, q, x, u):
        return x == self.argmax(p)

    def recovered(self, p, q, final_u):
        return self.argmax(p)

    def bonus(self, p, final_u):
        return self.argmax(p)


class ExactMatchSamplesWithFinalU(BrokenEngine):
    """Bug: exact-match draws the target's own sample with final_u instead of accept_u[i]."""

    def accepts(self, p, q, x, u):
        self._sample = None
        return True

    def verify(self, target_rows, draft_rows, draft_tokens, draws):
        target, _, tokens, _, final_u = self.tensors(target_rows, draft_rows, draft_tokens, draws)
        out = []
        for i, x in enumerate(tokens[0].tolist()):
            y = int(inverse_cdf_rows(target[0, i], final_u[0]))
            if y != x:
                return Verdict((*out, y), i, "recovered")
            out.append(x)
        k = len(out)
        return Verdict((*out, self.bonus(target[0, k], final_u[0])), k, "bonus")


BROKEN_ENGINES = [
    AcceptOnEquality("sd", "sd_accept_on_equality"),
    RecoverFromTarget("sd", "sd_recover_from_target"),
    GreedyHighestIndexOnTies("greedy", "greedy_highest_index_on_ties"),
    ExactMatchSamplesWithFinalU("exact_match", "exact_match_samples_with_final_u"),
]
