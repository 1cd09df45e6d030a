r"""The pruned-head drafter in the generation loop: vanilla SD and RDK through the drafter seam.

[`PrunedDrafter`][specproof.engine.pruned_drafter.PrunedDrafter] is a
[`Drafter`][specproof.engine.drafters.Drafter] made of a causal LM whose LM head keeps only the
token ids `kept` ($D \subset T$). Its body runs token by token with one KV cache per row (the
loop's [`RowStreams`][specproof.engine.streams.RowStreams] or
[`BatchedStreams`][specproof.engine.streams.BatchedStreams], through
[`PrunedHeadLM`][specproof.engine.pruned_drafter.PrunedHeadLM], which computes only the $|D|$
kept logits), so a draft step costs the body plus $|D|/|T|$ of the head. For each draft
position it forms the run's probabilities over the kept logits (the same temperature, top-k and
top-p as the target: $q'$, zero off $D$) and then:

- **vanilla** (`kernel=None`, verified by `--algorithm sd`): the draft $x$ is drawn from $q'$
  by the loop's sampling rule and its row is $q'$ itself;
- **RDK** (a kernel $M$, verified by `--algorithm rdk`): the pinned two-stage draw of
  [`specproof.engine.rdk`][specproof.engine.rdk], source $x \sim q'$, then draft
  $y \sim M[x, \cdot]$, both by the loop's sampling rule (one uniform each), and the row is the
  proposal $q' M$ ([`propose_kept`][specproof.engine.rdk.RankOneKernel.propose_kept]).

The source is drawn over the $|D|$ kept values, not the zero-padded row: the pinned rule (the
first $x$ with $u S < \mathrm{cumsum}(q')[x]$) never stops on a zero entry, and `kept` is
ascending, so the answer is the same token. A rank-one kernel's mixing weight may also be chosen
per position from drafter-side information by a
[`MixRule`][specproof.engine.pruned_drafter.MixRule] (see
[`ClusterBoundMix`][specproof.engine.pruned_drafter.ClusterBoundMix]): the kernel is fixed before
the draw's uniforms are read, so the round stays lossless (claim `rdk_lossless` holds for every
kernel).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, Protocol

import torch

from .drafters import DraftContext, DraftRequest, Proposal, Sampler
from .pruned import PrunedHead
from .rdk import DenseKernel, KeptSparseRows, Kernel, RankOneKernel, SparseKernel
from .streams import BatchedStreams, RowStreams, model_streams


class PrunedHeadLM:
    """A causal LM whose forward returns only the kept tokens' logits (`[B, L, |D| + G]`).

    It answers the calls the loop's streams make (`config`, `parameters()`, a forward with
    `past_key_values`, `attention_mask`, `position_ids` and `logits_to_keep`), running
    `model`'s body and then one matmul with the kept head rows (as
    [`PrunedHead.logits`][specproof.engine.pruned.PrunedHead.logits]) on the positions asked
    for, followed by `extra_rows` ($G$ more logits per position, e.g. a mix rule's) if given.

    Args:
        model: a transformers causal LM (`model.base_model` its body).
        kept: `[|D|]` strictly ascending token ids.
        extra_rows: `[G, H]` more head rows, or None.

    Raises:
        ValueError: on a bad `kept`, `extra_rows` of the wrong width, or `extra_rows` with a
            model that soft-caps its logits.
    """

    def __init__(
        self, model: Any, kept: torch.Tensor, extra_rows: torch.Tensor | None = None
    ) -> None:
        self.model = model
        self.head = PrunedHead(model, kept)
        self.config = model.config
        weight = self.head.weight
        if extra_rows is not None:
            if extra_rows.dim() != 2 or extra_rows.shape[1] != weight.shape[1]:
                raise ValueError(
                    f"extra_rows must be [G, {weight.shape[1]}], got {tuple(extra_rows.shape)}"
                )
            if self.head.softcap or self.head.bias is not None:
                raise ValueError("extra_rows: the model soft-caps or biases its logits")
            weight = torch.cat([weight, extra_rows.to(weight.dtype)]).contiguous()
        self.weight = weight
        body = model.base_model
        self._cache_kwarg = (
            "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"
        )

    def parameters(self) -> Any:
        """The wrapped model's parameters (the streams read their device)."""
        return self.model.parameters()

    @torch.no_grad()
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool = True,
        logits_to_keep: int = 0,
    ) -> SimpleNamespace:
        """Body forward, then the kept (and extra) logits of the last `logits_to_keep` positions (0: all).

        Args:
            input_ids: `[B, L]` token ids.
            attention_mask: as the body takes it.
            position_ids: as the body takes it.
            past_key_values: the KV cache (passed under the body's own keyword).
            use_cache: keep the cache.
            logits_to_keep: how many trailing positions get logits (0: all).
        """
        kwargs: dict[str, Any] = {self._cache_kwarg: past_key_values} if use_cache else {}
        out = self.model.base_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache,
            **kwargs,
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        if self.weight is self.head.weight:
            return SimpleNamespace(logits=self.head.logits(hidden))
        return SimpleNamespace(logits=torch.nn.functional.linear(hidden, self.weight))

    __call__ = forward


