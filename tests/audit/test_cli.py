"""`specproof audit`: exit codes, JSON keys, reports, crashes of the audited code, controls.

The correct sampler is asserted not flagged at alpha = 1e-6 (false-failure probability <= 1e-6);
broken ones are asserted flagged (see tests/audit/test_sampler.py for their power).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from specproof.audit.misbehaving import verify_source
from specproof.cli.main import build_parser, main

SAMPLER = verify_source() + textwrap.dedent(
    """

    def no_bonus(target_probs, draft_probs, draft_tokens, rng):
        out = verify(target_probs, draft_probs, draft_tokens, rng)
        if len(out) == len(draft_tokens) + 1:
            out[-1] = int(np.argmax(target_probs[-1]))
        return out

    def raises(target_probs, draft_probs, draft_tokens, rng):
        raise ZeroDivisionError("division by zero in my kernel")
    """
)

KEYS = {
    "name",
    "verdict",
    "statistic",
    "dof",
    "p_value",
    "n_samples",
    "tv_hat",
    "tv_upper",
    "alpha",
    "error",
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "my_sampler.py").write_text(SAMPLER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_sampler", raising=False)
    return tmp_path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_help_lists_audit():
    text = build_parser().format_help()
    assert "audit" in text


def test_a_correct_sampler_is_consistent_with_exit_code_0(workdir, capsys):
    code = main(["audit", "sampler", "my_sampler:verify", "--tv", "0.1", "--json"])
    data = _json(capsys)
    assert code == 0 and data["verdict"] == "consistent"
    assert data["configurations"] and all(KEYS <= set(c) for c in data["configurations"])


def test_a_broken_bonus_is_not_lossless_with_a_report(workdir, capsys):
    report = workdir / "report"
    code = main(["audit", "sampler", "my_sampler:no_bonus", "--tv", "0.1", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 1 and "verdict: not-lossless" in out
    text = (report / "report.md").read_text()
    assert "not-lossless" in text and ".png" in text
    assert list(report.glob("*.png"))


def test_an_exception_in_the_audited_code_is_a_crashed_verdict(workdir, capsys):
    code = main(["audit", "sampler", "my_sampler:raises", "--samples", "10", "--json"])
    data = _json(capsys)
    assert code == 2 and data["verdict"] == "crashed"
    assert "ZeroDivisionError: division by zero in my kernel" in data["configurations"][0]["error"]


def test_an_unimportable_module_is_a_crashed_verdict(workdir, capsys):
    code = main(["audit", "sampler", "no_such_module:verify", "--json"])
    data = _json(capsys)
    assert code == 2 and "ModuleNotFoundError" in data["configurations"][0]["error"]


def test_too_few_samples_is_inconclusive(workdir, capsys):
    code = main(["audit", "sampler", "my_sampler:verify", "--samples", "30", "--json"])
    assert code == 3 and _json(capsys)["verdict"] == "inconclusive"


@pytest.mark.slow
def test_controls_command(capsys):
    """The command's plumbing behind the process boundary, on one control of each kind (the
    correct sampler, a lossless rule with another round law, two broken ones);
    tests/audit/test_sampler.py audits every control, with the same audit, in process."""
    only = ["standard-sd", "sample-and-match", "wrong-q-reported", "bonus-off-by-one"]
    code = main(["audit", "controls", "--json", "--tv", "0.1", *(f"--only={n}" for n in only)])
    data = _json(capsys)
    assert code == 0 and data["ok"]
    assert [c["control"].split(" (")[0] for c in data["controls"]] == only
    expected = ["consistent", "consistent", "not-lossless", "not-lossless"]
    assert [c["verdict"] for c in data["controls"]] == expected
    (lossless,) = [c for c in data["controls"] if "lossless, other round law" in c["control"]]
    assert any("differs from standard SD" in s for s in lossless["round_law"])


def test_controls_only_names_every_control_and_refuses_others(capsys):
    from specproof.audit.controls import RUNS
    from specproof.cli.audit import CONTROL_NAMES

    assert list(CONTROL_NAMES) == [name.split(" (")[0] for name, _, _ in RUNS]
    assert main(["audit", "controls", "--only", "nope"]) == 64  # usage (exit-codes table)
    assert "argument --only: invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_transformers_greedy_subcommand_runs_in_a_subprocess(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "specproof.cli.main",
            "audit",
            "transformers",
            "--greedy",
            "--mode",
            "prompt-lookup",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    data = json.loads(result.stdout)
    (config,) = data["configurations"]
    assert config["name"] == "prompt-lookup/greedy" and config["error"] is None
    assert (
        result.returncode
        == {"consistent": 0, "not-lossless": 1, "crashed": 2, "inconclusive": 3}[data["verdict"]]
    )


GENERATE = textwrap.dedent(
    """
    import torch
    from specproof.engine.models import load_model

    target = load_model("tiny-llama")

    def generate(prompt_ids, max_new_tokens, seed, temperature=1.0):
        torch.manual_seed(seed)
        ids = torch.tensor([prompt_ids])
        out = target.model.generate(
            ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=0,
            temperature=temperature, max_new_tokens=max_new_tokens, pad_token_id=0, eos_token_id=0,
        )
        return out[0, len(prompt_ids):].tolist()

    def hot(prompt_ids, max_new_tokens, seed):
        return generate(prompt_ids, max_new_tokens, seed, temperature=3.0)

    def greedy(prompt_ids, max_new_tokens, seed):
        ids = torch.tensor([prompt_ids])
        out = target.model.generate(
            ids, attention_mask=torch.ones_like(ids), do_sample=False,
            max_new_tokens=max_new_tokens, pad_token_id=0, eos_token_id=0,
        )
        return out[0, len(prompt_ids):].tolist()
    """
)


@pytest.mark.slow
def test_greedy_generate_audit_reaches_a_verdict_and_samples_has_effect(
    tmp_path, monkeypatch, capsys
):
    """The default prompt has 4 characters; the greedy audit still checks the planned number
    of distinct prompts (44 at the default TV 0.1 and power 0.99: 0.9**44 < 0.01) (consistent), and `--samples` sets how many. Negative control: the
    temperature-3 sampler audited as greedy is flagged (mismatches are certain)."""
    pytest.importorskip("torch")
    (tmp_path / "my_generate.py").write_text(GENERATE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_generate", raising=False)
    code = main(["audit", "generate", "my_generate:greedy", "--greedy", "--json"])
    data = _json(capsys)
    (config,) = data["configurations"]
    assert code == 0 and data["verdict"] == "consistent", config
    assert config["n_samples"] == config["n_required"] == 44
    assert config["details"]["prompts"] >= 44
    hot = ["audit", "generate", "my_generate:hot", "--greedy", "--samples", "20", "--json"]
    assert main(hot) == 1
    assert _json(capsys)["configurations"][0]["n_samples"] == 20


@pytest.mark.slow
def test_generate_level_and_two_sample_mode(tmp_path, monkeypatch, capsys):
    """Plain sampling is not flagged (false failure <= 1e-6); temperature 3 against the T = 1
    law is (first-token TV > 0.3 for this prompt; power > 1 - 1e-6 at 300 samples)."""
    pytest.importorskip("torch")
    (tmp_path / "my_generate.py").write_text(GENERATE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_generate", raising=False)
    common = ["--samples", "300", "--tv", "0.3", "--prompt", "abca", "--json"]
    code = main(["audit", "generate", "my_generate:generate", *common])
    data = _json(capsys)
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3)
    assert data["configurations"][0]["n_samples"] == 300
    assert main(["audit", "generate", "my_generate:hot", *common]) == 1
    _json(capsys)
    code = main(
        ["audit", "generate", "my_generate:hot", "--baseline", "my_generate:generate", *common]
    )
    assert code == 1 and _json(capsys)["configurations"][0]["details"]["mode"] == "two-sample"


def test_transformers_options_select_the_configurations(capsys):
    pytest.importorskip("transformers")
    code = main(
        [
            "audit",
            "transformers",
            "--mode",
            "same-tokenizer",
            "--do-sample",
            "--top-k",
            "2",
            "--samples",
            "40",
            "--in-process",  # the boundary path: tests/audit/test_hf_isolated.py (slow tier)
            "--json",
        ]
    )
    data = _json(capsys)
    names = [c["name"] for c in data["configurations"]]
    assert names and all("top-k=2" in n and n.startswith("same-tokenizer/sample") for n in names)
    assert all(c["n_samples"] == 40 for c in data["configurations"])
    assert (
        code
        == {"consistent": 0, "not-lossless": 1, "crashed": 2, "inconclusive": 3}[data["verdict"]]
    )


def test_bad_arguments_are_refused_with_the_argument_named(capsys):
    """Usage errors exit 64 (USAGE), never 2, the `crashed` verdict."""
    assert main(["audit", "sampler", "my_sampler:verify", "--samples", "0"]) == 64
    assert "--samples" in capsys.readouterr().err
    assert main(["audit", "controls", "--alpha", "1.5"]) == 64
    assert "--alpha" in capsys.readouterr().err
    assert main(["audit", "sampler", "my_sampler:verify", "--seed", "-1"]) == 64
    assert "--seed" in capsys.readouterr().err
    assert main(["audit", "sampler", "my_sampler:verify", "--tv", "1e-300"]) == 64
    assert "--tv" in capsys.readouterr().err
    assert main(["audit", "transformers", "--temperature", "0"]) == 64
    assert "temperature" in capsys.readouterr().err


def test_a_report_path_that_is_a_file_is_refused_before_the_audit(workdir, capsys):
    (workdir / "taken").write_text("")
    code = main(["audit", "sampler", "my_sampler:verify", "--report", "taken", "--json"])
    captured = capsys.readouterr()
    assert code == 73 and "--report" in captured.err and captured.out == ""


REQUEST_GENERATE = textwrap.dedent(
    """
    import torch


    def generate(request):
        torch.manual_seed(request.seed)
        ids = torch.tensor(request.row_prompts())
        extra = {}
        if request.regime is not None:
            # One draft per round, always: the heuristic schedule and the confidence threshold
            # adapt across calls, which the boundary's replay check reports as randomness
            # outside the seed.
            draft = request.draft_model
            draft.generation_config.num_assistant_tokens = 1
            draft.generation_config.num_assistant_tokens_schedule = "constant"
            draft.generation_config.assistant_confidence_threshold = 0.0
            extra["assistant_model"] = draft
        out = request.model.generate(
            ids, attention_mask=torch.ones_like(ids), pad_token_id=0,
            eos_token_id=request.eos_token_id, **request.generate_kwargs(), **extra,
        )
        return out[:, ids.shape[1]:].tolist()


    def hard_coded(request):
        return generate(request.replace(top_k=None, temperature=1.0))
    """
)


@pytest.mark.slow
def test_request_convention_with_a_local_target_folder_and_batches(tmp_path, monkeypatch, capsys):
    """`--target FOLDER` and `--batch-size 8`: the request gives the model and the settings
    (top-k 2), rows are samples (400 samples in 50 calls); not flagged (false failure
    <= 1e-6). Negative control: top-k ignored, an impossible first token appears in 400
    samples with probability > 1 - 1e-6 (computed below from the exact law)."""
    torch = pytest.importorskip("torch")
    from specproof.audit.generation import Processing, TargetLaw
    from specproof.engine.models import load_model

    loaded = load_model("tiny-llama")
    folder = tmp_path / "model"
    loaded.model.save_pretrained(folder, safe_serialization=True)
    loaded.tokenizer.save_pretrained(folder)
    (tmp_path / "my_request.py").write_text(REQUEST_GENERATE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_request", raising=False)
    common = ["--target", str(folder), "--top-k", "2", "--batch-size", "8", "--samples", "400"]
    common += ["--tv", "0.3", "--json"]
    code = main(["audit", "generate", "my_request:generate", *common])
    data = _json(capsys)
    (config,) = data["configurations"]
    assert code in (0, 3) and config["error"] is None, config
    assert config["n_samples"] == 400 and config["details"]["timing"]["calls"] == 50
    timing = config["details"]["timing"]
    assert timing["implementation_seconds"] > 0 and timing["auditor_s_per_sample"] >= 0
    prompt = loaded.tokenizer.encode("abca", add_special_tokens=False)
    law = TargetLaw(loaded.model, Processing(top_k=2), loaded.eos_token_id)
    plain = Processing().probs(law.logits([prompt])[0], prompt)
    assert (1 - plain[law.next_probs(prompt) == 0].sum()) ** 400 < 1e-6
    assert main(["audit", "generate", "my_request:hard_coded", *common]) == 1
    _json(capsys)
    # The old three-argument convention cannot take batches: a usage error, not a verdict.
    (tmp_path / "my_ids.py").write_text(
        "def generate(prompt_ids, max_new_tokens, seed):\n    return []\n"
    )
    assert main(["audit", "generate", "my_ids:generate", *common]) == 64
    assert "--batch-size" in capsys.readouterr().err
    del torch


@pytest.mark.slow
def test_drafting_regimes_from_the_command_line(tmp_path, monkeypatch, capsys):
    """`--draft` runs the three regimes, each its own configuration, over two full rounds by
    default (4 tokens); transformers' assisted generation is not flagged in any (false failure
    <= 1e-6)."""
    pytest.importorskip("torch")
    (tmp_path / "my_request.py").write_text(REQUEST_GENERATE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_request", raising=False)
    args = ["audit", "generate", "my_request:generate", "--draft", "tiny-llama:layers=1"]
    code = main([*args, "--samples", "100", "--tv", "0.5", "--json"])
    data = _json(capsys)
    regimes = [c["details"]["regime"] for c in data["configurations"]]
    assert regimes == ["own", "draft=target", "far-draft"]
    assert all(c["details"]["max_new_tokens"] == 4 for c in data["configurations"])
    assert all(c["error"] is None for c in data["configurations"]), data
    assert data["verdict"] != "not-lossless" and code in (0, 3)
    assert main(["audit", "generate", "my_request:generate", "--regimes", "own"]) == 64
    assert "--draft" in capsys.readouterr().err


def test_the_text_output_says_where_the_time_went(workdir, capsys):
    code = main(["audit", "sampler", "my_sampler:verify", "--tv", "0.3"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("time "))
    assert "implementation" in line and "auditor" in line and "ms/sample" in line
    assert code == 0 and "verdict: consistent" in out
