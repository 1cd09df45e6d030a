"""`specproof generate --algorithm tli|slem|slrs` with a drafter of another vocabulary."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.cli.main import main  # noqa: E402
from specproof.engine.cross_drafters import SlemDrafter, TliDrafter  # noqa: E402
from specproof.engine.generate import generate  # noqa: E402
from specproof.engine.models import load_model  # noqa: E402
from specproof.engine.slrs import SlrsDrafter  # noqa: E402
from specproof.engine.union import UnionDrafter  # noqa: E402

TARGET, DRAFT = "tiny-llama:vocab=6,seed=1", "tiny-llama:vocab=9,seed=2"
DRAFTERS = {"tli": TliDrafter, "union": UnionDrafter, "slem": SlemDrafter, "slrs": SlrsDrafter}


@pytest.mark.parametrize("algorithm", ["tli", "union", "slem", "slrs"])
def test_json_output_is_the_python_api_run(algorithm, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--prompt", "abc", "--k", "2", "--max-new-tokens", "9", "--seed", "4", "--json"]
    code = main(["generate", "--target", TARGET, "--draft", DRAFT, "--algorithm", algorithm, *args])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["algorithm"] == algorithm and data["stats"]["drafted"] > 0
    target, drafter = load_model(TARGET), load_model(DRAFT)
    cross = DRAFTERS[algorithm](target, drafter)
    expected = generate(
        cross.target_model,
        cross,
        [[1, 2, 3]],
        algorithm=algorithm,
        k=2,
        max_new_tokens=9,
        seed=4,
        eos_token_id=target.eos_token_id,
    )
    assert data["tokens"] == expected.tokens[0]


def test_errors_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["generate", "--target", TARGET, "--prompt", "ab", "--max-new-tokens", "2"]
    assert main([*base, "--draft", "ngram", "--algorithm", "tli"]) == 64
    assert "--algorithm tli needs a draft model, not ngram" in capsys.readouterr().err
    assert main([*base, "--draft", DRAFT, "--algorithm", "sd"]) == 64
    assert "needs --algorithm tli, union, slem or slrs" in capsys.readouterr().err
    assert main([*base, "--algorithm", "slem"]) == 64
    assert "--draft is required for --algorithm slem" in capsys.readouterr().err
