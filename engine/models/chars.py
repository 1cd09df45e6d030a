"""Character tokenizers held in memory, for random and tiny models."""

from __future__ import annotations

from typing import Any

#: The characters of tiny models' vocabularies, after the end-of-sequence token `<eos>`.
TINY_ALPHABET = "abcdefghijklmno"


def char_tokenizer(alphabet: str | None = None, *, vocab_size: int | None = None) -> Any:
    """A character-level tokenizer held in memory (the `tokenizers` library, no files).

    Token 0 is `<eos>`, then one token per character of `alphabet` (default: printable ASCII
    when `vocab_size` is given, else [`TINY_ALPHABET`][specproof.engine.models.chars.TINY_ALPHABET]); when `vocab_size` is larger than
    that, filler tokens `<t{i}>` complete the vocabulary, so any random model's token ids
    decode. Encoding splits text into characters; a character outside the alphabet encodes as
    `<eos>` (token 0: the tokenizer needs an unknown token, and a separate `<unk>` would make tiny
    vocabularies larger than the alphabet), so check the text first where that matters.

    Raises:
        ValueError: on a repeated character or a `vocab_size` below the alphabet's size + 1.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if alphabet is None:
        alphabet = (
            "".join(chr(c) for c in range(32, 127)) if vocab_size is not None else TINY_ALPHABET
        )
    if len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet must hold distinct characters, got {alphabet!r}")
    if vocab_size is not None and vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
    if vocab_size is not None and vocab_size < len(alphabet) + 1:
        alphabet = alphabet[: vocab_size - 1]
    vocab = {"<eos>": 0}
    for char in alphabet:
        vocab[char] = len(vocab)
    for extra in range(len(vocab), vocab_size or len(vocab)):
        vocab[f"<t{extra}>"] = extra
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>")
    tokenizer.alphabet = alphabet
    return tokenizer
