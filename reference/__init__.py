r"""specproof's exact reference: the specification of every speculative-decoding algorithm.

Standard library only. Probabilities are `fractions.Fraction`s and every comparison is exact.
In maths, $p$ is the target distribution and $q$ the draft distribution (Leviathan et al. 2023;
Chen et al. 2023 and gpt-fast use the opposite letters); code names roles, never letters.

Words: *accepted* (a draft token kept), *recovered* (drawn after a rejection), *bonus* (drawn from
the target after all $K$ drafts are accepted); output = accepted + (recovered or bonus).

Models are read through the `LanguageModel` protocol (`lm`). Beyond one vocabulary and a fixed
$K$: round kernels and their laws (`rounds`), toy tokenizers (`tokenizers`), string-level exact
match across tokenizers (`slem`) and lookahead policies (`lookahead`).
"""

from .algorithms import ALGORITHMS, Algorithm, AlgorithmRegistry
from .dist import Dist, Token
from .exact_match import EXACT_MATCH, ExactMatch
from .greedy import GREEDY, Greedy
from .laws import (
    VERIFIERS,
    Law,
    acceptance_rate,
    autoregressive_law,
    expected_tokens_per_round,
    get_verifier,
    speculative_law,
)
from .lm import LanguageModel
from .rounds import RoundKernel, VerifierRound, round_kernel_law
from .sd import STANDARD_SD, StandardSD
from .tokenizers import ToyTokenizer
from .toylm import ToyLM
from .verifier import ACCEPT, Draws, Verdict, Verifier, argmax, inverse_cdf

__all__ = [
    "ACCEPT",
    "ALGORITHMS",
    "EXACT_MATCH",
    "GREEDY",
    "STANDARD_SD",
    "VERIFIERS",
    "Dist",
    "Draws",
    "Algorithm",
    "AlgorithmRegistry",
    "ExactMatch",
    "Greedy",
    "LanguageModel",
    "Law",
    "RoundKernel",
    "StandardSD",
    "Token",
    "ToyLM",
    "ToyTokenizer",
    "Verdict",
    "Verifier",
    "VerifierRound",
    "acceptance_rate",
    "argmax",
    "autoregressive_law",
    "expected_tokens_per_round",
    "get_verifier",
    "inverse_cdf",
    "round_kernel_law",
    "speculative_law",
]
