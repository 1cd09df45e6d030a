"""`specproof audit generate --draft`: auditing generation with a drafter of another tokenizer.

Target `tiny-llama:vocab=4,seed=1` (`<eos>` + 'abc'), drafter `tiny-llama:vocab=16,seed=2`
(`<eos>` + 15 letters): after the prompt the drafter puts only about 3% of its mass on the four
shared tokens, so TLI's renormalisation matters. The engine's TLI must pass; the negative
control `tli_unnormalised` (drafts from $q / q(I)$ but verifies as if it had drafted uniformly
on $I$: see `specproof.engine.cross_audit`) must be `not-lossless`.
Verdicts at `--tv 0.3` with the auditor's default alpha (family-wise false failure <= 1e-6
for the consistent run; power >= 1 - 1e-6 planned at TV 0.3 for the control).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from specproof.cli.main import main  # noqa: E402

TARGET, DRAFT = "tiny-llama:vocab=4,seed=1", "tiny-llama:vocab=16,seed=2"
# 200 samples per regime: the audit plans 189 at --tv 0.3 (its `needed` column), so every regime
# is decided at full planned power; each sample is a whole generation in the audited process.
COMMON = ["--target", TARGET, "--draft", DRAFT, "--samples", "200", "--tv", "0.3", "--json"]


def audit(function: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code = main(["audit", "generate", f"specproof.engine.cross_audit:{function}", *COMMON, *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_engine_tli_passes_and_the_unnormalised_control_fails(capsys):
    code, data = audit("tli", capsys)
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3), data
    # The control needs one regime: under `own` (the drafter above, ~97% of its mass off the
    # shared tokens) the unnormalised verification is far from the target's law.
    code, data = audit("tli_unnormalised", capsys, "--regimes", "own")
    assert [c["details"]["regime"] for c in data["configurations"]] == ["own"]
    assert data["verdict"] == "not-lossless" and code == 1, data


def test_a_bad_draft_name_names_the_flag(capsys):
    code = main(["audit", "generate", "specproof.engine.cross_audit:tli", "--draft", "nope"])
    assert code == 65  # bad input data (exit-codes table), as --target's
    assert "--draft 'nope': model: unknown model" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("function", ["union", "slem", "slrs"])
def test_engine_union_slem_slrs_pass(function, capsys):
    """The engine's other sampled cross-vocabulary paths pass the same audit."""
    code, data = audit(function, capsys)
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3), data


@pytest.mark.slow
def test_engine_greedy_slem_is_the_targets_greedy(capsys, monkeypatch):
    """Greedy audits take no --draft (the CLI refuses drafting regimes with --greedy)."""
    monkeypatch.setenv("SPECPROOF_DRAFT", DRAFT)
    args = ["--target", TARGET, "--greedy", "--tv", "0.3", "--json"]
    code = main(["audit", "generate", "specproof.engine.cross_audit:slem_greedy", *args])
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "consistent" and code == 0, data
