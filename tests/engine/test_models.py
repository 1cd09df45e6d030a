"""Models: tiny, random and real models load offline; bad names, paths and files are refused."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine import models  # noqa: E402
from specproof.engine.models import (  # noqa: E402
    char_tokenizer,
    convert_gguf,
    drop_layers,
    load_model,
    parse_model_name,
    random_model,
    tiny_model,
)


def test_char_tokenizer_round_trip_and_vocabulary() -> None:
    tokenizer = char_tokenizer("abc")
    assert len(tokenizer) == 4
    assert tokenizer.eos_token_id == 0
    ids = tokenizer("cab")["input_ids"]
    assert ids == [3, 1, 2]
    assert tokenizer.decode(ids) == "cab"


def test_char_tokenizer_pads_to_vocab_size() -> None:
    tokenizer = char_tokenizer(vocab_size=300)
    assert len(tokenizer) == 300
    assert tokenizer.decode(tokenizer("hi there")["input_ids"]) == "hi there"


@pytest.mark.parametrize("arch", ["llama", "gpt2", "starcoder"])
def test_tiny_model_forward_is_a_distribution_over_its_vocabulary(arch: str) -> None:
    tiny = tiny_model(arch, vocab=5, dtype=torch.float64)
    assert tiny.vocab_size == 5
    assert len(tiny.tokenizer) == 5
    ids = torch.tensor([tiny.tokenizer("abca")["input_ids"]])
    logits = tiny.model(ids).logits
    assert logits.shape == (1, 4, 5)
    assert logits.dtype == torch.float64
    probs = torch.softmax(logits[0, -1], -1)
    # init_std=1 gives far-from-uniform rows: the max probability exceeds uniform by a margin.
    assert float(probs.max().detach()) > 0.3


def test_tiny_model_weights_are_a_function_of_the_seed() -> None:
    first = tiny_model("llama", seed=3)
    again = tiny_model("llama", seed=3)
    other = tiny_model("llama", seed=4)
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(first.model(ids).logits, again.model(ids).logits)
    assert not torch.equal(first.model(ids).logits, other.model(ids).logits)


def test_tiny_vocab_out_of_range() -> None:
    with pytest.raises(ValueError, match="vocab"):
        tiny_model("llama", vocab=17)
    with pytest.raises(ValueError, match="vocab"):
        tiny_model("llama", vocab=1)


@pytest.mark.parametrize("name", ["random-gpt2-tiny", "random-starcoder-tiny", "random-llama-tiny"])
def test_random_presets_load(name: str) -> None:
    loaded = load_model(name)
    assert loaded.vocab_size == models.RANDOM_PRESETS[name]["vocab"]
    assert len(loaded.tokenizer) == loaded.vocab_size
    ids = torch.tensor([loaded.tokenizer("def f(x):")["input_ids"]])
    assert loaded.model(ids).logits.shape == (1, ids.shape[1], loaded.vocab_size)


def test_random_model_explicit_sizes_and_param_count() -> None:
    loaded = load_model("random-llama:vocab=1000,hidden=64,layers=3,heads=4,seed=2")
    assert loaded.vocab_size == 1000
    assert loaded.model.config.num_hidden_layers == 3
    # Tied embeddings (1000*64) + 3 layers of attention (4*64*64) and MLP (3*64*192) + norms.
    expected = 1000 * 64 + 3 * (4 * 64 * 64 + 3 * 64 * 192 + 2 * 64) + 64
    assert loaded.num_parameters == expected


def test_load_model_tiny_name_with_options() -> None:
    loaded = load_model("tiny-gpt2:vocab=7,seed=1", dtype=torch.float64)
    assert loaded.vocab_size == 7
    assert next(loaded.model.parameters()).dtype == torch.float64


def test_parse_model_name() -> None:
    assert parse_model_name("smollm2:layers=4") == ("smollm2", {"layers": "4"})
    assert parse_model_name("random-llama") == ("random-llama", {})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no-such-model", "unknown model"),
        ("", "non-empty"),
        ("random-transformerxl", "unknown random model"),
        ("random-llama:hidden=abc", "hidden"),
        ("random-llama:hidden=65,heads=4", "multiple of heads"),
        ("random-llama:layers=0", "layers"),
        ("random-llama:colour=blue", "unknown options"),
        ("random-llama:layers", "key=value"),
        ("smollm2:hidden=4", "apply only"),
        ("/no/such/folder/anywhere", "not a model name nor an existing directory"),
    ],
)
def test_bad_model_names(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_model(name)


def test_directory_without_safetensors_is_refused(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ValueError, match="safetensors"):
        load_model(str(tmp_path))
    (tmp_path / "config.json").unlink()
    with pytest.raises(ValueError, match="config.json"):
        load_model(str(tmp_path))


def test_local_directory_round_trip(tmp_path) -> None:
    tiny = tiny_model("llama", vocab=6, seed=5)
    tiny.model.save_pretrained(tmp_path, safe_serialization=True)
    tiny.tokenizer.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(loaded.model(ids).logits, tiny.model(ids).logits)
    assert loaded.tokenizer.decode([1, 2, 3]) == "abc"


def test_gguf_with_wrong_checksum_is_refused(tmp_path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF not really")
    with pytest.raises(ValueError, match="fails its checksum"):
        convert_gguf(fake, tmp_path / "out", expected_sha256="0" * 64)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_drop_layers_keeps_the_first_layers(arch: str) -> None:
    tiny = tiny_model(arch, vocab=6, layers=3, dtype=torch.float64)
    ids = torch.tensor([[1, 2, 3]])
    full_copy = drop_layers(tiny.model, 3)
    assert torch.equal(full_copy(ids).logits, tiny.model(ids).logits)
    smaller = drop_layers(tiny.model, 1)
    assert smaller.config.num_hidden_layers == 1
    reference = tiny.model(ids, output_hidden_states=True)
    assert not torch.allclose(smaller(ids).logits, reference.logits)
    # The dropped model's logits are the full model's head applied to its layer-1 hidden state.
    final_norm = tiny.model.model.norm if arch == "llama" else tiny.model.transformer.ln_f
    expected = tiny.model.lm_head(final_norm(reference.hidden_states[1]))
    torch.testing.assert_close(smaller(ids).logits, expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="layers"):
        drop_layers(tiny.model, 4)


def test_random_model_unknown_option_names_it() -> None:
    with pytest.raises(ValueError, match="unknown options"):
        random_model("random-gpt2-tiny", {"depth": "3"})


@pytest.mark.slow
def test_smollm2_converts_once_and_loads() -> None:
    from tests.engine.real_models import load_real

    smol = load_real("smollm2")
    assert smol.vocab_size == 49152
    assert smol.model.config.num_hidden_layers == 30
    ids = smol.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = smol.model(ids).logits[0, -1]
    assert smol.tokenizer.decode([int(logits.argmax())]).strip() == "Paris"
    assert (models.cache_dir() / "models" / "smollm2" / "model.safetensors").is_file()


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2", "random-starcoder-tiny"])
def test_random_layers_option_is_the_layer_dropped_model(name: str) -> None:
    """`NAME:layers=1` of a random model is exactly the first layer of `NAME` (weights per name)."""
    full = load_model(name)
    short = load_model(f"{name}:layers=1")
    cut = drop_layers(full.model, 1).state_dict()
    assert sorted(short.model.state_dict()) == sorted(cut)
    for key, value in short.model.state_dict().items():
        assert torch.equal(value, cut[key]), key
    other_seed = load_model(f"{name}:layers=1,seed=9").model.state_dict()
    assert any(not torch.equal(other_seed[key], cut[key]) for key in cut)
