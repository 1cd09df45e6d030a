"""SLEM and SLRS in the engine, against the reference with the same uniforms.

The target's and the drafter's tokenizers are in-memory Hugging Face tokenizers (WordPiece
with no pre-tokenizer and an empty continuation prefix: greedy longest match, as
`ToyTokenizer`), the models toy LMs read as tensors; rows are multiples of 1/8, so float64 is
exact and the engine must agree with the reference draw for draw.
"""

from __future__ import annotations

import itertools
from fractions import Fraction as F

import pytest

torch = pytest.importorskip("torch")

from specproof.engine.slem import LookbehindRetokenizer, verify_slem  # noqa: E402
from specproof.engine.slrs import (  # noqa: E402
    count_segmentations,
    enumerate_segmentations,
    psi_from_drafter,
)
from specproof.reference import ToyLM  # noqa: E402
from specproof.reference.heterogeneous import read_as_drafter  # noqa: E402
from specproof.reference.slrs import psi, segmentation_count  # noqa: E402
from specproof.reference.string_level import LookbehindSlemRound  # noqa: E402
from specproof.reference.tokenizers import ToyTokenizer  # noqa: E402

torch.set_num_threads(1)


def hf_tokenizer(tokens):
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([*tokens, "[UNK]"])}
    backend = Tokenizer(
        models.WordPiece(
            vocab, unk_token="[UNK]", continuing_subword_prefix="", max_input_chars_per_word=1000
        )
    )
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def lm(vocab, order, rows):
    table = {}
    for length in range(order + 1):
        for context in itertools.product(vocab, repeat=length):
            weights = rows(context)
            table[context] = {t: F(w, 8) for t, w in zip(vocab, weights, strict=True)}
    return ToyLM(vocab, order, table)


TARGET = ToyTokenizer(["a", "b", "ab", "ba", "aba"])
DRAFTER = ToyTokenizer(["a", "b", "ab", "bb"])
TARGET_LM = lm(TARGET.tokens, 1, lambda c: [1, 2, 3, 1, 1] if c else [2, 2, 1, 1, 2])
DRAFTER_LM = lm(DRAFTER.tokens, 1, lambda c: [3, 1, 2, 2] if c == ("a",) else [2, 2, 2, 2])


def engine_round(context, drafter_u, target_u, mode, lookbehind):
    """Draft with the toy drafter's rows as tensors, re-tokenise with HF, verify with the engine."""
    target_hf, drafter_hf = hf_tokenizer(TARGET.tokens), hf_tokenizer(DRAFTER.tokens)
    drafter_ids = [DRAFTER.tokens.index(t) for t in read_as_drafter(context, DRAFTER)]
    drafts: list[int] = []
    for u in drafter_u:
        row = DRAFTER_LM.next_dist(tuple(DRAFTER.tokens[i] for i in drafter_ids + drafts))
        probs = torch.tensor([float(p) for p in row.probs], dtype=torch.float64)
        if mode == "greedy":
            drafts.append(int(probs.argmax()))
        else:
            cum = probs.cumsum(0)
            drafts.append(int((cum <= float(u) * cum[-1]).sum()))
    text = drafter_hf.decode(drafts, clean_up_tokenization_spaces=False)
    committed = [TARGET.tokens.index(t) for t in context]
    proposal = LookbehindRetokenizer(target_hf, lookbehind).propose(committed, text)
    rows = []
    for i in range(len(proposal) + 1):
        seq = tuple(TARGET.tokens[j] for j in committed + proposal[:i])
        rows.append([float(p) for p in TARGET_LM.next_dist(seq).probs])
    target_probs = torch.tensor([rows], dtype=torch.float64)
    u = torch.tensor([[float(v) for v in target_u[: len(proposal) + 1]]], dtype=torch.float64)
    verdict = verify_slem(target_probs, [proposal], u, mode)
    return tuple(TARGET.tokens[i] for i in verdict.row(0))


@pytest.mark.parametrize("mode", ["sample", "greedy"])
@pytest.mark.parametrize("lookbehind", [0, 3])
def test_engine_slem_matches_the_reference_draw_for_draw(mode, lookbehind):
    kernel = LookbehindSlemRound(
        TARGET_LM, DRAFTER_LM, TARGET, DRAFTER, 2, mode=mode, lookbehind=lookbehind
    )
    grid = [F(i, 8) for i in range(0, 8, 3)]
    for context in [(), ("ab",), ("a", "ba")]:
        for drafter_u in itertools.product(grid, repeat=2):
            for target_u in itertools.product(grid, repeat=2):
                target_u = (*target_u, F(5, 8), F(1, 8), F(7, 8), F(0))
                expected = kernel.run_round(context, drafter_u, target_u)
                assert engine_round(context, drafter_u, target_u, mode, lookbehind) == expected


def test_lookbehind_retokenizer_keeps_committed_ids():
    hf = hf_tokenizer(TARGET.tokens)
    retok = LookbehindRetokenizer(hf, 2)
    committed = [TARGET.tokens.index("a")]
    # 'a' + 'ba' would re-encode as 'aba': the window does not align, the text is encoded alone.
    assert retok.propose(committed, "ba") == [TARGET.tokens.index("ba")]
    with pytest.raises(ValueError, match="lookbehind must be an int >= 0"):
        LookbehindRetokenizer(hf, -1)


