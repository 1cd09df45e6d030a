"""transformers: assisted-generation paths that `specproof audit transformers` does not cover."""

from harness import Implementation

from impls._plan_table import PlanTable

CANDIDATES = "transformers.generation.candidate_generator"
#: One table per candidate generator; every plan drives `transformers_adapter`.
EARLY = PlanTable("transformers_adapter", f"{CANDIDATES}:EarlyExitCandidateGenerator")
LOOKUP = PlanTable("transformers_adapter", f"{CANDIDATES}:PromptLookupCandidateGenerator")
ASSISTED = PlanTable("transformers_adapter", f"{CANDIDATES}:AssistedCandidateGenerator")
DIFFERENT_TOKENIZERS = PlanTable(
    "transformers_adapter", f"{CANDIDATES}:AssistedCandidateGeneratorDifferentTokenizers"
)
TRANSLATOR = PlanTable(
    "transformers_adapter",
    f"{CANDIDATES}:AssistantToTargetTranslator.__init__ "
    "(through AssistantVocabTranslatorCache.get_translator)",
)
UAD_IN_PLACE = (
    "Sampled universal assisted decoding (`do_sample=True` with `tokenizer=` and "
    "`assistant_tokenizer=`) rewrites the caller's assistant model in place. "
    "`GenerationMixin._get_candidate_generator` (transformers/generation/utils.py) asks "
    "`AssistantVocabTranslatorCache.get_translator(..., assistant_model=assistant_model, "
    "assistant_prune_lm_head=True)`; on a cache miss `AssistantToTargetTranslator.__init__` "
    "(transformers/generation/candidate_generator.py) calls "
    "`assistant_model.set_output_embeddings(_PruneReindexingLMHead(...))` (the output layer cut "
    "to the tokens both vocabularies share) and `assistant_model.set_input_embeddings("
    "_MapInputEmbedding(...))` (input ids remapped), and the translator is cached per "
    "(target tokenizer, assistant tokenizer) pair, keyed weakly by the tokenizer objects, not "
    "by the model. Hence: (1) after one call the drafter object returns logits over the "
    "intersection only, so any other use of it (plain `generate`, another library's drafter, "
    "greedy assisted decoding: `mat1 and mat2 shapes cannot be multiplied`) is wrong or "
    "crashes; (2) a caller who protects the drafter by passing a fresh copy per call crashes on "
    "the second call with the same tokenizers: the cached translator was built with "
    "`assistant_prune_lm_head=True` and never prunes the new copy, so "
    "`AssistantToTargetTranslator.get_target_logits` assigns full-vocabulary logits into the "
    "intersection's slots (`RuntimeError: shape mismatch: value tensor of shape [10] cannot be "
    "broadcast to indexing result of shape [1, 1, 8]`). Reusing one copy for every sampled call "
    "works (that is what `specproof audit transformers` and bench/bench_hetero.py do). Not a "
    "loss of losslessness by itself (see the built-in audit for the permuted-map bias), a "
    "misbehaviour: `generate` mutates an argument."
)

UAD_GREEDY_CRASH = (
    "Greedy universal assisted decoding (`do_sample=False` with `tokenizer=` and "
    "`assistant_tokenizer=`; the drafter settings of `specproof audit transformers`: 3 drafts "
    "per round, constant schedule, `assistant_confidence_threshold=0.0`) crashes in "
    "transformers 5.25.0 with `RuntimeError: cannot reshape tensor of 0 elements into shape "
    "[1, 0, -1, 8]` (8: the drafter's head size); transformers 5.24.0 runs the same calls and "
    "follows the target's greedy path (configuration 8). Cause: 5.25.0 changed how "
    "`AssistedCandidateGenerator._update_past_and_masks` "
    "(transformers/generation/candidate_generator.py, line 303 in 5.25.0) rolls the "
    "assistant's KV cache back before a drafting round. 5.24.0 read the cache's actual length "
    "(`get_seq_length()`) and cropped it to a size computed from the new assistant input's "
    "length. 5.25.0 removes (`_last_ids_length` minus the new assistant input's length plus "
    "`num_extra_tokens_to_remove`) positions, and removes nothing when that number is "
    "negative; `_last_ids_length` is a new attribute that every candidate generator sets at "
    "the end of `get_candidates`. `AssistedCandidateGeneratorDifferentTokenizers.get_candidates` "
    "(lines 549-552) sets it to the length of the candidate sequence in the *target's* tokens "
    "(`new_target_ids`, or the target's input when the drafts gave no new target token), "
    "whereas the cache it is used to crop holds the *assistant's* tokens. The two lengths "
    "differ whenever the drafts do not map one to one onto target tokens: "
    "`_process_assistant_outputs` decodes the assistant's last tokens to text, re-encodes "
    "the text with the target tokenizer and keeps only what lies past its overlap with the "
    "target's input (`_get_tokens_diag`). Traced on the reproducer's prompt `abc`: in the "
    "fourth round the drafter drafts `x a y` (`x` and `y` are not in the target's "
    "vocabulary), which yields one new target token, so `_last_ids_length` is 7 while the "
    "assistant's sequence is 9 tokens long and its cache holds 8 positions, the rejected "
    "drafts among them. The next assistant input is 7 tokens long: 7 - 7 = 0 positions are "
    "removed, the cache (8) is longer than the input, and the assistant's `generate` "
    "computes the length of the uncached suffix as 7 - 8 = -1 and slices the input from "
    "the end with it, so it re-feeds the last 6 input tokens after the stale cache (16 "
    "positions). In the round after, the input is 8 tokens long, the removal count 7 - 8 = -1 "
    "is skipped, and the suffix length 8 - 16 = -8 selects an empty slice: the assistant's "
    "forward pass gets no token, and its first attention layer cannot reshape the empty "
    "key/value projection to `[batch, 0, heads, head size]`. The draft count and the "
    "threshold matter through how many drafts a round makes (with these character "
    "tokenizers one draft always maps onto one target token): on the reproducer's models no prompt crashes with 1 or 2 drafts per "
    "round, 2 of 5 crash with 3 and 4 of 5 with 5; with the default threshold 0.4 the random "
    "drafter stops after its first draft in every round, and nothing crashes. Not a loss of losslessness (the target verifies every "
    "candidate; the stale cache only spoils drafts until the crash), a crash of a "
    "documented lossless path on ordinary inputs."
)


