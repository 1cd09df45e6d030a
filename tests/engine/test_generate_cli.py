"""`specproof generate`: streaming text, JSON output, and clear errors."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.cli.main import main  # noqa: E402

TINY = ["--target", "tiny-llama:vocab=8,seed=1", "--draft", "tiny-gpt2:vocab=8,seed=2"]


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["generate", *TINY, "--prompt", "abc", "--k", "3", "--max-new-tokens", "7", "--json"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prompt_tokens"] == [1, 2, 3]
    assert len(data["tokens"]) <= 7
    assert data["stats"]["algorithm"] == "sd"
    # The text is the decoded tokens (EOS, token 0, is a special token and not shown).
    letters = "abcdefg"
    assert data["text"] == "".join(letters[t - 1] for t in data["tokens"] if t != 0)


def test_streams_text_then_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", *TINY, "--prompt", "ab", "--algorithm", "greedy", "--max-new-tokens", "6"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "acceptance_rate" in out and "tokens_per_s" in out
    assert main([*args, "--json"]) == 0
    text = json.loads(capsys.readouterr().out)["text"]
    assert out.startswith(text + "\n")


def test_ar_needs_no_draft(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--target", "random-gpt2-tiny", "--algorithm", "ar", "--prompt", "hi"]
    assert main([*args, "--max-new-tokens", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stats"]["k"] == 0


@pytest.mark.parametrize(
    ("extra", "message", "code"),
    [
        (["--target", "nonsense-model", "--draft", "tiny-llama"], "--target", 65),
        (["--target", "tiny-llama"], "--draft is required", 64),
        (["--target", "tiny-llama", "--draft", "tiny-llama", "--k", "-1"], "--k must", 64),
        (["--target", "tiny-llama:vocab=8", "--draft", "tiny-llama:vocab=9"], "vocabulary", 64),
        (["--target", "./no/such/dir", "--draft", "tiny-llama"], "not a model name", 65),
    ],
)
def test_errors_exit_with_their_code_and_a_message(
    extra: list[str], message: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad flags exit 64 (USAGE), unloadable models 65 (BAD_INPUT): docs/reference/exit-codes.md."""
    assert main(["generate", *extra, "--prompt", "ab"]) == code
    assert message in capsys.readouterr().err


def test_ngram_drafter(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--target", "tiny-llama:vocab=8,seed=1", "--prompt", "abcabcabca"]
    greedy = [*args, "--algorithm", "greedy", "--max-new-tokens", "8", "--json"]
    assert main([*greedy, "--draft", "ngram:n=2", "--k", "3"]) == 0
    lookup = json.loads(capsys.readouterr().out)
    assert lookup["draft"] == "ngram:n=2" and lookup["stats"]["draft_calls"] == 0
    assert lookup["stats"]["drafted"] > 0
    assert main([*greedy, "--k", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == lookup["tokens"]
    assert main([*args, "--draft", "ngram:size=2"]) == 64  # a usage error (cli/exit_codes.py)
    assert "must be n=N" in capsys.readouterr().err


def test_lookahead_json_reports_each_round(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["generate", *TINY, "--prompt", "abc", "--max-new-tokens", "10", "--json"]
    assert main([*base, "--lookahead", "static:2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lookahead"] == "static:2"
    assert data["rounds"] and all(r["k"] == 2 == r["drafted"] for r in data["rounds"])
    assert sum(r["drafted"] for r in data["rounds"]) == data["stats"]["drafted"]
    assert len(data["rounds"]) == data["stats"]["rounds"]
    assert main([*base, "--lookahead", "confidence:0.9:max_k=3"]) == 0
    rounds = json.loads(capsys.readouterr().out)["rounds"]
    assert all(r["k"] == 3 and 1 <= r["drafted"] <= 3 for r in rounds)
    assert any(r["drafted"] < 3 for r in rounds)  # random tiny models are rarely confident
    assert main([*base, "--lookahead", "heuristic:1"]) == 0
    assert json.loads(capsys.readouterr().out)["rounds"][0]["k"] == 1


def test_lookahead_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", *TINY, "--prompt", "ab", "--max-new-tokens", "5", "--lookahead", "static:1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "lookahead" in out and "drafts_per_round" in out


def test_lookahead_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["generate", *TINY, "--prompt", "ab", "--max-new-tokens", "3"]
    assert main([*base, "--lookahead", "confidence:x"]) == 64
    assert "lookahead spec 'confidence:x'" in capsys.readouterr().err
    assert main([*base, "--algorithm", "ar", "--lookahead", "static:2"]) == 64
    assert "--lookahead needs a speculative" in capsys.readouterr().err
    no_draft = ["generate", "--target", "tiny-llama", "--prompt", "ab", "--lookahead", "heuristic"]
    assert main(no_draft) == 64
    assert "--draft is required for --algorithm sd with --lookahead" in capsys.readouterr().err
    # An unreadable policy file is a bad input (65), named by the loader's message.
    import sys
    import types

    module = types.ModuleType("specproof.engine.disco")

    def load_policy(path: str) -> None:
        raise ValueError(f"policy file {path!r} is not valid JSON")

    module.load_policy = load_policy  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "specproof.engine.disco", module)
    assert main([*base, "--lookahead", "disco:bad.json"]) == 65
    assert "policy file 'bad.json' is not valid JSON" in capsys.readouterr().err
