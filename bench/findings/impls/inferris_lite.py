"""inferris-lite 0.1.0: scheduling simulations, no token path."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "inferris-lite", "0.1.0",
    "Executable mini-forms of LLM serving mechanisms (continuous batching, paged state, "
    "prefix caching, speculative decoding, ...). Requires Python >= 3.12 (this machine has "
    "3.11); its source was read from the published wheel.",
    "m09_speculative_decode (a_obligation, b_verdict, c_pages)",
    "no auditable path",
    "The speculative-decoding module simulates the *bookkeeping* of a serving engine: "
    "`resolve` takes the number of accepted drafts from an all-accept constant (knife a) or "
    "from a scripted `accept_script` list on the request (knife b), and tracks drafted / "
    "accepted / rolled-back counts and pages. No model, no probabilities and no tokens are "
    "produced, so there is no output law to compare with a target.",
)