class MixRule(Protocol):
    r"""Chooses a rank-one kernel's $\lambda$ per draft position from drafter-side information.

    Attributes:
        rows: `[G, H]` extra head rows the drafter computes logits for at every position.
    """

    rows: torch.Tensor

    def mix(self, kept_logits: torch.Tensor, extra_logits: torch.Tensor) -> torch.Tensor:
        """`[n]` values of lambda in [0, 1] from the raw kept logits `[n, |D|]` and extra logits `[n, G]`."""
        ...


class ClusterBoundMix:
    r"""$\lambda$ = a lower bound on the target's mass off $D$, from $G$ extra head rows.

    The pruned tokens $P = T \setminus D$ are split into groups $P_g$; each group gets one extra
    head row, the mean $\bar w_g$ of its rows. By Jensen's inequality
    $\sum_{t \in P_g} e^{h \cdot w_t / \tau} \ge |P_g|\, e^{h \cdot \bar w_g / \tau}$, so with
    $Z_D = \sum_{t \in D} e^{z_t / \tau}$,

    $$\lambda = \frac{L}{Z_D + L},\quad L = \sum_g |P_g|\, e^{h \cdot \bar w_g/\tau}
    \;\le\; \frac{Z_P}{Z_D + Z_P} = 1 - p(D)$$

    for a drafter that shares the target's body and head (the pruned-head self-draft, sampling
    at temperature $\tau$ without top-k/top-p). Then $q' = p / p(D)$ on $D$ and every
    $\lambda \le 1 - p(D)$ keeps $(1 - \lambda) q' \ge p$ on $D$, so
    $\alpha(\lambda) \ge \alpha(0)$ at every position: never below vanilla. It reads only the
    drafter's hidden state through $G$ head rows (no target row).

    Args:
        head: the full output head weights `[V, H]`.
        kept: `[|D|]` the drafter's kept ids.
        groups: $G$; the pruned ids, in the order of `order`, are cut into $G$ consecutive
            groups of (nearly) equal size.
        order: `[V]` a ranking of all ids (e.g. by corpus frequency, most frequent first); None:
            by id.
        temperature: $\tau$ (> 0), the run's sampling temperature.

    Raises:
        ValueError: on a bad `groups` or `temperature`, or no pruned token.
    """

    def __init__(
        self,
        head: torch.Tensor,
        kept: torch.Tensor,
        groups: int,
        order: torch.Tensor | None = None,
        temperature: float = 1.0,
    ) -> None:
        vocab = head.shape[0]
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        is_kept = torch.zeros(vocab, dtype=torch.bool)
        is_kept[kept] = True
        ranking = torch.arange(vocab) if order is None else order.to(torch.int64)
        pruned = ranking[~is_kept[ranking]]
        if pruned.numel() == 0:
            raise ValueError("kept: no token is pruned, there is nothing to redistribute to")
        if isinstance(groups, bool) or not 1 <= groups <= pruned.numel():
            raise ValueError(f"groups must lie in [1, {pruned.numel()}], got {groups}")
        parts = pruned.tensor_split(groups)
        self.rows = torch.stack([head[part].detach().float().mean(0) for part in parts])
        self.log_sizes = torch.tensor([float(part.numel()) for part in parts]).log()
        self.temperature = temperature

    def mix(self, kept_logits: torch.Tensor, extra_logits: torch.Tensor) -> torch.Tensor:
        """`[n]` the bound $L / (Z_D + L)$, computed in log space."""
        log_bound = torch.logsumexp(
            extra_logits.float() / self.temperature + self.log_sizes.to(extra_logits.device), -1
        )
        log_kept = torch.logsumexp(kept_logits.float() / self.temperature, -1)
        return torch.sigmoid(log_bound - log_kept)


