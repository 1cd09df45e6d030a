"""`specproof generate --prune`: the pruned-head drafter (vanilla SD and RDK) from the command line."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.cli.main import main  # noqa: E402

TARGET = ["--target", "tiny-llama:vocab=8,seed=1"]
BASE = ["generate", *TARGET, "--prompt", "abc", "--k", "3", "--max-new-tokens", "8", "--json"]


@pytest.mark.parametrize(("algorithm", "mix"), [("sd", None), ("rdk", "bound"), ("rdk", "0.25")])
def test_prune_json(algorithm: str, mix: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["--algorithm", algorithm, "--prune", "0.5"] + (["--mix", mix] if mix else [])
    assert main([*BASE, *extra]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["algorithm"] == algorithm
    assert data["prune"]["kept_tokens"] == 4  # ceil(0.5 * 8)
    assert data["prune"]["drafter"] == "self"
    expected = None if mix is None else mix if mix == "bound" else float(mix)
    assert data["prune"]["mix"] == expected
    assert data["stats"]["draft_calls"] > 0 and len(data["tokens"]) <= 8


def test_prune_a_separate_draft_model(capsys: pytest.CaptureFixture[str]) -> None:
    draft = ["--draft", "tiny-gpt2:vocab=8,seed=2"]
    assert main([*BASE, *draft, "--algorithm", "rdk", "--prune", "0.75"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prune"]["kept_tokens"] == 2 and data["prune"]["drafter"] == draft[1]


def test_prune_with_the_drafts_own_expected_counts(capsys: pytest.CaptureFixture[str]) -> None:
    draft = ["--draft", "tiny-gpt2:vocab=8,seed=2", "--prune-model-texts", "3"]
    assert main([*BASE, *draft, "--algorithm", "sd", "--prune", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out)["prune"]["kept_tokens"] == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--algorithm", "rdk"], "--algorithm rdk needs --prune"),
        (["--algorithm", "ar", "--prune", "0.5"], "--prune works with"),
        (["--algorithm", "sd", "--prune", "0.5", "--mix", "0.1"], "--mix applies"),
        (["--algorithm", "rdk", "--prune", "1"], "--prune must lie in"),
        (["--algorithm", "rdk", "--prune", "0.5", "--mix", "2"], "--mix must be"),
        (["--algorithm", "rdk", "--prune", "0", "--mix", "0.5"], "at least one pruned token"),
        (["--algorithm", "sd", "--prune", "0.5", "--draft", "ngram"], "--prune needs a draft"),
        (
            ["--algorithm", "sd", "--prune", "0.5", "--prune-model-texts", "-1"],
            "--prune-model-texts",
        ),
    ],
)
def test_prune_errors_name_the_flag(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *extra]) == 64
    assert message in capsys.readouterr().err
