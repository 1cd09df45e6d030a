"""The verify-function wrapper: public signature, validation before the rule, pickling."""

from __future__ import annotations

import inspect
import pickle

import pytest

torch = pytest.importorskip("torch")

from specproof.engine.exact_match import verify_exact_match  # noqa: E402
from specproof.engine.greedy import verify_greedy  # noqa: E402
from specproof.engine.rule import CheckedRound, RoundVerifier, round_verifier  # noqa: E402
from specproof.engine.sd import verify_sd, verify_sd_rowwise  # noqa: E402

VERIFIERS = [verify_sd, verify_sd_rowwise, verify_exact_match, verify_greedy]
F64 = torch.float64


def one_round(draft_row=(0.5, 0.5), token=0):
    """One round, K = 1, V = 2: uniform target rows, the given draft row and draft token."""
    return (
        torch.full((1, 2, 2), 0.5, dtype=F64),
        torch.tensor([[draft_row]], dtype=F64),
        torch.tensor([[token]]),
        torch.tensor([[0.25]], dtype=F64),
        torch.tensor([0.75], dtype=F64),
    )


@pytest.mark.parametrize("verify", VERIFIERS, ids=lambda v: v.__name__)
def test_verify_functions_keep_the_public_signature_and_pickle_by_reference(verify):
    assert isinstance(verify, RoundVerifier)
    parameters = inspect.signature(verify).parameters
    assert list(parameters) == [
        "target_probs",
        "draft_probs",
        "draft_tokens",
        "accept_u",
        "final_u",
        "check_values",
    ]
    assert parameters["check_values"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["check_values"].default is True
    assert pickle.loads(pickle.dumps(verify)) is verify
    assert verify.__doc__ and verify.__name__ in repr(verify)


def test_the_rule_sees_a_validated_round_and_no_gradient():
    seen: list[CheckedRound] = []

    @round_verifier()
    def record(checked: CheckedRound):
        seen.append(checked)
        return verify_sd.rule(checked)

    target, draft, tokens, accept_u, final_u = one_round(draft_row=(0.25, 0.75), token=1)
    target.requires_grad_(True)
    verdict = record(target, draft, tokens.to(torch.int32), accept_u, final_u)
    (checked,) = seen
    assert checked.draft_tokens.dtype == torch.int64
    assert checked.draft_at_tokens.tolist() == [[0.75]]
    assert (checked.shape.batch, checked.shape.k, checked.shape.vocab) == (1, 1, 2)
    assert not verdict.tokens.requires_grad
    with pytest.raises(ValueError, match="final_u"):
        record(target, draft, tokens, accept_u, final_u + 1)
    assert len(seen) == 1  # the rule never ran on invalid input


@pytest.mark.parametrize("verify", [verify_sd, verify_sd_rowwise, verify_exact_match])
def test_a_draft_token_with_zero_draft_probability_is_refused(verify):
    with pytest.raises(ValueError, match=r"draft_tokens\[0, 0\] = 1 has zero draft probability"):
        verify(*one_round(draft_row=(1.0, 0.0), token=1))


def test_greedy_does_not_read_the_draft():
    # Greedy ignores the draft row: a token its draft row gives zero is still verified.
    verdict = verify_greedy(*one_round(draft_row=(1.0, 0.0), token=1))
    assert verdict.row(0) == [0]  # the target's argmax (lowest index on ties) rejects token 1
