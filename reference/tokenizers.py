r"""Toy tokenizers over a small alphabet, with multi-character tokens.

A [`ToyTokenizer`][specproof.reference.tokenizers.ToyTokenizer] has a vocabulary of non-empty
strings. Its *alphabet* is the set of characters its tokens are made of, and every character of
the alphabet is a token on its own, so every string over the alphabet can be encoded.

**Encode rule (pinned).** First *normalise*: replace each character found in `normalise` by its
replacement (possibly empty: the character is dropped). Then *greedy longest match*, left to
right: at each position take the longest token that the remaining text starts with. There is no
backtracking; single-character tokens make it always succeed over the alphabet.

**Decode** is concatenation of the tokens' strings.

Two kinds of non-injectivity, both exercised by the string-level laws:

- *lossy encoding*: with a non-empty `normalise`, distinct strings encode alike and
  $\mathrm{decode}(\mathrm{encode}(s)) \ne s$ (as real tokenizers that normalise Unicode, case or
  whitespace, or map unknown bytes to one token);
- *non-canonical token sequences*: with multi-character tokens, several token sequences decode
  to one string (`("ab",)` and `("a", "b")`), and only one of them is what `encode` returns.
  A target model may still generate the others.

Vocabularies of two tokenizers relate as one of
[`VOCABULARY_RELATIONS`][specproof.reference.tokenizers.VOCABULARY_RELATIONS]; see
[`vocabulary_relation`][specproof.reference.tokenizers.vocabulary_relation].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

VocabularyRelation = Literal[
    "equal", "subset", "superset", "overlapping", "singles_only", "disjoint"
]

VOCABULARY_RELATIONS: Final[tuple[VocabularyRelation, ...]] = (
    "equal",
    "subset",
    "superset",
    "overlapping",
    "singles_only",
    "disjoint",
)
"""How two vocabularies relate (see `vocabulary_relation`)."""


@dataclass(frozen=True, init=False)
class ToyTokenizer:
    r"""A tokenizer with a vocabulary of strings, greedy longest-match encoding and a normaliser.

    Args:
        tokens: the vocabulary, distinct non-empty strings, in order; every character used in a
            token must also be a token on its own.
        normalise: `{character: replacement}` applied before matching; each key is one character
            outside the alphabet, each replacement a string over the alphabet (possibly empty).

    Raises:
        ValueError: on an empty vocabulary, a non-string, empty or repeated token, a character
            without its single-character token, or a bad `normalise` entry.

    Examples:
        >>> tok = ToyTokenizer(["a", "b", "ab", "aba"])
        >>> tok.encode("ababb")
        ('aba', 'b', 'b')
        >>> tok.decode(("ab", "a"))
        'aba'
        >>> lossy = ToyTokenizer(["a", "b", "ab"], normalise={"A": "a", "-": ""})
        >>> lossy.encode("A-b"), lossy.decode(lossy.encode("A-b"))
        (('ab',), 'ab')
        >>> tok.encode("abc")
        Traceback (most recent call last):
        ...
        ValueError: text: character 'c' at index 2 is outside the tokenizer's alphabet ['a', 'b']
    """

    tokens: tuple[str, ...]
    normalise: Mapping[str, str]

    def __init__(self, tokens: Sequence[str], normalise: Mapping[str, str] | None = None) -> None:
        tokens = tuple(tokens)
        if not tokens:
            raise ValueError("tokens must not be empty")
        for token in tokens:
            if not isinstance(token, str) or token == "":
                raise ValueError(f"tokens must be non-empty strings, got {token!r}")
        if len(set(tokens)) != len(tokens):
            repeated = sorted({t for t in tokens if tokens.count(t) > 1})
            raise ValueError(f"tokens must be distinct, repeated: {repeated!r}")
        alphabet = {c for token in tokens for c in token}
        missing = sorted(c for c in alphabet if c not in tokens)
        if missing:
            raise ValueError(
                f"tokens: every character must be a token on its own; missing {missing!r}"
            )
        normalise = dict(normalise or {})
        for key, value in normalise.items():
            if not isinstance(key, str) or len(key) != 1:
                raise ValueError(f"normalise: key {key!r} must be a single character")
            if key in alphabet:
                raise ValueError(f"normalise: key {key!r} is in the alphabet (it is a token)")
            if not isinstance(value, str) or any(c not in alphabet for c in value):
                raise ValueError(
                    f"normalise[{key!r}] = {value!r} must be a string over the alphabet "
                    f"{sorted(alphabet)!r}"
                )
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "normalise", normalise)

    @property
    def alphabet(self) -> frozenset[str]:
        """The characters the tokens are made of."""
        return frozenset(c for token in self.tokens for c in token)

    @property
    def is_injective(self) -> bool:
        """Whether `decode(encode(s)) == s` for every string `s` it can encode (no normaliser)."""
        return not self.normalise

    def can_express(self, text: str) -> bool:
        """Whether every character of `text` is in the alphabet or normalised into it."""
        alphabet = self.alphabet
        return all(c in alphabet or c in self.normalise for c in text)

    def normalised(self, text: str, what: str = "text") -> str:
        """`text` with the normaliser applied.

        Raises:
            ValueError: naming `what`, at the first character it cannot express.
        """
        alphabet = self.alphabet
        out = []
        for index, char in enumerate(text):
            if char in alphabet:
                out.append(char)
            elif char in self.normalise:
                out.append(self.normalise[char])
            else:
                raise ValueError(
                    f"{what}: character {char!r} at index {index} is outside the tokenizer's "
                    f"alphabet {sorted(alphabet)!r}"
                )
        return "".join(out)

    def expressible_prefix(self, text: str) -> str:
        """The longest prefix of `text` it can express, normalised."""
        end = 0
        while end < len(text) and self.can_express(text[end]):
            end += 1
        return self.normalised(text[:end])

    def encode(self, text: str, what: str = "text") -> tuple[str, ...]:
        """Normalise `text`, then split it by greedy longest match, left to right.

        Raises:
            ValueError: naming `what`, if `text` holds a character it cannot express.
        """
        if not isinstance(text, str):
            raise ValueError(f"{what} must be a string, got {type(text).__name__}")
        text = self.normalised(text, what)
        longest = max(len(t) for t in self.tokens)
        vocab = set(self.tokens)
        out: list[str] = []
        position = 0
        while position < len(text):
            for length in range(min(longest, len(text) - position), 0, -1):
                piece = text[position : position + length]
                if piece in vocab:
                    out.append(piece)
                    position += length
                    break
        return tuple(out)

    def decode(self, tokens: Iterable[str], what: str = "tokens") -> str:
        """The concatenation of `tokens`' strings.

        Raises:
            ValueError: naming `what`, if a token is not in the vocabulary.
        """
        tokens = tuple(tokens)
        outside = [t for t in tokens if t not in set(self.tokens)]
        if outside:
            raise ValueError(f"{what} holds tokens outside the vocabulary: {outside!r}")
        return "".join(tokens)


def vocabulary_relation(first: ToyTokenizer, second: ToyTokenizer) -> VocabularyRelation:
    """How the vocabulary of `first` relates to that of `second` (as sets of strings).

    `"subset"`/`"superset"` are strict; `"overlapping"` means they share a multi-character token
    and neither contains the other; `"singles_only"` that they share only single characters;
    `"disjoint"` that they share nothing.

    Examples:
        >>> a, b = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
        >>> vocabulary_relation(a, b), vocabulary_relation(a, ToyTokenizer(["a", "b"]))
        ('singles_only', 'superset')
    """
    one, two = set(first.tokens), set(second.tokens)
    if one == two:
        return "equal"
    if one < two:
        return "subset"
    if one > two:
        return "superset"
    shared = one & two
    if not shared:
        return "disjoint"
    if all(len(t) == 1 for t in shared):
        return "singles_only"
    return "overlapping"


__all__ = ["VOCABULARY_RELATIONS", "ToyTokenizer", "VocabularyRelation", "vocabulary_relation"]
