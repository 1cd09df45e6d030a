"""specdec: a small speculative decoder with rejection-sampling verification."""

from harness import Implementation

from impls._plan_table import PlanTable

TABLE = PlanTable("specdec_adapter", "specdec.decoder:SpecDecoder.spec_gen (generate_small, verify)")

IMPL = Implementation(
    package="specdec",
    version="0.2.0",
    summary=(
        "A speculative-decoding benchmarking tool: `SpecDecoder` drafts `num_sample_tok` "
        "tokens with the small model (temperature 1), verifies them with one pass of the big "
        "model (accept iff `u < p/q`, residual `max(p - q, 0)`, a bonus token when all are "
        "accepted). Sampling only. Audited on the catalogue's tiny target and same-tokenizer "
        "drafter, under transformers 5.24.0. No defect found: sampling is consistent with "
        "the target's law."
    ),
    install=["--no-deps specdec==0.2.0"],
    items=[
        TABLE.sampling(
            "sample", "sampling (temperature 1, the only mode), `num_sample_tok=3`", samples=1600
        ),
    ],
)