def test_verify_slem_refuses_bad_input():
    probs = torch.full((1, 2, 3), 1 / 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="outside"):
        verify_slem(probs, [[3]], torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="must have shape"):
        verify_slem(probs, [[0, 1]], torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"target_u must lie in \[0, 1\)"):
        verify_slem(probs, [[0]], torch.ones(1, 2, dtype=torch.float64))


def test_engine_psi_matches_the_reference_and_is_bounded():
    string_to_id = {t: i for i, t in enumerate(DRAFTER.tokens)}

    def next_probs(ids):
        seq = tuple(DRAFTER.tokens[i] for i in ids)
        return torch.tensor(
            [float(p) for p in DRAFTER_LM.next_dist(seq).probs], dtype=torch.float64
        )

    for length in range(1, 7):
        for chars in itertools.product("ab", repeat=length):
            text = "".join(chars)
            assert count_segmentations(text, string_to_id) == segmentation_count(
                text, DRAFTER.tokens
            )
            assert psi_from_drafter(next_probs, [0], text, string_to_id) == float(
                psi(DRAFTER_LM, ("a",), text)
            )
    every = {"".join(c): i for i, c in enumerate(itertools.product("a", repeat=1))}
    every.update({"a" * n: n for n in range(2, 6)})
    assert count_segmentations("aaaaa", every) == 2**4
    with pytest.raises(ValueError, match="16 segmentations into drafter tokens, more than"):
        enumerate_segmentations("aaaaa", every, max_segmentations=15)


def test_engine_slrs_matches_the_reference_draw_for_draw():
    """The SLRS sampler's pieces (tree, proposal law, rows, SD) against `SlrsRound.run_slrs_round`."""
    from specproof.engine.sd import verify_sd
    from specproof.engine.slrs import conditional_rows, draft_tree, proposal_law
    from specproof.reference.slrs import SlrsRound, conditional_proposal

    target_hf, drafter_hf = hf_tokenizer(TARGET.tokens), hf_tokenizer(DRAFTER.tokens)
    kernel = SlrsRound(TARGET_LM, DRAFTER_LM, TARGET, DRAFTER, 2, mode="sample", lookbehind=2)
    grid = [F(i, 8) for i in range(0, 8, 3)]
    checked_rows = rejections = 0
    for context in [(), ("ab",), ("a", "ba")]:
        start = [DRAFTER.tokens.index(t) for t in read_as_drafter(context, DRAFTER)]
        committed = [TARGET.tokens.index(t) for t in context]

        def rows(prefixes, start=start):
            return torch.tensor(
                [
                    [
                        float(p)
                        for p in DRAFTER_LM.next_dist(
                            tuple(DRAFTER.tokens[i] for i in [*start, *prefix])
                        ).probs
                    ]
                    for prefix in prefixes
                ],
                dtype=torch.float64,
            )

        def propose(drafts, committed=committed):
            text = drafter_hf.decode(list(drafts), clean_up_tokenization_spaces=False)
            return LookbehindRetokenizer(target_hf, 2).propose(committed, text)

        tree = draft_tree(rows, 2)
        law = proposal_law(tree, 2, propose)
        reference_law = kernel.proposal_law(context)
        as_names = {tuple(TARGET.tokens[i] for i in p): w for p, w in law.items()}
        assert as_names == {p: float(w) for p, w in reference_law.items()}
        for drafter_u in itertools.product(grid, repeat=2):
            drafts: tuple[int, ...] = ()
            for u in drafter_u:
                cum = tree[drafts].cumsum(0)
                drafts += (int((cum <= float(u) * cum[-1]).sum()),)
            proposal = propose(drafts)
            psi_rows = conditional_rows(law, proposal, len(TARGET.tokens))
            for i in range(len(proposal)):
                prefix = tuple(TARGET.tokens[j] for j in proposal[:i])
                _, row = conditional_proposal(reference_law, prefix, TARGET.tokens)
                # Each term w / mass is rounded before the sum: a few ulps from the exact row.
                exact = torch.tensor([float(p) for p in row.probs], dtype=torch.float64)
                assert (psi_rows[i] - exact).abs().max() <= 1e-15
                checked_rows += 1
            for accept_u in itertools.product(grid, repeat=len(proposal)):
                final_u = F(5, 8)
                expected = kernel.run_slrs_round(context, drafter_u, accept_u, final_u)
                target_rows = []
                for i in range(len(proposal) + 1):
                    seq = tuple(TARGET.tokens[j] for j in committed + proposal[:i])
                    target_rows.append([float(p) for p in TARGET_LM.next_dist(seq).probs])
                verdict = verify_sd(
                    torch.tensor([target_rows], dtype=torch.float64),
                    psi_rows[None],
                    torch.tensor([proposal]).reshape(1, len(proposal)),
                    torch.tensor([[float(u) for u in accept_u]], dtype=torch.float64).reshape(
                        1, len(proposal)
                    ),
                    torch.tensor([float(final_u)], dtype=torch.float64),
                )
                rejections += int(verdict.n_accepted[0]) < len(proposal)
                assert tuple(TARGET.tokens[i] for i in verdict.row(0)) == expected
    assert checked_rows > 20 and rejections > 5  # both branches of the rule were met
