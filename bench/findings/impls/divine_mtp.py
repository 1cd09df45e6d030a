"""divine-mtp: multi-token-prediction heads drafting for their own base model (greedy)."""

from harness import Implementation

from impls._plan_table import PlanTable

TABLE = PlanTable("divine_mtp_adapter", "divine_mtp.inference:DivineMtpInferenceEngine.generate")

IMPORT_CRASH = (
    "`import divine_mtp` raises `NameError: name 'Tuple' is not defined`: "
    "`divine_mtp/__init__.py` imports `divine_mtp.trainer`, whose function "
    "`compute_mtp_loss` is annotated `-> Tuple[torch.Tensor, Dict[str, float]]` while the "
    "module imports only `Dict, List, Optional, Union` from `typing` (and has no "
    "`from __future__ import annotations`, so the annotation is evaluated when the function "
    "is defined). Every entry point of the package, the inference engine included, fails at "
    "import on every Python version. Fix: add `Tuple` to the `typing` import of `trainer.py`."
)

DIAGNOSIS = (
    "In `divine_mtp/inference.py`, `DivineMtpInferenceEngine.generate` never feeds the token "
    "that ends a round (`next_token`) to the base model before verifying the next drafts. After "
    "the prefill, `next_token` (the argmax after the prompt) is appended to `curr_input_ids` "
    "but not to the KV cache, and step B runs "
    "`self.base_model(input_ids=verify_input[:, 1:], past_key_values=...)`: only the "
    "candidates, at the positions where `next_token` and the following tokens belong. "
    "`verify_logits[i]` is therefore the prediction after `context + candidates[:i+1]`, with "
    "`candidates[0]` standing in for `next_token`, and `candidates[i]` is compared with it, "
    "whereas it must be compared with the prediction after "
    "`context + next_token + candidates[:i]`. The output is the base model's greedy decoding "
    "only when `candidates[0] == next_token`, which is what the package's untrained heads "
    "propose (their `proj_up` is initialised to zero, so each head re-predicts the current "
    "token: configuration `greedy-untrained-heads`, consistent). With heads that propose other "
    "tokens (here random head weights standing in for trained ones) the engine emits tokens "
    "the base model would not (configuration `greedy-random-heads`, with an example in its "
    "notes). Fix: verify `[next_token] + candidates` in one pass and compare `candidates[i]` "
    "with the argmax of row `i` (the prediction after `next_token, candidates[:i]`); on a "
    "full acceptance the last row gives the bonus token, and the cache is cropped to the "
    "committed tokens."
)

IMPL = Implementation(
    package="divine-mtp",
    version="0.1.0",
    summary=(
        "Recurrent multi-token-prediction heads on a frozen causal LM; a pure-PyTorch "
        "speculative engine drafts 4 tokens from the heads and keeps those that match the "
        "base model's argmax. Greedy only (no sampling path). **Findings**: the package "
        "cannot be imported as published (`NameError` in `trainer.py`); with the import "
        "worked around (binding `builtins.Tuple`, no line of the library changed) the engine "
        "is not lossless once the heads propose anything but the current token, because the "
        "token that ends each round never enters the base model's cache."
    ),
    install=["--no-deps divine-mtp==0.1.0"],
    items=[
        TABLE.greedy(
            "greedy",
            "greedy, 4 MTP heads, package imported as published",
            diagnosis=IMPORT_CRASH,
            reproducer="bench/findings/repro/divine-mtp_1.py",
        ),
        TABLE.greedy(
            "greedy-untrained-heads",
            "greedy, 4 MTP heads (rank 16) as initialised by the library, import worked around",
            function="greedy_import_workaround",
            notes="Untrained heads all propose the current token again, which hides the "
            "misaligned verification (see the diagnosis of `greedy-random-heads`).",
        ),
        TABLE.greedy(
            "greedy-random-heads",
            "greedy, 4 MTP heads with N(0, 1) projections (standing in for trained heads), "
            "import worked around",
            diagnosis=DIAGNOSIS,
            reproducer="bench/findings/repro/divine-mtp_2.py",
        ),
    ],
)
