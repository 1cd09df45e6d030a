"""Audit a verify step written in torch: tensors on any device, randomness from a `torch.Generator`.

The sampler level calls `verify(target_probs, draft_probs, draft_tokens, rng)` with numpy
arrays and a `numpy.random.Generator` (see [`specproof.audit.sampler`][specproof.audit.sampler]).
A torch implementation usually has the signature

```python
def my_verify(target_probs, draft_probs, draft_tokens, generator) -> torch.Tensor:
    # target_probs: [K+1, V] tensor; draft_probs: [K, V]; draft_tokens: [K] long tensor,
    # all on `device`; generator: a torch.Generator on `device`, its only randomness
```

and [`torch_verify`][specproof.audit.torch_adapter.torch_verify] turns it into the audited
signature: the arrays become tensors on the device (in `dtype`), a fresh `torch.Generator` on
that device is seeded from the auditor's `rng` on every call, and the returned ids come back as
Python ints.

What the auditor needs from the implementation's randomness, and why:

- **every random draw comes from `generator`** (`torch.rand(..., generator=generator)`,
  `torch.multinomial(..., generator=generator)`, ...), never from torch's global generator,
  numpy's or Python's: the auditor replays some calls with the same arguments and generator
  state and reports `crashed` ("uses randomness other than its arguments") when they differ;
- **the same seed gives the same output on the device**: the replay runs on the same device,
  so a kernel whose result depends on thread scheduling (atomics in a CUDA reduction that
  picks a token) fails the replay too; `deterministic=True` (the default) runs each call
  with torch's deterministic algorithms, which raise where there is none;
- **draws of different calls are independent**: each call's generator is seeded with a fresh
  63-bit integer drawn from `rng` (so the auditor's stream advances as if the function had
  used it), and torch's CPU (Mersenne Twister) and CUDA (Philox) generators give independent
  streams for different seeds for every practical purpose; an implementation must not re-seed
  the generator itself.

No torch is imported until the adapter is called, so a module that builds its `verify` with
this adapter imports cheaply in the auditor's child process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: The largest seed drawn for the per-call generator (seeds are in [0, 2**63 - 1)).
SEED_BOUND = 2**63 - 1


def torch_verify(
    fn: Callable[..., Any],
    device: str = "cpu",
    dtype: str = "float64",
    deterministic: bool = True,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], list[int]]:
    """Wrap a torch verify step as the sampler-level signature (module docstring).

    Args:
        fn: `fn(target_probs, draft_probs, draft_tokens, generator)` on tensors; returns the
            output token ids (a 1-D tensor, or a sequence of ints).
        device: the torch device the tensors and the generator live on (`"cpu"`, `"cuda"`,
            `"cuda:1"`, ...).
        dtype: the floating dtype of the probability tensors (`"float64"`, `"float32"`,
            `"bfloat16"`, ...): the one the implementation runs in. The auditor's exact law
            stays float64; rounding below about 1e-3 in TV is far below what it can detect.
        deterministic: run each call under `torch.use_deterministic_algorithms(True)` (the
            caller's setting is restored after it), so that a kernel with no deterministic
            version raises instead of failing the replay check at random.

    Returns:
        `verify(target_probs, draft_probs, draft_tokens, rng)`, the audited signature.

    Raises:
        ValueError: if `dtype` is not a floating torch dtype (raised at the first call, where
            torch is imported).
    """
    state: dict[str, Any] = {}

    def verify(
        target_probs: np.ndarray,
        draft_probs: np.ndarray,
        draft_tokens: np.ndarray,
        rng: np.random.Generator,
    ) -> list[int]:
        import torch

        if not state:
            torch_dtype = getattr(torch, dtype, None)
            if not isinstance(torch_dtype, torch.dtype) or not torch_dtype.is_floating_point:
                raise ValueError(f"dtype must be a floating torch dtype, got {dtype!r}")
            state["device"] = torch.device(device)
            state["dtype"] = torch_dtype
        dev, torch_dtype = state["device"], state["dtype"]
        generator = torch.Generator(device=dev)
        generator.manual_seed(int(rng.integers(0, SEED_BOUND)))
        before = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        )
        if deterministic:
            torch.use_deterministic_algorithms(True)
        try:
            out = fn(
                torch.as_tensor(target_probs, device=dev).to(torch_dtype),
                torch.as_tensor(draft_probs, device=dev).to(torch_dtype),
                torch.as_tensor(draft_tokens, dtype=torch.long, device=dev),
                generator,
            )
        finally:  # the caller's setting, whatever the step did
            torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        if isinstance(out, torch.Tensor):
            if out.dtype.is_floating_point or out.dim() != 1:
                raise ValueError(
                    f"the verify step must return a 1-D integer tensor of token ids, got "
                    f"dtype {out.dtype} and shape {tuple(out.shape)}"
                )
            return [int(t) for t in out.tolist()]
        return list(out)  # the auditor checks that these are integer ids

    return verify
