"""`specproof dsi`: simulate distributed speculative inference (DSI) against SI and non-SI.

Subcommands:

- `simulate`: one configuration $(c, a, K)$, mean cost of $S$ tokens over repeats, with the exact
  expectations alongside;
- `heatmap`: the grid experiment (speedups over $c$, $a$, best $K$), optionally on Ray;
- `online`: the runtime with sleeping workers (measured latencies, no models).

Costs are in target forwards (target forward = 1, drafter forward = $c$ per token).

What a legal input may cost is bounded (`LIMITS`): the exact DSI expectation loops about
$K/(1 - c)$ times, so $c$ in $(1 - 10^{-4}, 1)$ is refused; $K$, $S$, the repeats and the grid
are capped, and `online` refuses a drafter latency below 0.1 ms (each drafted token is a
thread wake-up). Every refusal names the flag and states the bound.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from . import exit_codes
from .checks import writable_dir
from .exit_codes import CommandError
from .flags import add_action_command, add_json, add_number, add_seed
from .output import format_table, print_json, progress

#: Bounds on what one command may cost (see the module docstring).
LIMITS = {
    "k": 1000,
    "tokens": 1_000_000,
    "repeats": 100_000,
    "tokens_x_repeats": 20_000_000,
    "steps": 100,
    "servers": 4096,
    "online_tokens": 10_000,
    "min_drafter_ms": 0.1,
    "max_ms": 60_000.0,
    "c_gap": 1e-4,
    "heatmap_work": 1_000_000_000,
}


def _unit_interval(flag: str, low_open: bool) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") from None
        ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
        if not ok or math.isnan(value):
            interval = "(0, 1]" if low_open else "[0, 1]"
            raise argparse.ArgumentTypeError(f"{flag} must lie in {interval}, got {text}")
        if flag == "--c" and 1 - LIMITS["c_gap"] < value < 1:
            raise argparse.ArgumentTypeError(
                f"--c must be 1 or at most 1 - {LIMITS['c_gap']:g} (the exact expectation "
                f"takes about K / (1 - c) steps), got {text}"
            )
        return value

    return parse


def _positive_int(flag: str, high: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be >= 1, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{flag} must be at most {high}, got {value}")
        return value

    return parse


def _add_positive(parser: Any, flag: str, high: int, text: str, **options: Any) -> None:
    """`flag`: an int in [1, high] (the flag named once).

    Args:
        parser: the subcommand's parser.
        flag: the flag.
        high: the largest value.
        text: the `--help` text.
        **options: more `add_argument` options (`default`, `required`).
    """
    parser.add_argument(flag, type=_positive_int(flag, high), help=text, **options)


def _add_tokens(parser: Any, default: int, what: str, limit: int) -> None:
    """The `--tokens` flag (an int in [1, limit]) with its default."""
    _add_positive(parser, "--tokens", limit, f"{what} (default {default})", default=default)


def _add_repeats(parser: Any, what: str) -> None:
    """The `--repeats` flag (an int in [1, the repeats limit], default 5)."""
    _add_positive(parser, "--repeats", LIMITS["repeats"], f"{what} (default 5)", default=5)


def _add_servers(parser: Any, text: str) -> None:
    """`--servers`: the verification servers, 1..the servers limit (default None: enough)."""
    _add_positive(parser, "--servers", LIMITS["servers"], text, default=None)


def _add_backend(parser: Any, where: str) -> None:
    """`--backend` (local or ray, default local) and the Ray `--address` it may need."""
    parser.add_argument("--backend", choices=["local", "ray"], default="local", help=where)
    parser.add_argument("--address", default=None, help="Ray cluster address (with --backend ray)")


def _add_milliseconds(parser: Any, flag: str, low: float, text: str, default: float | None) -> None:
    """`flag`: a latency in milliseconds, in [low, the milliseconds limit].

    Args:
        parser: the subcommand's parser.
        flag: the flag.
        low: the smallest latency.
        text: the `--help` text.
        default: the latency when the flag is absent.
    """
    add_number(parser, flag, low, LIMITS["max_ms"], text, default=default)


def _check_work(args: argparse.Namespace) -> None:
    if args.tokens * args.repeats > LIMITS["tokens_x_repeats"]:
        raise CommandError(
            f"--tokens x --repeats must be at most {LIMITS['tokens_x_repeats']}, "
            f"got {args.tokens} x {args.repeats}",
            exit_codes.USAGE,
        )


def _add_configuration(parser: Any, servers_help: str) -> None:
    """The cost-model flags shared by `simulate` and `online`: --c, --a, --k, --servers."""
    parser.add_argument(
        "--c",
        type=_unit_interval("--c", True),
        required=True,
        help="drafter latency per token, in target forwards, in (0, 1]",
    )
    parser.add_argument(
        "--a", type=_unit_interval("--a", False), required=True, help="acceptance rate in [0, 1]"
    )
    _add_positive(parser, "--k", LIMITS["k"], f"lookahead K, 1..{LIMITS['k']}", required=True)
    _add_servers(parser, servers_help)


def add_parser(subparsers: Any) -> None:
    """Add the `dsi` subcommand and its own subcommands."""
    sub = add_action_command(
        subparsers,
        "dsi",
        "simulate distributed speculative inference (DSI) vs SI and non-SI",
        __doc__,
    )

    sim = sub.add_parser("simulate", help="one configuration: costs of non-SI, SI and DSI")
    _add_configuration(sim, "verification servers (default: enough; with N, jobs queue)")
    _add_tokens(sim, 1000, "output tokens S", LIMITS["tokens"])
    _add_repeats(sim, "simulated paths")
    add_seed(sim, "random seed (default 0)")
    add_json(sim, "print JSON")
    sim.set_defaults(handler=run_simulate)

    heat = sub.add_parser("heatmap", help="speedups over a (c, a) grid, best K per algorithm")
    _add_positive(
        heat, "--steps", LIMITS["steps"], "grid steps for c, a and K (default 20)", default=20
    )
    _add_tokens(heat, 1000, "output tokens S", LIMITS["tokens"])
    _add_repeats(heat, "paths per configuration")
    add_seed(heat, "random seed (default 42)", default=42)
    _add_servers(heat, "leave out configurations needing more servers")
    _add_backend(heat, "where the chunks run (default local)")
    heat.add_argument("--out", type=Path, default=None, help="directory for heatmap.json and PNGs")
    add_json(heat, "print JSON")
    heat.set_defaults(handler=run_heatmap)

    online = sub.add_parser("online", help="the DSI runtime with sleeping workers (no models)")
    shortest = LIMITS["min_drafter_ms"]
    _add_milliseconds(
        online, "--target-ms", shortest, "target forward latency in ms (default 20)", 20.0
    )
    _add_milliseconds(
        online,
        "--target-first-ms",
        shortest,
        "target's first forward (TTFT) in ms (default: --target-ms)",
        None,
    )
    _add_milliseconds(
        online,
        "--drafter-first-ms",
        0,
        "drafter's first token after each (re)start in ms (default: c * --target-ms)",
        None,
    )
    _add_configuration(online, "verification servers (default: enough)")
    _add_tokens(online, 50, "output tokens", LIMITS["online_tokens"])
    add_seed(online, "seed of the acceptance pattern")
    _add_backend(online, "where workers run")
    add_json(online, "print JSON")
    online.set_defaults(handler=run_online)


def run_simulate(args: argparse.Namespace) -> int:
    """Simulate one configuration and compare with the exact expectations."""
    import numpy as np

    from specproof.dsi import expected as expected_cost
    from specproof.dsi.queueing import (
        dsi_costs_with_servers,
        min_servers_full_blocks,
        min_servers_no_wait,
    )
    from specproof.dsi.simulator import accepted_counts, simulate
    from specproof.reference import dsi as ref

    _check_work(args)
    sim = simulate(args.c, args.a, args.k, tokens=args.tokens, repeats=args.repeats, seed=args.seed)
    summary = sim.summary()
    if args.servers is not None:
        rng = np.random.default_rng(args.seed)
        counts = accepted_counts(
            rng, np.full(args.repeats, args.a), np.full(args.repeats, args.k), args.tokens
        )
        queued = dsi_costs_with_servers(args.c, args.k, args.tokens, counts, args.servers)
        summary["dsi"] = {
            "mean_cost": float(queued.mean()),
            "per_token": float(queued.mean() / args.tokens),
            "std": float(queued.std(ddof=1)) if queued.size > 1 else 0.0,
            "min": float(queued.min()),
            "max": float(queued.max()),
        }
    exact_ok = args.tokens <= 5000  # the DSI recursion is quadratic in S
    expected = {
        "nonsi": (float(args.tokens), 1.0),
        "si": (
            expected_cost.si_expected_cost(args.c, args.a, args.k, args.tokens)
            if exact_ok
            else None,
            ref.si_latency_per_token(args.c, args.a, args.k),
        ),
        "dsi": (
            expected_cost.dsi_expected_cost(args.c, args.a, args.k, args.tokens)
            if exact_ok
            else None,
            expected_cost.dsi_latency_per_token(args.c, args.a, args.k),
        ),
    }
    for name, (total, limit) in expected.items():
        summary[name]["expected_cost"] = total
        summary[name]["expected_per_token_limit"] = limit
    data: dict[str, Any] = {
        "config": {
            "c": args.c,
            "a": args.a,
            "k": args.k,
            "tokens": args.tokens,
            "repeats": args.repeats,
            "seed": args.seed,
            "servers": args.servers,
        },
        **summary,
        "speedup": {
            "dsi_vs_si": summary["si"]["mean_cost"] / summary["dsi"]["mean_cost"],
            "dsi_vs_nonsi": summary["nonsi"]["mean_cost"] / summary["dsi"]["mean_cost"],
            "si_vs_nonsi": summary["nonsi"]["mean_cost"] / summary["si"]["mean_cost"],
        },
        "servers_needed": {
            "full_blocks": min_servers_full_blocks(args.c, args.k),
            "no_wait_at_all": min_servers_no_wait(args.c, args.k),
        },
        "notes": "costs in target forwards; expected_cost is the exact recursion in floating point (S <= 5000; specproof.dsi.expected) and assumes enough servers",
    }
    if args.json:
        print_json(data)
        return 0
    rows = [
        (name, f"{summary[name]['mean_cost']:.1f}", f"{summary[name]['std']:.1f}", f"{summary[name]['min']:.1f}", f"{summary[name]['max']:.1f}",
         "-" if summary[name]["expected_cost"] is None else f"{summary[name]['expected_cost']:.1f}", f"{summary[name]['expected_per_token_limit']:.4f}")
        for name in ("nonsi", "si", "dsi")
    ]  # fmt: skip
    print(
        format_table(
            ["algorithm", "mean cost", "std", "min", "max", "expected", "per token (S->inf)"], rows
        )
    )
    speed = data["speedup"]
    print(
        f"\nDSI vs SI {speed['dsi_vs_si']:.2f}x, DSI vs non-SI {speed['dsi_vs_nonsi']:.2f}x, SI vs non-SI {speed['si_vs_nonsi']:.2f}x"
    )
    print(
        f"servers needed: {data['servers_needed']['full_blocks']} (full blocks), {data['servers_needed']['no_wait_at_all']} (no wait at all)"
    )
    return 0


def run_heatmap(args: argparse.Namespace) -> int:
    """Run the grid and write JSON (and PNGs with --out)."""
    from specproof.dsi.heatmap import default_grid, heatmap
    from specproof.dsi.report import heatmap_json, write_heatmap_pngs

    _check_work(args)
    if args.steps**3 * args.tokens * args.repeats > LIMITS["heatmap_work"]:
        raise CommandError(
            f"--steps^3 x --tokens x --repeats must be at most {LIMITS['heatmap_work']:g}, got "
            f"{args.steps}^3 x {args.tokens} x {args.repeats}",
            exit_codes.USAGE,
        )
    writable_dir("--out", args.out)
    c, a, k = default_grid(args.steps)
    with progress(len(k), "dsi heatmap") as bar:

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        result = heatmap(
            c, a, k, tokens=args.tokens, repeats=args.repeats, seed=args.seed, servers=args.servers,
            backend=args.backend, address=args.address, on_chunk=advance,
        )  # fmt: skip
    data = heatmap_json(result)
    if args.out is not None:
        import json

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "heatmap.json").write_text(json.dumps(data, indent=1) + "\n")
        try:
            pngs = write_heatmap_pngs(result, args.out)
        except ImportError:
            print(
                "note: PNGs need matplotlib (pip install 'specproof[engine]'); JSON written",
                file=sys.stderr,
            )
            pngs = []
        data["files"] = [str(args.out / "heatmap.json"), *map(str, pngs)]
    if args.json:
        print_json(data)
        return 0
    rows = [
        (name, f"{s['min']:.2f}", f"{s['median']:.2f}", f"{s['max']:.2f}")
        for name, s in data["summary"].items()
    ]
    print(format_table(["speedup (best K each)", "min", "median", "max"], rows))
    print(
        f"\n{data['configs']} configurations x {args.repeats} paths, S = {args.tokens}, in {result.seconds:.1f}s ({args.backend})"
    )
    for path in data.get("files", []):
        print(f"wrote {path}")
    return 0


def run_online(args: argparse.Namespace) -> int:
    """Run the DSI runtime with sleeping workers and compare with the offline expectation."""
    from specproof.dsi.online import run_online_simulation

    if args.c * args.target_ms < LIMITS["min_drafter_ms"]:
        raise CommandError(
            f"--c x --target-ms (the drafter's latency) must be at least "
            f"{LIMITS['min_drafter_ms']} ms, got {args.c * args.target_ms:g} ms",
            exit_codes.USAGE,
        )
    try:
        result = run_online_simulation(
            c=args.c, a=args.a, k=args.k, tokens=args.tokens, target_ms=args.target_ms,
            target_first_ms=args.target_first_ms, drafter_first_ms=args.drafter_first_ms, servers=args.servers, seed=args.seed,
            backend=args.backend, address=args.address,
        )  # fmt: skip
    except ValueError as exc:
        raise CommandError(str(exc), exit_codes.USAGE) from None
    if args.json:
        print_json(result)
        return 0
    rows = [
        (
            name,
            f"{v['seconds'] * 1000:.1f}",
            f"{v['per_token']:.3f}",
            f"{v['offline_per_token']:.3f}",
        )
        for name, v in result["algorithms"].items()
    ]
    print(
        format_table(
            [
                "algorithm",
                "wall ms",
                "per token (target forwards)",
                "offline, same pattern (no TTFT)",
            ],
            rows,
        )
    )
    return 0
