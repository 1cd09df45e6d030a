"""Audit: calibrated losslessness verdicts for third-party SD implementations.

Modules (torch is imported only by the generation level and the transformers adapter):

- [`stats`][specproof.audit.stats]: chi-square and G-tests against an exact law with
  small cells pooled, the two-sample homogeneity test, the certified TV bound, power and sample
  size, Holm's correction (numpy and scipy only);
- [`core`][specproof.audit.core]: configurations and verdicts (`consistent`,
  `not-lossless`, `crashed`, `inconclusive`);
- [`sampler`][specproof.audit.sampler]: the sampler level, a verify function against the
  exact law of its whole output on generated cases;
- [`controls`][specproof.audit.controls]: a correct numpy sampler and deliberately broken
  ones (the negative controls);
- [`generation`][specproof.audit.generation]: the generation level, a generate function
  against a target model's exact law (torch); with [`target_law`][specproof.audit.target_law]
  (the float64 law), [`collect`][specproof.audit.collect] (calling the function, batches,
  timing), [`request`][specproof.audit.request] (the request calling convention),
  [`greedy`][specproof.audit.greedy], [`two_sample`][specproof.audit.two_sample] (no exact
  law: against a plain sampler, planned per arm), [`positions`][specproof.audit.positions],
  [`regimes`][specproof.audit.regimes] (drafting regimes) and
  [`coverage`][specproof.audit.coverage] (draft depths the implementation reports), with
  [`settings`][specproof.audit.settings] (the statistical keywords these functions share);
- [`hf_adapter`][specproof.audit.hf_adapter]: the built-in adapter for Hugging Face
  transformers (torch, transformers);
- [`report`][specproof.audit.report]: Markdown reports with plots.

The command line is `specproof audit` (`specproof.cli.audit`); the how-to is
docs/how-to/audit.md.
"""
