r"""The pruned-head drafter in `generate`: vanilla and RDK, exact laws, caches, errors.

The law tests enumerate every branch of `generate` (with its KV caches and rollbacks) through
`EnumeratingUniforms` from `test_engine_law` and compare the output law of the first n tokens
with the target's own autoregressive law, exactly up to float64 rounding (tolerance 1e-12, as
argued there). The negative control draws from the kernel at one mixing weight but reports the
proposal $q' M$ of another (a stale $\lambda$): its law moves by far more than the tolerance.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.generate import generate  # noqa: E402
from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.pruned_drafter import ClusterBoundMix, PrunedDrafter  # noqa: E402
from specproof.engine.rdk import DenseKernel, RankOneKernel, SparseKernel  # noqa: E402
from specproof.reference.laws import autoregressive_law  # noqa: E402

from .test_engine_law import (  # noqa: E402
    F64,
    INIT_STD,
    TOLERANCE,
    engine_law,
    max_difference,
    to_toylm,
)

VOCAB = 3
KEPT = torch.tensor([0, 2])


def models():
    target = tiny_model("llama", vocab=VOCAB, layers=2, seed=7, init_std=INIT_STD, dtype=F64)
    draft = tiny_model("llama", vocab=VOCAB, layers=1, seed=9, init_std=INIT_STD, dtype=F64)
    return target.model, draft.model


def prior() -> torch.Tensor:
    return torch.tensor([0.0, 1.0, 0.0], dtype=F64)  # all on the pruned token 1


def kernels() -> dict[str, object]:
    sparse = SparseKernel(
        torch.tensor([[0, 1], [0, 1], [1, 2]]),
        torch.tensor([[0.5, 0.5], [0.0, 1.0], [0.25, 0.75]], dtype=F64),
    )
    dense = DenseKernel(
        torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.25, 0.5, 0.25]], dtype=F64)
    )
    return {"rank-one": RankOneKernel(prior(), 0.375), "sparse": sparse, "dense": dense}


def target_law(target, prompt, n):
    return autoregressive_law(to_toylm(target, VOCAB, prompt, n), prompt, n)


@pytest.mark.parametrize(
    "name",
    [
        "rank-one",
        pytest.param("bound", marks=pytest.mark.slow),
        pytest.param("vanilla", marks=pytest.mark.slow),
        pytest.param("sparse", marks=pytest.mark.slow),
        pytest.param("dense", marks=pytest.mark.slow),
    ],
)
def test_pruned_drafter_generation_law_is_the_target_law(name: str) -> None:
    target, draft_model = models()
    if name == "vanilla":
        drafter, algorithm = PrunedDrafter(draft_model, KEPT), "sd"
    elif name == "bound":
        head = target.get_output_embeddings().weight
        rule = ClusterBoundMix(head, KEPT, 1)  # one pruned token: lambda = 1 - p(D)
        drafter, algorithm = PrunedDrafter(target, KEPT, RankOneKernel(prior(), 0.0), rule), "rdk"
    else:
        drafter, algorithm = PrunedDrafter(draft_model, KEPT, kernels()[name]), "rdk"  # type: ignore[arg-type]
    # K = 2 (a second draft drawn in a context that may hold a pruned first draft, through the
    # drafter's cache) for the vanilla head and the rank-one kernel; K = 1 for the other
    # kernels and the bound rule, whose rows and proposals are read on every branch either way.
    # Enumeration multiplies the branches of every draft by the kernel's row support: with
    # K = 2 the dense kernel took 220 s on a 2-core CI machine (K = 1: ~2 s), the sparse kernel
    # and the bound rule ~35 s each.
    prompt, n, k = [1], 2, 2 if name in ("vanilla", "rank-one") else 1
    engine = engine_law(target, drafter, prompt, n, k, algorithm)
    reference = target_law(target, prompt, n)
    assert abs(sum(engine.values()) - 1) < TOLERANCE
    assert max_difference(engine, reference) < TOLERANCE


class StaleMixSlip(PrunedDrafter):
    """Broken on purpose: draws y from M at lambda = 3/8 but reports q'M at lambda = 1/8."""

    def _draw(self, logits, sample):
        kept_probs = self._context.probs(logits[:, : self._kept.shape[0]])
        sources = self._kept[sample(kept_probs)]
        stale = RankOneKernel(prior(), 0.125)
        return sample(self._kernel.rows(sources)), stale.propose_kept(kept_probs, self._kept), None


def test_negative_control_proposal_with_a_stale_mix() -> None:
    """Reporting q'M for another kernel than the one drawn from breaks the law.

    (Reporting the kernel row M[x, .] itself would not: given the source x, the draft is drawn
    from exactly that row, so standard SD against it is lossless too, with another acceptance.)
    """
    target, draft_model = models()
    drafter = StaleMixSlip(draft_model, KEPT, RankOneKernel(prior(), 0.375))
    engine = engine_law(target, drafter, [1], 2, 1, "rdk")
    assert max_difference(engine, target_law(target, [1], 2)) > 1e-3


