"""transformers: assisted-generation paths that `specproof audit transformers` does not cover."""

from harness import Implementation, Plan

GEN = "transformers.generation.utils:GenerationMixin._assisted_decoding"
EARLY = "transformers.generation.candidate_generator:EarlyExitCandidateGenerator"
LOOKUP = "transformers.generation.candidate_generator:PromptLookupCandidateGenerator"
ASSISTED = "transformers.generation.candidate_generator:AssistedCandidateGenerator"


def _plan(name: str, function: str, path: str, words: str, level: str, **kw: object) -> Plan:
    return Plan(
        name=name,
        function=f"transformers_adapter:{function}",
        path=path,
        configuration=words,
        level=level,
        **kw,  # type: ignore[arg-type]
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
        "top-k. No defect found in these paths."
    ),
    install=["--no-deps transformers==5.24.0"],
    items=[
        _plan("early-exit-greedy", "early_exit_greedy", EARLY,
              "greedy, `assistant_early_exit=1` (the target's first layer drafts)", "greedy", m=8),
        _plan("early-exit-sample", "early_exit_sample", EARLY,
              "sampling, `temperature=1.0`, `assistant_early_exit=1`", "generation", m=2,
              samples=1200, tv=0.15),
        _plan("heuristic-greedy", "heuristic_greedy", ASSISTED,
              "greedy, drafter with `num_assistant_tokens_schedule='heuristic'` from 1 draft",
              "greedy", m=8),
        _plan("confidence-threshold-greedy", "threshold_greedy", ASSISTED,
              "greedy, 5 drafts, `assistant_confidence_threshold=0.5`", "greedy", m=8),
        _plan("prompt-lookup-greedy-ngram1", "prompt_lookup_greedy_ngram1", LOOKUP,
              "greedy, `prompt_lookup_num_tokens=3`, `max_matching_ngram_size=1`", "greedy", m=8),
        _plan("prompt-lookup-sample-t0.7-k3", "prompt_lookup_sample_t07_k3", LOOKUP,
              "sampling, `temperature=0.7`, `top_k=3`, `prompt_lookup_num_tokens=3`, "
              "`max_matching_ngram_size=1`", "generation", m=2, samples=1200, tv=0.15, temperature=0.7,
              top_k=3),
    ],
)
