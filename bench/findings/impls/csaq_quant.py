"""csaq-quant: self-speculative decoding over its own quantised model."""

from harness import Implementation

from impls._plan_table import PlanTable

#: Every plan audits against the weights of the engine's own verify pass, which the adapter exports.
TABLE = PlanTable(
    "csaq_quant_adapter",
    "csaq.inference:CSAQInferenceEngine._generate_speculative",
    target_weights="csaq_quant_adapter:effective_target",
)
T4 = "with transformers 4.57.6 (csaq's requirement `transformers>=4.38.0` admits it)"

DIAGNOSIS = (
    "In `csaq/inference.py`, `CSAQInferenceEngine._generate_speculative` verifies each draft "
    "against the wrong target row and the wrong context. (1) **Off by one**: the verify pass is "
    "fed `[last context token, d_0, ..., d_{K-1}]`, so `v_logits[:, k]` is the target's "
    "distribution for draft `d_k`; the loop reads `v_logit = v_logits[:, k + 1, :]` (commented "
    "'verifier's prediction at position k'), which is the distribution *after* `d_k`. Greedy "
    "acceptance therefore compares `d_k` with the argmax of the next position, and the "
    "substituted/recovered token is drawn from the row one position too far. (2) **The prompt is "
    "never prefilled**: on the first round `past_key_values` is `None` and the draft loop feeds "
    "only `generated[:, -1:]`, the last prompt token; the verify pass then runs "
    "`[last prompt token, drafts]` on a cache cropped to length 0. Every generated token is "
    "conditioned on the last prompt token only (at position 0), never on the rest of the "
    "prompt. (3) After a round the cache is cropped to `kv_len_before + n_accepted + 1` and the "
    "next round feeds `generated[:, -1:]` again, so the last committed token enters the cache "
    "twice, and after a rejection the cache holds the rejected draft's entry, not the "
    "correction's. With the draft pass equal to the target (the audit's 8-bit setting: draft and "
    "verify both use the quantised weights up to float16 rounding of the protected rows) the "
    "output still differs from the target's own greedy decoding; the engine's plain path "
    "(`speculative=False`, `model.generate`) on the same quantised model matches it "
    "(configuration `plain-greedy`), which rules out the adapter and the reference. Fix: read "
    "`v_logits[:, k]`, prefill the whole prompt once before the first round, and keep the cache "
    "at exactly the committed tokens."
)

CRASH = (
    "`CSAQInferenceEngine._truncate_kv` (in `csaq/inference.py`) calls "
    "`DynamicCache.crop(length)` with an absolute length. Since transformers 5, "
    "`DynamicCache.crop` takes the number of tokens to remove as a negative integer and raises "
    "`ValueError: Calling crop with a positive value ... is not supported` on a positive one; "
    "the first speculative round with a non-empty cache therefore crashes. csaq-quant 0.6.0 "
    "requires `transformers>=4.38.0`, so a fresh install (which resolves the newest "
    "transformers) gets a speculative path that cannot run. Fix: pin `transformers<5` or crop "
    "with `-(current_length - length)`."
)

IMPL = Implementation(
    package="csaq-quant",
    version="0.6.0",
    summary=(
        "Causal-salience-aware quantisation with *self-speculative decoding*: the quantised "
        "model drafts `lookahead` tokens, a verify pass with float16 copies of the most "
        "salient rows checks them (greedy match, or rejection sampling with a residual). "
        "Audited with the model quantised to 8 bits (`bit_options=[8]`; the 16-bit option "
        "crashes in `CSAQLinear.from_cliques`, whose `_pack` has no 16-bit case); the "
        "reference is the engine's own verify pass, whose weights the adapter exports "
        "(`effective_target`) and the auditor recomputes in float64. **Findings**: the "
        "speculative path is not lossless, greedy or sampling (three defects in "
        "`_generate_speculative`, one diagnosis below), and with the newest transformers its "
        "KV-cache truncation crashes."
    ),
    install=["--no-deps csaq-quant==0.6.0", "transformers==4.57.6"],
    envs={"transformers-5.24": ["--no-deps csaq-quant==0.6.0"]},
    items=[
        TABLE.greedy(
            "greedy",
            f"greedy (`temperature=0.0`), `lookahead=4`, 8-bit, {T4}",
            diagnosis=DIAGNOSIS,
            reproducer="bench/findings/repro/csaq-quant_1.py",
        ),
        TABLE.sampling(
            "sample",
            f"sampling (`temperature=1.0`), `lookahead=4`, 8-bit, {T4}",
            samples=1500,
            tv=0.1,
            diagnosis=DIAGNOSIS,
            reproducer="bench/findings/repro/csaq-quant_2.py",
        ),
        TABLE.greedy(
            "plain-greedy",
            f"control: the same engine with `speculative=False` (`model.generate`), {T4}",
            path="csaq.inference:CSAQInferenceEngine.generate",
            notes=(
                "Not speculative: checks the adapter and the exported reference weights. "
                "Consistent here means the speculative verdicts are the library's."
            ),
        ),
        TABLE.greedy(
            "greedy-transformers-5.24",
            "greedy, `lookahead=4`, 8-bit, with transformers 5.24.0",
            function="greedy",
            env="transformers-5.24",
            diagnosis=CRASH,
            reproducer="bench/findings/repro/csaq-quant_3.py",
        ),
    ],
)
