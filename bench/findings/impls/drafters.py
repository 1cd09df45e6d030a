"""drafters 0.0.1: interfaces only."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "drafters", "0.0.1",
    "\"Building blocks for speculative decoding with local language models\": version 0.0.1 "
    "is a single 35-line module.",
    "drafters (the whole package: drafters/__init__.py)",
    "no auditable path",
    "The package defines a `Draft` dataclass (token ids and optional scores), a `Drafter` "
    "protocol (`draft(input_ids, max_tokens) -> Draft`) and `accepted_prefix(draft, n)`. "
    "It has no model, no verification and no sampling: nothing that decides which tokens are "
    "emitted, so there is nothing whose output law could be audited.",
)