def test_rdk_drafts_pruned_tokens_and_vanilla_never_does() -> None:
    target, _ = models()
    seen: dict[str, set[int]] = {}
    for name, kernel in (("vanilla", None), ("rdk", RankOneKernel(prior(), 0.5))):
        drafts: set[int] = set()

        def record(trace, drafts=drafts):
            for row in trace.rows:
                drafts.update(row.drafts)

        generate(
            target,
            PrunedDrafter(target, KEPT, kernel),
            [[1, 2]],
            algorithm="rdk" if kernel is not None else "sd",
            k=3,
            max_new_tokens=16,
            seed=0,
            prob_dtype=F64,
            on_round=record,
        )
        seen[name] = drafts
    assert seen["vanilla"] <= {0, 2}
    assert 1 in seen["rdk"]


def test_cache_and_no_cache_give_the_same_tokens() -> None:
    target, draft_model = models()
    runs = [
        generate(
            target,
            PrunedDrafter(draft_model, KEPT, RankOneKernel(prior(), 0.25)),
            [[1, 0, 2], [2]],
            algorithm="rdk",
            k=3,
            max_new_tokens=12,
            seed=5,
            prob_dtype=F64,
            use_cache=use_cache,
            batch_forwards=batched,
        ).tokens
        for use_cache, batched in ((True, False), (False, False), (True, True))
    ]
    assert runs[0] == runs[1] == runs[2]


def test_rdk_errors_name_the_argument() -> None:
    target, draft_model = models()
    with pytest.raises(ValueError, match="needs an RDK drafter"):
        generate(target, PrunedDrafter(draft_model, KEPT), [[1]], algorithm="rdk")
    with pytest.raises(ValueError, match="needs an RDK drafter"):
        generate(target, draft_model, [[1]], algorithm="rdk")
    with pytest.raises(ValueError, match="mix_rule needs a RankOneKernel"):
        PrunedDrafter(draft_model, KEPT, None, ClusterBoundMix(torch.eye(VOCAB), KEPT, 1))
    with pytest.raises(ValueError, match="kernel must be"):
        PrunedDrafter(draft_model, KEPT, "rank-one")  # type: ignore[arg-type]
    wide = tiny_model("llama", vocab=VOCAB + 1, layers=1, seed=1, dtype=F64).model
    with pytest.raises(ValueError, match="share the target's tokenizer"):
        generate(target, PrunedDrafter(wide, KEPT), [[1]], algorithm="sd", max_new_tokens=1)
    with pytest.raises(ValueError, match="groups"):
        ClusterBoundMix(torch.eye(VOCAB), KEPT, 2)


def test_cluster_bound_is_a_lower_bound_on_the_pruned_mass() -> None:
    """lambda <= 1 - p(D) at every position, for every grouping (Jensen), and tight for singletons."""
    generator = torch.Generator().manual_seed(0)
    head = torch.randn(8, 5, generator=generator, dtype=F64)
    kept = torch.tensor([0, 3, 5])
    hidden = 2 * torch.randn(256, 5, generator=generator, dtype=F64)
    logits = hidden @ head.T
    pruned_mass = 1 - torch.softmax(logits, -1)[:, kept].sum(-1)
    gaps = []
    for groups in (1, 2, 5):
        rule = ClusterBoundMix(head, kept, groups)
        mix = rule.mix(logits[:, kept], hidden @ rule.rows.T.double()).double()
        assert bool((mix <= pruned_mass + 1e-5).all())
        gaps.append(float((pruned_mass - mix).mean()))
    assert gaps[0] > gaps[2] and gaps[2] < 1e-5  # singletons: the bound is exact
    with pytest.raises(ValueError, match="temperature"):
        ClusterBoundMix(head, kept, 1, temperature=0.0)


@pytest.mark.parametrize("name", ["rank-one", "sparse", "dense"])
def test_kept_forms_equal_the_padded_forms(name: str) -> None:
    """`propose_kept` = `propose` of the zero-padded row; `rows` = the kernel rows `draw_row` walks."""
    kernel = kernels()[name]
    values = torch.tensor([[0.25, 0.75], [0.5, 0.5]], dtype=F64)
    padded = torch.zeros(2, VOCAB, dtype=F64)
    padded[:, KEPT] = values
    assert torch.equal(kernel.propose_kept(values, KEPT), kernel.propose(padded))
    sources = torch.tensor([0, 2])
    rows = kernel.rows(sources)
    assert torch.allclose(rows.sum(-1), torch.ones(2, dtype=F64))
    for u in (0.0, 0.125, 0.4375, 0.875):
        uniforms = torch.full((2,), u, dtype=F64)
        drawn = kernel.draw_row(sources, uniforms)
        # The pinned rule on the materialised rows: first y with u * sum < cumsum[y].
        expected = [int((u * row.sum() < row.cumsum(0)).nonzero()[0]) for row in rows]
        assert drawn.tolist() == expected
