"""The algorithm registry: validation, and a throwaway algorithm reaching every consumer."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
from fractions import Fraction as F
from pathlib import Path

import pytest

from specproof.proofs.registry import claim_modules
from specproof.reference import ALGORITHMS, Algorithm, ToyLM, autoregressive_law, speculative_law
from specproof.reference.laws import VERIFIERS, get_verifier
from specproof.reference.sd import StandardSD

ROOT = Path(__file__).resolve().parents[2]


class CopyOfSD(StandardSD):
    """Standard SD under another name: a throwaway algorithm for the registry test."""

    name = "throwaway_sd"


def throwaway() -> Algorithm:
    return Algorithm(
        name="throwaway_sd",
        title="Throwaway SD",
        summary="A copy of standard SD registered only by this test.",
        reference=CopyOfSD(),
        engine="specproof.engine.sd:verify_sd",
        claims="specproof.proofs.throwaway_claims_never_imported",
        docs_page="explanation/algorithms.md",
        generate=True,
    )


def algorithm_pages():
    spec = importlib.util.spec_from_file_location(
        "algorithm_pages_under_test", ROOT / "docs" / "_hooks" / "algorithm_pages.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_help() -> str:
    from specproof.cli.main import build_parser

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    return out.getvalue()


def test_a_registered_algorithm_reaches_every_consumer():
    vocab = ["a", "b", "c"]
    contexts = [(), *((t,) for t in vocab)]
    target = ToyLM(vocab, 1, {c: {"a": F(1, 2), "b": F(1, 3), "c": F(1, 6)} for c in contexts})
    draft = ToyLM(vocab, 1, {c: {"a": F(1, 6), "b": F(1, 6), "c": F(2, 3)} for c in contexts})
    assert "throwaway_sd" not in generate_help()
    with pytest.raises(ValueError, match="algorithm must be one of"):
        speculative_law(target, draft, ("a",), 2, 2, "throwaway_sd")
    with ALGORITHMS.registered(throwaway()):
        # law dispatch
        law = speculative_law(target, draft, ("a",), 2, 2, "throwaway_sd")
        assert law == autoregressive_law(target, ("a",), 2)
        assert isinstance(get_verifier("throwaway_sd"), CopyOfSD)
        assert "throwaway_sd" in VERIFIERS
        # the CLI's choices and help
        help_text = " ".join(generate_help().split())
        assert "throwaway_sd" in help_text and "A copy of standard SD" in help_text
        # the theorem registry's claim modules
        assert "specproof.proofs.throwaway_claims_never_imported" in claim_modules()
        # the generated docs
        page = algorithm_pages().render(["throwaway_sd_lossless", "sd_lossless"])
        row = next(line for line in page.splitlines() if "Throwaway SD" in line)
        assert "throwaway_sd_lossless" in row and "`sd_lossless`" not in row
        assert "specproof.engine.sd.verify_sd" in row
    assert "throwaway_sd" not in ALGORITHMS and "throwaway_sd" not in VERIFIERS
    assert "throwaway_sd" not in generate_help()


def test_a_registered_algorithm_reaches_the_engine_dispatch():
    torch = pytest.importorskip("torch")
    from specproof.engine.verify import verify_batch

    p = torch.tensor([[[0.25, 0.75], [0.5, 0.5]]], dtype=torch.float64)
    q = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
    x = torch.tensor([[0]])
    u, final_u = (
        torch.tensor([[0.4]], dtype=torch.float64),
        torch.tensor([0.9], dtype=torch.float64),
    )
    with pytest.raises(ValueError, match="algorithm must be one of"):
        verify_batch("throwaway_sd", p, q, x, u, final_u)
    with ALGORITHMS.registered(throwaway()):
        got = verify_batch("throwaway_sd", p, q, x, u, final_u).row(0)
    assert got == verify_batch("sd", p, q, x, u, final_u).row(0)


def test_every_registered_algorithm_is_complete():
    for algorithm in ALGORITHMS:
        assert (
            algorithm.docs_page is None
            or (ROOT / "docs" / algorithm.docs_page.split("#")[0]).is_file()
        )
        if algorithm.claims is not None:
            assert importlib.util.find_spec(algorithm.claims) is not None, algorithm.claims
        if algorithm.engine is not None and "torch" in sys.modules:
            assert callable(algorithm.engine_function())
        if algorithm.drafter is not None and "torch" in sys.modules:
            assert algorithm.generate and callable(algorithm.drafter_factory())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad Name"}, "name must be"),
        ({"title": " "}, "title must be"),
        ({"engine": "no_function_part"}, "engine must be 'module:function'"),
        ({"claims": "not a path"}, "claims must be an import path"),
        ({"engine": None}, "generate: algorithm"),
        ({"drafter": "no_function_part"}, "drafter must be 'module:function'"),
    ],
)
def test_bad_declarations_are_refused(changes, message):
    fields = {**throwaway().__dict__, **changes}
    with pytest.raises(ValueError, match=message):
        Algorithm(**fields)


def test_duplicates_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        ALGORITHMS.register(ALGORITHMS.get("sd"))
    with pytest.raises(ValueError, match=r"algorithm must be one of \["):
        ALGORITHMS.get("no_such_algorithm")
    with pytest.raises(ValueError, match="must be an Algorithm"):
        ALGORITHMS.register("sd")  # type: ignore[arg-type]
    assert ALGORITHMS.get("sd").verifier is get_verifier("sd")
    assert get_verifier("sd").name == "sd"