class PrunedDrafter:
    """Drafts with a pruned-head model: vanilla SD (`kernel=None`) or RDK (see the module docstring).

    Args:
        model: a transformers causal LM over the target's vocabulary (the target itself for a
            self-draft, or e.g. its first layers); its weights are shared, not copied, except the
            kept head rows.
        kept: `[|D|]` strictly ascending token ids the head keeps.
        kernel: None for vanilla; a [`RankOneKernel`][specproof.engine.rdk.RankOneKernel],
            [`SparseKernel`][specproof.engine.rdk.SparseKernel] or
            [`DenseKernel`][specproof.engine.rdk.DenseKernel] over the target's vocabulary for RDK.
        mix_rule: only with a rank-one kernel: chooses lambda per position (the kernel's own
            `mix` is then unused).

    Raises:
        ValueError: on a bad `kept`, a `mix_rule` without a rank-one kernel, or (at `start`) a
            vocabulary that differs from the target's.
    """

    def __init__(
        self,
        model: Any,
        kept: torch.Tensor,
        kernel: Kernel | None = None,
        mix_rule: MixRule | None = None,
    ) -> None:
        if kernel is not None and not isinstance(
            kernel, RankOneKernel | SparseKernel | DenseKernel
        ):
            raise ValueError(f"kernel must be an RDK kernel or None, got {type(kernel).__name__}")
        if mix_rule is not None and not isinstance(kernel, RankOneKernel):
            raise ValueError("mix_rule needs a RankOneKernel (its prior is what is mixed in)")
        self.lm = PrunedHeadLM(model, kept, None if mix_rule is None else mix_rule.rows)
        self.kept = self.lm.head.kept
        self.kernel = kernel
        self.mix_rule = mix_rule
        self.forward_calls = 0
        self._kernel: Kernel | None = None
        self._streams: RowStreams | BatchedStreams | None = None
        self._context: DraftContext | None = None
        self._kept = self.kept
        self._sparse_rows: KeptSparseRows | None = None

    @property
    def redistributes(self) -> bool:
        """Whether it drafts by RDK (a kernel is set), as `algorithm="rdk"` needs."""
        return self.kernel is not None

    def start(self, prompts: Sequence[Sequence[int]], context: DraftContext) -> None:
        """Check the vocabulary, cast the kernel to the run's dtype, open one KV cache per row."""
        vocab = self.lm.head.vocab_size
        if vocab != context.vocab:
            raise ValueError(
                f"draft: the pruned model's vocabulary ({vocab}) differs from the target's "
                f"({context.vocab}); a pruned-head drafter must share the target's tokenizer"
            )
        if self.kernel is not None and self.kernel.vocab_size != context.vocab:
            raise ValueError(
                f"kernel: vocabulary size {self.kernel.vocab_size} differs from the target's "
                f"{context.vocab}"
            )
        self._kernel = (
            None if self.kernel is None else self.kernel.to(context.prob_dtype, context.device)
        )
        self._kept = self.kept.to(context.device)
        self._sparse_rows = (
            self._kernel.restricted(self._kept) if isinstance(self._kernel, SparseKernel) else None
        )
        self._context = context
        self._streams = model_streams(self.lm, len(prompts), context.use_cache, context.batched)
        self.forward_calls = 0

    def _draw(
        self, logits: torch.Tensor, sample: Sampler
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """`(tokens [n], proposal rows [n, V], lambdas [n] or None)` for one draft position."""
        context, kernel, kept = self._context, self._kernel, self._kept
        assert context is not None
        size = kept.shape[0]
        kept_probs = context.probs(logits[:, :size])
        sources = kept[sample(kept_probs)]
        if kernel is None:
            rows = kept_probs.new_zeros(kept_probs.shape[0], context.vocab)
            rows.scatter_(1, kept.unsqueeze(0).expand(kept_probs.shape[0], -1), kept_probs)
            return sources, rows, None
        if self.mix_rule is None:
            if isinstance(kernel, SparseKernel):
                assert self._sparse_rows is not None
                proposal = self._sparse_rows.propose(kept_probs)
                # The k weights of a row in their (strictly ascending) token order: the inverse
                # CDF over them picks the token the materialised V-wide row would, in O(k).
                positions = sample(kernel.weights[sources])
                return kernel.indices[sources, positions], proposal, None
            return sample(kernel.rows(sources)), kernel.propose_kept(kept_probs, kept), None
        assert isinstance(kernel, RankOneKernel)
        mixes = self.mix_rule.mix(logits[:, :size], logits[:, size:]).to(kept_probs.dtype)
        if not bool(((mixes >= 0) & (mixes <= 1)).all()):
            raise ValueError("mix_rule: every lambda must lie in [0, 1]")
        prior = kernel.prior.unsqueeze(0)
        index = kept.unsqueeze(0).expand(kept_probs.shape[0], -1)
        rows = (mixes.unsqueeze(1) * prior).scatter_add_(
            1, index, kept_probs * (1 - mixes)[:, None]
        )
        kernel_rows = mixes.unsqueeze(1) * prior
        kernel_rows[torch.arange(sources.shape[0], device=sources.device), sources] += 1 - mixes
        return sample(kernel_rows), rows, mixes

    def propose(self, requests: Sequence[DraftRequest], sample: Sampler) -> list[Proposal]:
        """Draw up to `k` tokens per request, one batched step (and draw) per draft position."""
        streams, context = self._streams, self._context
        if streams is None or context is None:
            raise RuntimeError("PrunedDrafter.propose called before start")
        drafted: list[list[int]] = [[] for _ in requests]
        rows_q: list[list[torch.Tensor]] = [[] for _ in requests]
        mixes: list[list[float]] = [[] for _ in requests]
        for step in range(max((r.k for r in requests), default=0)):
            need = [i for i, r in enumerate(requests) if r.k > step]
            logits = torch.stack(
                streams.logits(
                    [requests[i].row for i in need],
                    [list(requests[i].sequence) + drafted[i] for i in need],
                    [1] * len(need),
                )
            )[:, 0]
            tokens, rows, lambdas = self._draw(logits, sample)
            for j, i in enumerate(need):
                drafted[i].append(int(tokens[j]))
                rows_q[i].append(rows[j])
                if lambdas is not None:
                    mixes[i].append(float(lambdas[j]))
        self.forward_calls = streams.calls
        proposals = []
        for i in range(len(requests)):
            q = context.stack_rows(rows_q[i], context.vocab)
            features = {"mean_mix": sum(mixes[i]) / len(mixes[i])} if mixes[i] else {}
            proposals.append(Proposal(tuple(drafted[i]), q, features))
        return proposals

    def keep(self, row: int, length: int) -> None:
        """Crop row `row`'s KV cache to its first `length` tokens."""
        if self._streams is not None:
            self._streams.keep(row, length)


#: Groups of [`ClusterBoundMix`][specproof.engine.pruned_drafter.ClusterBoundMix] that
#: `pruned_drafter` uses (extra head rows per draft step).
BOUND_GROUPS = 256


def pruned_drafter(
    model: Any,
    counts: torch.Tensor,
    prune: float,
    *,
    rdk: bool,
    mix: float | str = "bound",
    temperature: float = 1.0,
    groups: int = BOUND_GROUPS,
) -> PrunedDrafter:
    r"""The drafter `specproof generate --prune` builds: `model` with its head pruned by frequency.

    The head keeps the `ceil((1 - prune) V)` most frequent tokens of `counts`; for RDK the
    kernel is rank-one with the prior $r$ = the counts of the pruned tokens, normalised
    ([`frequency_prior`][specproof.engine.pruned.frequency_prior]), and $\lambda$ is either a
    fixed number or `"bound"`: per position, by
    [`ClusterBoundMix`][specproof.engine.pruned_drafter.ClusterBoundMix] with `groups` groups of
    pruned tokens in frequency order.

    Args:
        model: the draft causal LM (over the target's vocabulary).
        counts: `[V]` token counts, every entry positive (add a small constant to raw counts),
            so that the prior reaches every pruned token.
        prune: the share of the head removed, in $[0, 1)$.
        rdk: RDK (True) or vanilla (False).
        mix: $\lambda \in [0, 1]$, or `"bound"`; RDK only.
        temperature: the run's temperature (what `"bound"` divides the logits by).
        groups: the number of groups for `"bound"`.

    Raises:
        ValueError: naming the argument, on a bad `prune`, `mix` or `counts`.
    """
    from .pruned import frequency_prior, keep_most_frequent

    if isinstance(prune, bool) or not 0 <= prune < 1:
        raise ValueError(f"prune must lie in [0, 1), got {prune!r}")
    vocab = int(model.get_output_embeddings().weight.shape[0])
    if counts.dim() != 1 or counts.shape[0] != vocab:
        raise ValueError(f"counts must be [{vocab}], got {tuple(counts.shape)}")
    if not bool((counts > 0).all()):
        raise ValueError("counts must be positive everywhere (add a small constant)")
    kept = keep_most_frequent(counts, 1 - prune)
    if not rdk:
        return PrunedDrafter(model, kept)
    if kept.numel() == vocab:
        raise ValueError("prune: RDK needs at least one pruned token (prune > 0)")
    prior = frequency_prior(counts, kept)
    if mix == "bound":
        order = torch.sort(counts, descending=True, stable=True).indices
        groups = min(groups, vocab - kept.numel())
        head = model.get_output_embeddings().weight.detach()
        rule = ClusterBoundMix(head, kept, groups, order, temperature)
        return PrunedDrafter(model, kept, RankOneKernel(prior, 0.0), rule)
    if isinstance(mix, bool) or not isinstance(mix, int | float) or not 0 <= mix <= 1:
        raise ValueError(f"mix must be a number in [0, 1] or 'bound', got {mix!r}")
    return PrunedDrafter(model, kept, RankOneKernel(prior, float(mix)))


__all__ = [
    "BOUND_GROUPS",
    "ClusterBoundMix",
    "MixRule",
    "PrunedDrafter",
    "PrunedHeadLM",
    "pruned_drafter",
]
