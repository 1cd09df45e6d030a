"""Batched streams: the output head runs on the positions whose logits are read, with no change.

`BatchedStreams` hands the model's output head only the hidden states of the requested rows'
requested positions (a forward pre-hook), instead of every row and every column of the block.
Compared here with the same streams running the head on the whole block (`gather_head =
False`): the same logits, call after call, with rollbacks, idle rows and rows of different
lengths. float64 models: the head computes each row's logits with the same dot products either
way; the tolerance (1e-12) only allows the matrix product to sum in another order.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.streams import BatchedStreams  # noqa: E402

F64 = torch.float64
#: (rows, lasts, tokens added to each requested row before the call, rollback after the call).
SCRIPT = [
    ([0, 1, 2], [1, 1, 1], [[1, 2, 3], [4], [5, 6, 7, 8, 9]], None),
    ([0, 2], [3, 1], [[4, 5, 6], [2]], (0, 4)),
    ([0, 1, 2], [2, 1, 4], [[7, 8], [3], [1, 2, 3, 4]], (2, 7)),
    ([1], [1], [[5]], None),
    ([0, 1, 2], [1, 2, 1], [[9], [6, 7], [8]], None),
]


def _run(model, gather: bool) -> list[torch.Tensor]:
    streams = BatchedStreams(model, rows=3)
    streams.gather_head = gather
    sequences: list[list[int]] = [[], [], []]
    got = []
    for rows, lasts, tokens, rollback in SCRIPT:
        for row, extra in zip(rows, tokens, strict=True):
            sequences[row] += extra
        got += streams.logits(rows, [sequences[r] for r in rows], lasts)
        if rollback is not None:
            row, length = rollback
            streams.keep(row, length)
            sequences[row] = sequences[row][:length]
    return got


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_the_head_on_read_positions_only_gives_the_same_logits(family: str) -> None:
    model = tiny_model(family, vocab=12, layers=2, seed=3, init_std=0.3, dtype=F64).model
    streams = BatchedStreams(model, rows=3)
    assert streams.gather_head  # a plain linear head: the hook is used
    gathered, full = _run(model, True), _run(model, False)
    assert [g.shape for g in gathered] == [f.shape for f in full]
    for g, f in zip(gathered, full, strict=True):
        torch.testing.assert_close(g, f, rtol=0, atol=1e-12)


def test_negative_control_the_comparison_sees_a_wrong_column() -> None:
    model = tiny_model("llama", vocab=12, layers=2, seed=3, init_std=0.3, dtype=F64).model
    streams = BatchedStreams(model, rows=3)
    right = streams.logits([0, 1, 2], [[1, 2, 3], [4], [5, 6, 7]], [2, 1, 2])
    shifted = BatchedStreams(model, rows=3)
    shifted.gather_head = False
    wrong = shifted.logits([0, 1, 2], [[1, 2, 3], [4], [5, 6, 7]], [3, 1, 3])
    torch.testing.assert_close(right[2], wrong[2][1:], rtol=0, atol=1e-12)  # the same columns
    assert not torch.allclose(right[2], wrong[2][:2])  # one column off: seen
