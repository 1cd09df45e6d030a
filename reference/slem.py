r"""Toy SLEM (string-level exact match) across two tokenizers, with two match rules.

Timor et al. (ICML 2025, arXiv 2502.05202). The round kernel is SLEM's own,
[`LookbehindSlemRound`][specproof.reference.string_level.LookbehindSlemRound]: the drafter reads
the target's tokens, drafts $K$ tokens of its own, their string is cut at the first character
the target's tokenizer cannot express and normalised (the draft text), re-tokenised with the
target's tokenizer (committed tokens never change), and the target verifies by
sample-and-match. "Matches" is pinned by `match`:

- `"tokens"`: the target's token $y$ must equal the next proposed token;
- `"string"`: $y$'s string must continue a prefix of the draft text; a target token sequence
  that is not the canonical tokenisation of the draft text is accepted too.

One round outputs between 1 and $|t| + 1$ target tokens, however many drafter tokens $K$ was:
the law of a round is not per position. Every output token is the target's own sample and
whether the round goes on depends only on tokens already output and on the draft, so the law
is the target's under either rule ([`round_kernel_law`][specproof.reference.rounds.round_kernel_law]
of the kernel equals [`autoregressive_law`][specproof.reference.laws.autoregressive_law]; claim
`slem_toy_lossless`). The exact law of the first $n$ tokens is
`SLEM.law(target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k, match=...)`.
"""

__all__: list[str] = []