IMPL = Implementation(
    package="transformers",
    version="5.24.0",
    summary=(
        "Hugging Face transformers' own speculative paths beyond those of "
        "[the built-in audit](../results/audit_transformers.md) (which covers assisted "
        "generation with a same-tokenizer drafter under temperature, top-k, top-p and "
        "repetition penalty, the heuristic schedule and the confidence threshold in sampling, "
        "universal assisted decoding, and prompt lookup with 2 tokens; it found the universal "
        "speculative decoding bug): self-speculative early exit (`assistant_early_exit`), the "
        "heuristic schedule and the confidence threshold "
        "in greedy decoding, and prompt lookup with unigram matching under temperature and "
        "top-k. No defect found in these paths. Universal assisted decoding with sampling "
        "rewrites the caller's drafter in place (pruned output layer, remapped input "
        "embeddings) and caches that rewrite per tokenizer pair, so a fresh copy of the "
        "drafter per call crashes on the second call (configuration 7). Greedy universal "
        "assisted decoding, consistent on 5.24.0 (configuration 8), crashes on transformers "
        "5.25.0 (configuration 9): 5.25.0 rolls the drafter's KV cache back by a length "
        "counted in the target's tokens, so with drafts that do not map one to one onto "
        "target tokens stale positions accumulate until the drafter gets an empty input."
    ),
    install=["--no-deps transformers==5.24.0"],
    envs={"transformers-5.25": ["--no-deps transformers==5.25.0 kernels==0.19.1"]},
    items=[
        EARLY.greedy(
            "early-exit-greedy", "greedy, `assistant_early_exit=1` (the target's first layer drafts)"
        ),
        EARLY.sampling(
            "early-exit-sample", "sampling, `temperature=1.0`, `assistant_early_exit=1`"
        ),
        ASSISTED.greedy(
            "heuristic-greedy",
            "greedy, drafter with `num_assistant_tokens_schedule='heuristic'` from 1 draft",
        ),
        ASSISTED.greedy(
            "confidence-threshold-greedy",
            "greedy, 5 drafts, `assistant_confidence_threshold=0.5`",
            function="threshold_greedy",
        ),
        LOOKUP.greedy(
            "prompt-lookup-greedy-ngram1",
            "greedy, `prompt_lookup_num_tokens=3`, `max_matching_ngram_size=1`",
        ),
        LOOKUP.sampling(
            "prompt-lookup-sample-t0.7-k3",
            "sampling, `temperature=0.7`, `top_k=3`, `prompt_lookup_num_tokens=3`, "
            "`max_matching_ngram_size=1`",
            function="prompt_lookup_sample_t07_k3",
            temperature=0.7,
            top_k=3,
        ),
        TRANSLATOR.sampling(
            "uad-fresh-assistant-sample",
            "sampling, `temperature=1.0`, universal assisted decoding (drafter with another "
            "tokenizer: `<eos>gfedcbaxy`), 2 drafts, a fresh copy of the drafter per call",
            diagnosis=UAD_IN_PLACE,
            reproducer="bench/findings/repro/transformers_1.py",
        ),
        DIFFERENT_TOKENIZERS.greedy(
            "uad-greedy",
            "greedy, universal assisted decoding (drafter with another tokenizer: "
            "`<eos>gfedcbaxy`), 3 drafts, `assistant_confidence_threshold=0.0`",
        ),
        DIFFERENT_TOKENIZERS.greedy(
            "uad-greedy-transformers-5.25",
            "greedy, universal assisted decoding (drafter with another tokenizer: "
            "`<eos>gfedcbaxy`), 3 drafts, `assistant_confidence_threshold=0.0`, with "
            "transformers 5.25.0",
            function="uad_greedy",
            env="transformers-5.25",
            notes=(
                "Environment `transformers-5.25`: `--no-deps transformers==5.25.0 "
                "kernels==0.19.1` (kernels: a new requirement of 5.25.0, which `from_pretrained` "
                "refuses to load a model without); every other package is the project's."
            ),
            diagnosis=UAD_GREEDY_CRASH,
            reproducer="bench/findings/repro/transformers_2.py",
        ),
    ],
)
