"""`specproof disco train` end to end on tiny models, and its errors with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.cli.main import main  # noqa: E402
from specproof.engine.disco import LearnedPolicy, load_policy  # noqa: E402

PAIR = ["--target", "tiny-llama:vocab=8,seed=1", "--draft", "tiny-llama:vocab=8,seed=1,layers=1"]


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("abc\nbca\n\ncab\nabcabc\naab\nbba\n")
    return path


def test_train_writes_a_policy_and_reports_held_out_metrics(
    tmp_path: Path, prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "policy.json"
    args = ["disco", "train", *PAIR, "--prompts", str(prompts), "--out", str(out)]
    code = main([*args, "--max-k", "3", "--max-new-tokens", "8", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    # 6 prompts: the last quarter (1) is held out.
    assert report["train_prompts"] == 5 and report["tune_prompts"] == 1
    assert 0 <= report["held_out"]["accuracy"] <= 1 and report["held_out"]["n"] > 0
    assert report["c_source"] == "measured" and report["c"] > 0
    policy = load_policy(out)
    assert isinstance(policy, LearnedPolicy) and policy.max_k == report["policy_max_k"]
    assert 1 <= policy.max_k <= report["recorded_max_k"] == 3
    assert policy.training["target"] == "tiny-llama:vocab=8,seed=1"


def test_text_output_and_tune_file_and_jsonl(
    tmp_path: Path, prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tune = tmp_path / "tune.jsonl"
    tune.write_text('"acb"\n{"prompt": "bac\\nab"}\n')
    out = tmp_path / "p.json"
    args = ["disco", "train", *PAIR, "--prompts", str(prompts), "--tune-prompts", str(tune)]
    code = main([*args, "--out", str(out), "--max-k", "2", "--max-new-tokens", "6"])
    assert code == 0
    text = capsys.readouterr().out
    assert "accuracy (tuned threshold)" in text and f"wrote {out}" in text
    assert load_policy(out).training["tune_prompts"] == 2


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"--prompts": "missing.txt"}, 65, "--prompts"),
        ({"--prompts": "one.txt"}, 64, "at least 2 prompts"),
        ({"--tune-prompts": "bad.jsonl"}, 65, "line 1"),
        ({"--out": "no/such/folder/p.json"}, 73, "--out"),
        ({"--out": "."}, 73, "folder"),
        ({"--target": "nonsense-model"}, 65, "--target"),
        ({"--draft": "ngram:n=x"}, 64, "--draft"),
        ({"--max-k": "0"}, 64, "--max-k"),
    ],
)
def test_errors_exit_with_their_code(
    tmp_path: Path,
    prompts: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str],
    code: int,
    words: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.txt").write_text("abc\n")
    (tmp_path / "bad.jsonl").write_text("[1]\n")
    flags = {"--prompts": str(prompts), "--out": str(tmp_path / "p.json"), **change}
    args = ["disco", "train", *PAIR, "--max-new-tokens", "4"]
    for flag, value in flags.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert main(args) == code
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in err and words in err
    assert not (tmp_path / "p.json").exists()
