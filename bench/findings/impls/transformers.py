"""transformers: assisted-generation paths that `specproof audit transformers` does not cover."""

from harness import Implementation

from impls._plan_table import PlanTable

CANDIDATES = "transformers.generation.candidate_generator"
#: One table per candidate generator; every plan drives `transformers_adapter`.
EARLY = PlanTable("transformers_adapter", f"{CANDIDATES}:EarlyExitCandidateGenerator")
LOOKUP = PlanTable("transformers_adapter", f"{CANDIDATES}:PromptLookupCandidateGenerator")
ASSISTED = PlanTable("transformers_adapter", f"{CANDIDATES}:AssistedCandidateGenerator")
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
        "drafter per call crashes on the second call (configuration 7)."
    ),
    install=["--no-deps transformers==5.24.0"],
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
    ],
)
