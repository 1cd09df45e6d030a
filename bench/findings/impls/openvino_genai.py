"""openvino-genai 2026.4.1.0: speculative pipeline not run in this session."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "openvino-genai", "2026.4.1.0",
    "OpenVINO GenAI's `LLMPipeline` with a draft model (speculative decoding).",
    "openvino_genai.LLMPipeline(main_model, device, draft_model=openvino_genai.draft_model(...))",
    "not run",
    "Not attempted in this session: the pipeline needs OpenVINO IR models, i.e. exporting the "
    "catalogue's tiny target and drafter with optimum-intel (`optimum-cli export openvino`), "
    "which pulls `openvino`, `optimum`, `nncf` and their dependencies; with the machine's two "
    "cores shared by eight workers (load average above 20) the time went to the libraries "
    "that run on the catalogue's transformers models. Nothing was installed.",
)
