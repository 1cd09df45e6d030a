"""Adapter: SGLang's chain rejection sampler (`chain_speculative_sampling_triton`).

Runs under `.venv-findings/sglang` with `TRITON_INTERPRET=1`: the Triton kernel
`speculative_sampling_classic_kernel` runs in Triton's interpreter on CPU tensors (this machine
has no GPU). The module `sglang/kernels/ops/speculative/reject_sampling.py` is loaded from the
installed package by its file path, because `import sglang` pulls the serving runtime (FlashInfer,
the HTTP server); the module itself imports only `triton`. Its source is executed unchanged.

The sampler-level signature maps onto the kernel's chain layout (one request): `candidates`
is `[root, draft_0, .., draft_{K-1}]` (the root, the last verified token, is never read as a
draft), `retrive_index = [0, .., K]`, the target rows `[1, K+1, V]` and draft rows `[1, K, V]`
in float32 (SGLang's dtype; the auditor's case probabilities are multiples of 2**-20, exact in
float32), and the uniforms `uniform_samples [1, K]` and `uniform_samples_for_final_sampling
[1]` drawn in float32 from the auditor's generator (SGLang draws them with `torch.rand`). The
output is `predicts` read along `accept_index`: the accepted drafts, then the recovered or bonus
token.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

os.environ["TRITON_INTERPRET"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def _load() -> ModuleType:
    spec = importlib.util.find_spec("sglang")
    if spec is None or spec.origin is None:
        raise ImportError("sglang is not installed in this environment")
    path = Path(spec.origin).parent / "kernels" / "ops" / "speculative" / "reject_sampling.py"
    module_spec = importlib.util.spec_from_file_location("sglang_reject_sampling", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


REJECT = _load()


def _verify(
    target_probs: np.ndarray,
    draft_probs: np.ndarray,
    draft_tokens: np.ndarray,
    rng: np.random.Generator,
    block_verification: bool,
) -> Sequence[int]:
    k = int(draft_tokens.shape[0])
    candidates = torch.tensor([[0, *(int(t) for t in draft_tokens)]], dtype=torch.int64)
    retrive_index = torch.arange(k + 1, dtype=torch.int64).view(1, -1)
    predicts = torch.full((k + 1,), -1, dtype=torch.int32)
    accept_index = torch.full((1, k + 1), -1, dtype=torch.int32)
    accept_token_num = torch.zeros(1, dtype=torch.int32)
    uniform = torch.from_numpy(rng.random((1, k), dtype=np.float32))
    uniform_final = torch.from_numpy(rng.random(1, dtype=np.float32))
    REJECT.chain_speculative_sampling_triton(
        predicts,
        accept_index,
        accept_token_num,
        candidates,
        retrive_index,
        None,
        None,
        uniform,
        uniform_final,
        torch.from_numpy(target_probs.astype(np.float32)).unsqueeze(0),
        torch.from_numpy(draft_probs.astype(np.float32)).unsqueeze(0),
        1.0,
        1.0,
        True,
        block_verification=block_verification,
    )
    accepted = int(accept_token_num[0])
    slots = accept_index[0, : accepted + 1].tolist()
    return [int(predicts[slot]) for slot in slots]


def _mode(block_verification: bool, doc: str) -> Callable[..., Sequence[int]]:
    """The sampler-level adapter function of one mode of the sampler.

    Args:
        block_verification: the kernel's `block_verification` flag.
        doc: the function's docstring (the configuration, in words).
    """

    def mode(
        target_probs: np.ndarray,
        draft_probs: np.ndarray,
        draft_tokens: np.ndarray,
        rng: np.random.Generator,
    ) -> Sequence[int]:
        return _verify(target_probs, draft_probs, draft_tokens, rng, block_verification)

    mode.__name__ = mode.__qualname__ = "block" if block_verification else "classic"
    mode.__doc__ = doc
    return mode


# The functions the plans name (`bench/findings/impls/sglang.py`).
classic = _mode(
    False, "Token-by-token verification (`block_verification=False`, SGLang's default)."
)
block = _mode(True, "Block verification (`block_verification=True`, Sun et al. 2024, Algorithm 2).")
