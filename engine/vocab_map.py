r"""The vocabulary map between a target and a drafter tokenizer, built once.

The heterogeneous-vocabulary algorithms (Timor et al., ICML 2025) need the intersection
$I = T \cap D$ of two vocabularies: the token ids of the target and of the drafter that stand
for the *same string*. [`VocabMap`][specproof.engine.vocab_map.VocabMap] holds it as index
tensors, built once from the two lists of token strings (exact string equality, no
normalisation):

- `target_ids` `[|I|]`, ascending; `draft_ids[i]` is the drafter id with the string of
  `target_ids[i]` (so the map is ordered by target id);
- `draft_to_target` `[V_D]` and `target_to_draft` `[V_T]`, `-1` off $I$.

Rules (documented behaviour, tested):

- **Duplicated strings**: if a vocabulary holds one string under several ids, the lowest id
  is the one mapped; the others are outside $I$ (never drafted; the target may still output
  them, which changes nothing in the output law).
- **Special tokens** (ids passed as `target_special` / `draft_special`: `<eos>`, `<bos>`,
  chat markers) are matched only to a special token of the other tokenizer with the same
  string, never to an ordinary token that happens to spell it. A special token present in only
  one vocabulary is outside $I$.
- **Empty intersection** is refused ([`VocabMap.from_strings`][specproof.engine.vocab_map.VocabMap.from_strings]
  raises `ValueError`): TLI and the union baseline have nothing to draft.

For Hugging Face tokenizers, [`token_strings`][specproof.engine.vocab_map.token_strings]
returns the text each id stands for, decoding byte-level BPE (`Ġ` = space) and SentencePiece
(`▁` = space, `<0xNN>` byte tokens) conventions to plain strings, so two tokenizers with
different conventions still match on the text (`"Ġthe"` and `"▁the"` are both `" the"`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import torch


def _first_ids(
    strings: Sequence[str | None], special: Collection[int]
) -> dict[tuple[str, bool], int]:
    """`{(string, is_special): lowest id}`; `None` strings (unmappable ids) are skipped."""
    first: dict[tuple[str, bool], int] = {}
    for index, string in enumerate(strings):
        if string is None:
            continue
        if not isinstance(string, str):
            raise ValueError(f"token strings must be str or None, got {string!r} at id {index}")
        first.setdefault((string, index in special), index)
    return first


@dataclass(frozen=True)
class VocabMap:
    """The intersection of a target and a drafter vocabulary, as id tensors (see the module).

    Attributes:
        target_size: $V_T$.
        draft_size: $V_D$.
        target_ids: `[|I|]` int64, ascending.
        draft_ids: `[|I|]` int64, `draft_ids[i]` has the string of `target_ids[i]`.
        draft_to_target: `[V_D]` int64, the target id of a drafter id, `-1` off $I$.
        target_to_draft: `[V_T]` int64, the drafter id of a target id, `-1` off $I$.
    """

    target_size: int
    draft_size: int
    target_ids: torch.Tensor
    draft_ids: torch.Tensor
    draft_to_target: torch.Tensor
    target_to_draft: torch.Tensor

    @classmethod
    def from_strings(
        cls,
        target_strings: Sequence[str | None],
        draft_strings: Sequence[str | None],
        *,
        target_special: Collection[int] = (),
        draft_special: Collection[int] = (),
    ) -> VocabMap:
        """Build the map from the token strings of each vocabulary (index = token id).

        Args:
            target_strings: the target's token strings; `None` for an id with no string.
            draft_strings: the drafter's token strings.
            target_special: ids of the target's special tokens.
            draft_special: ids of the drafter's special tokens.

        Raises:
            ValueError: on an empty vocabulary, a non-string entry, or an empty intersection.

        Examples:
            >>> m = VocabMap.from_strings(["a", "b", "ab"], ["ba", "b", "a"])
            >>> m.target_ids.tolist(), m.draft_ids.tolist(), m.draft_to_target.tolist()
            ([0, 1], [2, 1], [-1, 1, 0])
        """
        if len(target_strings) == 0 or len(draft_strings) == 0:
            raise ValueError("target_strings and draft_strings must not be empty")
        target_first = _first_ids(target_strings, set(target_special))
        draft_first = _first_ids(draft_strings, set(draft_special))
        pairs = sorted(
            (target_id, draft_first[key])
            for key, target_id in target_first.items()
            if key in draft_first
        )
        if not pairs:
            raise ValueError(
                "target and drafter vocabularies share no token string: TLI and the union "
                "baseline have nothing to draft"
            )
        target_ids = torch.tensor([t for t, _ in pairs], dtype=torch.int64)
        draft_ids = torch.tensor([d for _, d in pairs], dtype=torch.int64)
        draft_to_target = torch.full((len(draft_strings),), -1, dtype=torch.int64)
        draft_to_target[draft_ids] = target_ids
        target_to_draft = torch.full((len(target_strings),), -1, dtype=torch.int64)
        target_to_draft[target_ids] = draft_ids
        return cls(
            len(target_strings),
            len(draft_strings),
            target_ids,
            draft_ids,
            draft_to_target,
            target_to_draft,
        )

    @classmethod
    def from_tokenizers(cls, target_tokenizer: Any, draft_tokenizer: Any) -> VocabMap:
        """Build the map from two Hugging Face tokenizers (see `token_strings`).

        Args:
            target_tokenizer: the target's tokenizer (`PreTrainedTokenizerBase`).
            draft_tokenizer: the drafter's tokenizer.

        Raises:
            ValueError: on an empty intersection.
        """
        return cls.from_strings(
            token_strings(target_tokenizer),
            token_strings(draft_tokenizer),
            target_special=set(target_tokenizer.all_special_ids),
            draft_special=set(draft_tokenizer.all_special_ids),
        )

    @property
    def size(self) -> int:
        """$|I|$."""
        return int(self.target_ids.numel())

    def to(self, device: torch.device | str) -> VocabMap:
        """The same map with its tensors on `device`."""
        return VocabMap(
            self.target_size,
            self.draft_size,
            self.target_ids.to(device),
            self.draft_ids.to(device),
            self.draft_to_target.to(device),
            self.target_to_draft.to(device),
        )

    def draft_tokens_to_target(self, draft_tokens: torch.Tensor) -> torch.Tensor:
        """Drafter ids of shared tokens as target ids.

        Raises:
            ValueError: naming the first drafter id outside $I$.
        """
        mapped = self.draft_to_target[draft_tokens.to(torch.int64)]
        if mapped.numel() and bool((mapped < 0).any()):
            bad = int(draft_tokens.reshape(-1)[int((mapped.reshape(-1) < 0).nonzero()[0])])
            raise ValueError(f"draft_tokens holds drafter id {bad}, which is not a shared token")
        return mapped


_BYTE_TOKEN_LENGTH = 6  # "<0xNN>"


def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's byte-to-unicode table, inverted: `{printable character: byte}`."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = 256 + extra
            extra += 1
    return {chr(c): b for b, c in table.items()}


def token_strings(tokenizer: Any) -> list[str | None]:
    """The text each id of a Hugging Face tokenizer stands for (index = id).

    Byte-level BPE tokens (GPT-2 style, detected by the backend's `ByteLevel` decoder) are
    mapped back to their bytes; SentencePiece-style tokens have `▁` replaced by a space and
    `<0xNN>` byte tokens turned into that byte. Bytes are decoded as UTF-8; a token that is not
    valid UTF-8 on its own (part of a multi-byte character) gets `None` and is outside every
    intersection. Special tokens keep their string.

    Args:
        tokenizer: a `PreTrainedTokenizerBase`.
    """
    size = len(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
    special = set(tokenizer.all_special_ids)
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    byte_level = decoder is not None and "ByteLevel" in repr(decoder)
    table = _byte_level_decoder() if byte_level else {}
    out: list[str | None] = []
    for index, piece in enumerate(pieces):
        if piece is None:
            out.append(None)
            continue
        if index in special:
            out.append(piece)
            continue
        if byte_level:
            try:
                out.append(bytes(table[c] for c in piece).decode("utf-8"))
            except (KeyError, UnicodeDecodeError):
                out.append(None)
            continue
        if len(piece) == _BYTE_TOKEN_LENGTH and piece.startswith("<0x") and piece.endswith(">"):
            try:
                out.append(bytes([int(piece[3:5], 16)]).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                out.append(None)
            continue
        out.append(piece.replace("▁", " "))
    return out


__all__ = ["VocabMap", "token_strings"]
