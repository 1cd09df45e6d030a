"""Toy tokenizers: the pinned encode rule, decode, non-injectivity, relations, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specproof.reference.strategies import toy_tokenizers
from specproof.reference.tokenizers import VOCABULARY_RELATIONS, ToyTokenizer, vocabulary_relation

TOK = ToyTokenizer(["a", "b", "c", "ab", "abc", "ca"])


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", ()),
        ("abc", ("abc",)),
        ("abab", ("ab", "ab")),
        ("abca", ("abc", "a")),  # greedy: "abc" first, although "ab" + "ca" also spells it
        ("cab", ("ca", "b")),
        ("bca", ("b", "ca")),
    ],
)
def test_encode_is_greedy_longest_match(text, tokens):
    assert TOK.encode(text) == tokens


def test_decode_concatenates_and_token_sequences_are_not_unique():
    assert TOK.decode(("ab", "ca")) == TOK.decode(("abc", "a")) == "abca"
    assert TOK.encode("abca") == ("abc", "a")  # only one of them is canonical


@given(st.text(alphabet="abc", max_size=12))
def test_injective_tokenizer_round_trips(text):
    assert TOK.is_injective and TOK.decode(TOK.encode(text)) == text
    assert all(token in TOK.tokens for token in TOK.encode(text))


def test_lossy_tokenizer_normalises_before_matching():
    lossy = ToyTokenizer(["a", "b", "ab"], normalise={"A": "a", "-": ""})
    assert not lossy.is_injective
    assert lossy.encode("A-b") == lossy.encode("ab") == ("ab",)
    assert lossy.decode(lossy.encode("A-b")) == "ab" != "A-b"
    assert lossy.can_express("A-b") and not lossy.can_express("Ac")
    assert lossy.expressible_prefix("A-bcab") == "ab"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: TOK.encode("abx"), r"text: character 'x' at index 2 is outside"),
        (lambda: TOK.encode(["a"]), "text must be a string"),
        (lambda: TOK.decode(("ab", "ba")), r"tokens holds tokens outside the vocabulary: \['ba'\]"),
        (lambda: ToyTokenizer([]), "tokens must not be empty"),
        (lambda: ToyTokenizer(["a", ""]), "non-empty strings"),
        (lambda: ToyTokenizer(["a", "a"]), "tokens must be distinct"),
        (lambda: ToyTokenizer(["a", "ab"]), r"must be a token on its own; missing \['b'\]"),
        (lambda: ToyTokenizer(["a"], normalise={"AB": "a"}), "single character"),
        (lambda: ToyTokenizer(["a"], normalise={"a": ""}), "is in the alphabet"),
        (lambda: ToyTokenizer(["a"], normalise={"A": "b"}), "must be a string over the alphabet"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("first", "second", "relation"),
    [
        (["a", "b", "ab"], ["b", "ab", "a"], "equal"),
        (["a", "b"], ["a", "b", "ab"], "subset"),
        (["a", "b", "ab", "ba"], ["a", "b", "ab"], "superset"),
        (["a", "b", "ab", "aa"], ["a", "b", "ab", "bb"], "overlapping"),
        (["a", "b", "ab"], ["a", "b", "ba"], "singles_only"),
        (["a", "aa"], ["b", "bb"], "disjoint"),
    ],
)
def test_vocabulary_relations(first, second, relation):
    assert vocabulary_relation(ToyTokenizer(first), ToyTokenizer(second)) == relation
    assert relation in VOCABULARY_RELATIONS


@given(toy_tokenizers(lossy=True), st.text(alphabet="abcX-", max_size=8))
def test_encode_then_decode_is_the_normalised_text(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text)) == tokenizer.normalised(text)
