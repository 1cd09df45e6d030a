"""The generation level's second calling convention: one request object per call.

A generate function may take the three arguments `fn(prompt_ids, max_new_tokens, seed)`, or one
[`GenerationRequest`][specproof.audit.request.GenerationRequest]: `fn(request)`. The request
holds everything an adapter otherwise rebuilds or hard-codes: the prompt, `max_new_tokens`, the
seed, the sampling settings the exact law was computed with (`do_sample`, `temperature`,
`top_k`, `top_p`, `repetition_penalty`), the number of rows wanted (`batch_size`: a batched
path returns one row per sample, each audited), and the target model and its tokenizer
(`request.model`, `request.tokenizer`, loaded once per process), plus the draft of a drafting
regime (`request.draft_model`, `request.regime`) where there is one.

Which convention a function uses is read from its signature
([`convention`][specproof.audit.request.convention]): one required positional parameter means
a request, otherwise the three arguments; a function may also say so itself with an attribute
`specproof_convention = "request"` (or `"ids"`).

This module imports only the standard library (transformers and torch when a model is first
used): the audited process may run under another interpreter without specproof, where it is
loaded from its file by the process boundary.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

#: The two calling conventions of a generate function.
CONVENTIONS = ("ids", "request")
_LOADED: dict[tuple[str, str], Any] = {}


def convention(fn: Any) -> str:
    """`"request"` if `fn` takes a [`GenerationRequest`][specproof.audit.request.GenerationRequest], else `"ids"`.

    An attribute `specproof_convention` on `fn` decides; otherwise a function with exactly one
    required positional parameter takes a request.

    Args:
        fn: the generate function.

    Raises:
        ValueError: if `fn.specproof_convention` is neither `"ids"` nor `"request"`.

    Examples:
        >>> convention(lambda request: [])
        'request'
        >>> convention(lambda prompt_ids, max_new_tokens, seed: [])
        'ids'
    """
    declared = getattr(fn, "specproof_convention", None)
    if declared is not None:
        if declared not in CONVENTIONS:
            raise ValueError(f"specproof_convention must be one of {CONVENTIONS}, got {declared!r}")
        return str(declared)
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return "ids"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in positional and p.default is p.empty]
    variadic = any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters)
    return "request" if len(required) == 1 and not variadic else "ids"


@dataclass
class GenerationRequest:
    """One call of a generate function under the request convention.

    A caller of the Python API passes one as a *template* (`audit_generate(..., request=...)`:
    the models as `objects`, names or folders, `batch_size`); the auditor fills in the prompt,
    `max_new_tokens`, the seed and the sampling settings of the exact law for every call.

    Attributes:
        prompt_ids: the prompt's token ids (every row's, unless `prompts` says otherwise).
        max_new_tokens: how many new tokens to generate (fewer only through end-of-sequence).
        seed: the call's seed; the result must be a deterministic function of the request.
        do_sample: sampling (True) or greedy decoding (False).
        temperature: the sampling temperature of the exact law.
        top_k: top-k of the exact law, or None (no top-k; transformers' `top_k=0`).
        top_p: top-p of the exact law, or None.
        repetition_penalty: the repetition penalty of the exact law, or None.
        batch_size: rows wanted: return a `[batch_size, <= max_new_tokens]` batch (a list of
            rows, or an array or tensor) when above 1; each row is audited as one sample.
        prompts: the prompt of each row when rows differ (greedy audits), else None.
        eos_token_id: the end-of-sequence id (rows may end early with it), or None.
        target: the target model's name (`specproof.engine.models` names), or None.
        target_dir: a folder holding the target as files (safetensors, config, tokenizer).
        draft: the draft model's name, or None.
        draft_dir: a folder holding the draft as files, or None.
        regime: the drafting regime (`own`, `draft=target`, `far-draft`), or None.
        objects: in-process models (`model`, `tokenizer`, `draft_model`) given by a Python
            caller; they never cross the process boundary (the audited process loads the
            files or names instead).
    """

    prompt_ids: list[int] = field(default_factory=list)
    max_new_tokens: int = 1
    seed: int = 0
    do_sample: bool = True
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    batch_size: int = 1
    prompts: list[list[int]] | None = None
    eos_token_id: int | None = None
    target: str | None = None
    target_dir: str | None = None
    draft: str | None = None
    draft_dir: str | None = None
    regime: str | None = None
    objects: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens!r}")
        if self.prompts is not None and len(self.prompts) != self.batch_size:
            raise ValueError(
                f"prompts must hold batch_size = {self.batch_size} prompts, got {len(self.prompts)}"
            )

    def row_prompts(self) -> list[list[int]]:
        """The prompt of every row."""
        if self.prompts is not None:
            return [list(p) for p in self.prompts]
        return [list(self.prompt_ids) for _ in range(self.batch_size)]

    def replace(self, **changes: Any) -> GenerationRequest:
        """A copy with `changes` (the in-process `objects` are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def generate_kwargs(self) -> dict[str, Any]:
        """The settings as keyword arguments of transformers' `generate`.

        `max_new_tokens`, `do_sample`, and when sampling `temperature`, `top_k` (0 for none),
        `top_p` (1.0 for none); `repetition_penalty` when set.
        """
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
        }
        if self.do_sample:
            kwargs.update(
                temperature=self.temperature,
                top_k=self.top_k or 0,
                top_p=1.0 if self.top_p is None else self.top_p,
            )
        if self.repetition_penalty is not None:
            kwargs["repetition_penalty"] = self.repetition_penalty
        return kwargs

    @property
    def model(self) -> Any:
        """The target model (loaded from `target_dir`, else from `target`, once per process)."""
        return self._load("model", self.target_dir, self.target)

    @property
    def tokenizer(self) -> Any:
        """The target's tokenizer."""
        return self._load("tokenizer", self.target_dir, self.target)

    @property
    def draft_model(self) -> Any:
        """The draft model of this request's regime (from `draft_dir`, else `draft`)."""
        if "draft_model" not in self.objects and self.draft_dir is None and self.draft is None:
            raise ValueError("this request has no draft (no regime was audited)")
        return self._load("draft_model", self.draft_dir, self.draft)

    def _load(self, what: str, folder: str | None, name: str | None) -> Any:
        if what in self.objects:
            return self.objects[what]
        source = folder or name
        if source is None:
            raise ValueError(f"this request has no {what}: no target_dir nor target name")
        kind = "tokenizer" if what == "tokenizer" else "model"
        key = (kind, source)
        if key not in _LOADED:
            _LOADED[key] = _load_source(kind, folder, name)
        return _LOADED[key]

    def to_data(self) -> dict[str, Any]:
        """The request as builtins (what crosses the process boundary; `objects` left out)."""
        data = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "objects"
        }
        data["prompt_ids"] = [int(t) for t in self.prompt_ids]
        if self.prompts is not None:
            data["prompts"] = [[int(t) for t in p] for p in self.prompts]
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GenerationRequest:
        """The inverse of [`to_data`][specproof.audit.request.GenerationRequest.to_data].

        Args:
            data: the request's fields as builtins.
        """
        return cls(**data)


def _load_source(kind: str, folder: str | None, name: str | None) -> Any:
    """A model or tokenizer from a folder (transformers) or a specproof model name.

    Loading leaves torch's random state as it found it (a model's initialisation draws from
    it): a function that seeds torch and then touches `request.model` for the first time
    samples exactly as on every later call.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        return _load_unseeded(kind, folder, name)


def _load_unseeded(kind: str, folder: str | None, name: str | None) -> Any:
    if folder is not None:
        import transformers

        if kind == "tokenizer":
            return transformers.AutoTokenizer.from_pretrained(folder)
        return transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    from specproof.engine.models import load_model  # the same environment as the auditor

    loaded = load_model(str(name))
    return loaded.tokenizer if kind == "tokenizer" else loaded.model
