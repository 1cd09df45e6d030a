"""divine-mtp: multi-token-prediction heads drafting for their own base model (greedy)."""

from harness import Implementation, Plan

DIAGNOSIS = (
    "In `divine_mtp/inference.py`, `DivineMtpInferenceEngine.generate` never feeds the last "
    "committed token to the base model before verifying. After the prefill, `next_token` (the "
    "argmax after the prompt) is appended to `curr_input_ids` but not to the KV cache, and "
    "step B runs `self.base_model(input_ids=verify_input[:, 1:], past_key_values=...)`, i.e. "
    "only the candidates. `verify_logits[i]` is therefore the target's prediction after "
    "`prompt + candidates[:i+1]` with `next_token` missing, and it is compared with "
    "`candidates[i]`, which should be checked against the prediction after "
    "`prompt + next_token + candidates[:i]`. Every round repeats it: the token a round ends "
    "with (an accepted candidate or the correction `predicted_target`) is never run through the "
    "base model, so the cache lacks one token per round and each later prediction is made on a "
    "context with holes. The output is not the target's greedy decoding (see the examples in "
    "the JSON record) although the engine claims 'fidelity'. Fix: feed `verify_input` whole "
    "(`[next_token] + candidates`) and compare `candidates[i]` with the argmax of "
    "`verify_logits[i]`, where row `i` is the prediction after `next_token, candidates[:i]`; "
    "after a full acceptance the bonus is the argmax of the last row."
)

IMPL = Implementation(
    package="divine-mtp",
    version="0.1.0",
    summary=(
        "Recurrent multi-token-prediction heads on a frozen causal LM; a pure-PyTorch "
        "speculative engine drafts 4 tokens from the heads and keeps those that match the "
        "base model's argmax. Greedy only (no sampling path). **Finding**: the engine's "
        "output is not the base model's greedy decoding: the token each round ends with "
        "never enters the base model's cache."
    ),
    install=["--no-deps divine-mtp==0.1.0"],
    items=[
        Plan(
            name="greedy",
            function="divine_mtp_adapter:greedy",
            path="divine_mtp.inference:DivineMtpInferenceEngine.generate",
            configuration="greedy, 4 MTP heads (rank 16, untrained: the library's initialisation)",
            level="greedy",
            m=8,
            diagnosis=DIAGNOSIS,
            reproducer="bench/findings/repro/divine-mtp_1.py",
        ),
    ],
)
