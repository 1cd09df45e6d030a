r"""Generation level: which draft depths an implementation reached, as it reports them.

The auditor sees only the tokens a generate function returns; which paths of the
implementation produced them (how deep each round drafted, how deep its accepted path went,
in a chain or in a tree) only the implementation knows. A generate function may report them:
instead of the token ids it returns

```python
{"tokens": [...], "rounds": [{"drafted": 3, "accepted": 1}, {"drafted": 3, "accepted": 3}]}
```

per sample (a batched call returns a list of such dicts, one per row), where `drafted` is the
depth of the round's draft (the chain length $K$, or the depth of a tree: the longest path
verified) and `accepted` the depth of its accepted path, $0 \le$ `accepted` $\le$ `drafted`.
The configuration's `details["coverage"]` then says, per depth $d \ge 1$, how many rounds
drafted to depth $d$ and how many accepted through it (`depths`), and which drafted depths were
never accepted (`never_accepted`: the tokens from those depths of the tree were never
exercised, so a bug there cannot have been seen). A generation that reported rounds and never
drafted a token is not `consistent` (`not_consistent_because` says so): its tokens all came from
the target, and its drafting path was never tested.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DepthCoverage:
    """Drafted and accepted depths over all reported rounds.

    Attributes:
        rounds: rounds reported.
        drafted: `{d: rounds whose draft reached depth d}` for `d >= 1`.
        accepted: `{d: rounds whose accepted path reached depth d}` for `d >= 1`.
        reported: whether any sample reported its rounds.
    """

    rounds: int = 0
    drafted: Counter[int] = field(default_factory=Counter)
    accepted: Counter[int] = field(default_factory=Counter)
    reported: bool = False

    def add(self, rounds: Any) -> None:
        """Add one sample's report (a list of `{"drafted": int, "accepted": int}`).

        Args:
            rounds: the sample's `"rounds"` entry.

        Raises:
            ValueError: if it is not such a list, or a round accepts deeper than it drafted.
        """
        if not isinstance(rounds, list | tuple):
            raise ValueError(f"'rounds' must be a list of rounds, got {type(rounds).__name__}")
        self.reported = True
        for i, entry in enumerate(rounds):
            if not isinstance(entry, dict):
                raise ValueError(f"round {i}: expected a dict with 'drafted' and 'accepted'")
            drafted, accepted = entry.get("drafted"), entry.get("accepted")
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (drafted, accepted)):
                raise ValueError(f"round {i}: 'drafted' and 'accepted' must be integers")
            assert isinstance(drafted, int) and isinstance(accepted, int)
            if not 0 <= accepted <= drafted:
                raise ValueError(
                    f"round {i}: need 0 <= accepted <= drafted, got {accepted} and {drafted}"
                )
            self.rounds += 1
            self.drafted.update(range(1, drafted + 1))
            self.accepted.update(range(1, accepted + 1))

    @property
    def drafted_tokens(self) -> int:
        """Draft depths reached, summed over rounds (the tokens drafted on the verified paths)."""
        return sum(self.drafted.values())

    def to_json(self) -> dict[str, Any]:
        """`{"rounds", "drafted_tokens", "depths": {d: {"drafted", "accepted"}}, "never_accepted"}`."""
        depths = sorted(self.drafted)
        return {
            "rounds": self.rounds,
            "drafted_tokens": self.drafted_tokens,
            "depths": {
                str(d): {"drafted": self.drafted[d], "accepted": self.accepted[d]} for d in depths
            },
            "never_accepted": [d for d in depths if not self.accepted[d]],
        }

    def not_consistent_because(self) -> str | None:
        """Why the configuration must not be `consistent`, or None."""
        if self.reported and self.drafted_tokens == 0:
            return (
                f"the implementation reported {self.rounds} rounds and no drafted token: its "
                "drafting path was never exercised"
            )
        return None


def split_report(out: Any, batch_size: int) -> tuple[Any, list[Any] | None]:
    """Separate the tokens from the rounds report of a result (module docstring).

    Args:
        out: what the generate function returned.
        batch_size: the rows asked for.

    Returns:
        `(tokens, reports)`: reports is None when the result holds no report, else one
        `"rounds"` list per row.

    Raises:
        ValueError: on a dict without `"tokens"`, or a batch that mixes reports and plain rows.
    """
    if isinstance(out, dict):
        if "tokens" not in out:
            raise ValueError("a dict result must hold 'tokens' (and 'rounds')")
        rounds = out.get("rounds", [])
        if batch_size == 1:
            return out["tokens"], [rounds]
        if not isinstance(rounds, list | tuple) or len(rounds) != batch_size:
            raise ValueError(
                f"a batched dict result needs one 'rounds' list per row ({batch_size})"
            )
        return out["tokens"], list(rounds)
    if isinstance(out, list | tuple) and out and any(isinstance(row, dict) for row in out):
        if not all(isinstance(row, dict) and "tokens" in row for row in out):
            raise ValueError("a batch must be all plain rows or all {'tokens', 'rounds'} dicts")
        return [row["tokens"] for row in out], [row.get("rounds", []) for row in out]
    return out, None
