"""Helper for an implementation's plan table: the fields its plans share, the standard sizes.

Most plans of one implementation go through one adapter module and one library path, and every
greedy or generation-level plan of the catalogue uses the same audit sizes unless it says
otherwise. [`PlanTable`][] holds the shared fields once and adds the level's standard sizes
([`STANDARD_SIZES`][]), so an entry names only what sets it apart.
"""

from typing import Any

from harness import Plan

#: The audit sizes of a level unless a plan gives its own: a greedy-level plan compares `m` new
#: tokens per prompt with the target's greedy path; a generation-level plan tests the law of the
#: first `m` tokens with `samples` draws, down to a TV of `tv` (wider than `Plan`'s default
#: 0.1). The sampler level has none.
STANDARD_SIZES: dict[str, dict[str, Any]] = {
    "greedy": {"m": 8},
    "generation": {"m": 2, "samples": 1200, "tv": 0.15},
    "sampler": {},
}


class PlanTable:
    """The plans of one implementation that share an adapter module, a path and other fields.

    Args:
        adapter: the adapter module (under `bench/findings/adapters`) every plan's function is in.
        path: the library's module and function the plans drive (a plan may override it).
        **shared: further [`Plan`][] fields every plan of the table takes, standard sizes among
            them (a plan may override them).
    """

    def __init__(self, adapter: str, path: str, **shared: Any) -> None:
        self.adapter = adapter
        self.shared = {"path": path, **shared}

    def plan(
        self, level: str, name: str, configuration: str, function: str | None = None, **fields: Any
    ) -> Plan:
        """One plan: the level's standard sizes, overridden by the shared fields, then by `fields`.

        Args:
            level: `greedy`, `generation` or `sampler`.
            name: the configuration's short name.
            configuration: the settings, in words.
            function: the adapter function's name (default: `name` with `-` read as `_`).
            **fields: the other [`Plan`][] fields that differ from the shared ones or the sizes.
        """
        function = name.replace("-", "_") if function is None else function
        return Plan(
            name=name,
            function=f"{self.adapter}:{function}",
            configuration=configuration,
            level=level,
            **{**STANDARD_SIZES[level], **self.shared, **fields},
        )

    def greedy(self, name: str, configuration: str, **fields: Any) -> Plan:
        """`plan("greedy", ...)`: a greedy-level plan."""
        return self.plan("greedy", name, configuration, **fields)

    def sampling(self, name: str, configuration: str, **fields: Any) -> Plan:
        """`plan("generation", ...)`: a generation-level (sampling) plan."""
        return self.plan("generation", name, configuration, **fields)
