"""Hypothesis strategies over `specproof` argument lists, for fuzzing the command line.

[`argv`][specproof.cli.strategies.argv] draws a subcommand's own flags (found by walking the
real parser, so a new flag is fuzzed without editing anything) with values from
[`NONSENSE`][specproof.cli.strategies.NONSENSE] and plausible ones. Used by
tests/cli/test_fuzz.py and bench/bench_reliability.py.
"""

from __future__ import annotations

import argparse

from hypothesis import strategies as st

#: Values no flag should accept as they are (or only where they make sense: "0", "-1").
NONSENSE = [
    "nan",
    "inf",
    "-inf",
    "1e309",
    "-1",
    "0",
    "-0",
    "1e-300",
    "0.9999999999",
    "99999999999999999999999",
    "abc",
    "",
    " ",
    "1,5",
    "0x10",
    "--json",
]
#: Values that many flags accept.
PLAUSIBLE = ["1", "2", "3", "0.5", "0.1", "10", "tiny-llama", "my_sd:verify"]
#: Values for positional arguments (all of them are `MODULE:FUNCTION` today).
POSITIONALS = ["my_sd:verify", "x", ":", "a:b:c", "1"]


def leaf_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """`{"audit sampler": parser, "verify": parser, ...}`: every leaf subcommand's parser.

    Args:
        parser: the root parser (`specproof.cli.main.build_parser()`).
    """
    leaves: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, node: argparse.ArgumentParser) -> None:
        subs = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            leaves[prefix.strip()] = node
            return
        for name, child in subs[0].choices.items():
            walk(f"{prefix} {name}", child)

    walk("", parser)
    return leaves


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The optional arguments of `parser` (not `--help`).

    Args:
        parser: a leaf parser.
    """
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


def argv(command: str, parser: argparse.ArgumentParser) -> st.SearchStrategy[list[str]]:
    """Argument lists for `command`: positionals, required flags, up to 5 other flags, values.

    Args:
        command: the subcommand words, e.g. `"audit sampler"`.
        parser: that subcommand's parser.
    """
    values = st.sampled_from(NONSENSE + PLAUSIBLE) | st.text(max_size=8)
    positionals = [a for a in parser._actions if not a.option_strings]

    @st.composite
    def draw_argv(draw: st.DrawFn) -> list[str]:
        words = command.split()
        words += [draw(st.sampled_from(POSITIONALS)) for _ in positionals]
        # Required flags always come (else nothing would ever parse), then up to 5 others.
        required = [a for a in options(parser) if a.required]
        others = [a for a in options(parser) if not a.required]
        flags = required + draw(st.lists(st.sampled_from(others), max_size=5, unique=True))
        for action in flags:
            words.append(action.option_strings[-1])
            if action.nargs != 0:
                words.append(draw(values))
        return words

    return draw_argv()
