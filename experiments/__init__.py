"""specproof's experiments: empirical claims measured by training small networks.

Beside `specproof.proofs` because they need torch (the `engine` extra), which `proofs` never
imports. torch is imported inside the functions that train, never at module import, so the
claim modules here register into the proofs registry on a machine without torch and report
`unknown` (naming the `engine` extra) if run there.

- [`specproof.experiments.rank`][specproof.experiments.rank]: gradient-descent training of
  bias-free ReLU networks and their rank measures (Timor, Vardi & Shamir, ALT 2023);
- [`specproof.experiments.interpolant`][specproof.experiments.interpolant]: the exact
  (sympy) rank-1 interpolant of a two-point dataset;
- [`specproof.experiments.claims`][specproof.experiments.claims]: the `rank_` claims.
"""
