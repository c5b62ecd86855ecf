"""The argument lines of the magics, parsed into plain values (no IPython here)."""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field

RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class MagicArgumentError(ValueError):
    """A magic line that does not parse; the message says what to write instead."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise MagicArgumentError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise MagicArgumentError(message or self.format_help())


@dataclass
class TrackOptions:
    name: str | None = None
    experiment: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    nested: bool = False
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    autolog: bool = True
    quiet: bool = False
    system_metrics: bool | None = None  # None: as enable_system_metrics_logging() says


def _track_parser() -> _Parser:
    p = _Parser(
        prog="%%track_run",
        usage=(
            "%%track_run [NAME] [-e EXPERIMENT] [-t KEY=VALUE ...] [--nested] [-p NAMES] "
            "[-m NAMES] [--artifacts GLOB ...] [--no-autolog] [--[no-]system-metrics] [--quiet]"
            "   (NAME comes first)"
        ),
        description=(
            "Run the cell inside a tracked run: params, metrics, figures, files, outputs, "
            "context and lineage are logged automatically (see docs/magics.md)."
        ),
        add_help=False,
    )
    p.add_argument("name", nargs="?", help="run name (default: a generated one)")
    p.add_argument("-e", "--experiment", help="experiment name, created if missing")
    p.add_argument(
        "-t",
        "--tag",
        action="append",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="tags to set on the run",
    )
    p.add_argument("--nested", action="store_true", help="make the run a child of the active run")
    p.add_argument(
        "-p",
        "--params",
        action="append",
        nargs="+",
        default=[],
        metavar="NAMES",
        help="extra names to log as params (comma or space separated)",
    )
    p.add_argument(
        "-m",
        "--metrics",
        action="append",
        nargs="+",
        default=[],
        metavar="NAMES",
        help="extra names to log as metrics (comma or space separated)",
    )
    p.add_argument(
        "--artifacts",
        action="append",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="files to log as artifacts (globs relative to the working directory; ** recurses)",
    )
    p.add_argument(
        "--no-autolog",
        dest="autolog",
        action="store_false",
        help="log only what is asked for: no automatic params, metrics, figures or files",
    )
    p.add_argument(
        "--system-metrics",
        dest="system_metrics",
        action="store_const",
        const=True,
        default=None,
        help="log CPU, memory, disk, network and GPU use as system/... metrics while it runs",
    )
    p.add_argument(
        "--no-system-metrics",
        dest="system_metrics",
        action="store_const",
        const=False,
        help="log no system metrics, even when they are enabled globally",
    )
    p.add_argument("--quiet", action="store_true", help="do not show the run card")
    p.add_argument("-h", "--help", action="store_true", help="show this help")
    return p


TRACK_PARSER = _track_parser()


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as error:
        raise MagicArgumentError(f"Cannot read the magic line {line!r}: {error}.") from None


def _names(groups: list[list[str]]) -> list[str]:
    names: list[str] = []
    for group in groups:
        for item in group:
            for name in item.split(","):
                name = name.strip()
                if not name:
                    continue
                if not name.isidentifier():
                    raise MagicArgumentError(
                        f"{name!r} is not a variable name: -p and -m take names of variables "
                        "the cell defines, e.g. -p lr,batch_size -m acc."
                    )
                if name not in names:
                    names.append(name)
    return names


def parse_track_line(line: str) -> TrackOptions:
    """Parse `[NAME] [-e EXPERIMENT] [-t KEY=VALUE ...] [--nested] [-p NAMES] [-m NAMES]
    [--artifacts GLOB ...] [--no-autolog] [--[no-]system-metrics] [--quiet]`."""
    ns = TRACK_PARSER.parse_args(_split(line))
    if ns.help:
        raise MagicArgumentError(TRACK_PARSER.format_help())
    tags: dict[str, str] = {}
    for item in (t for group in ns.tag for t in group):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise MagicArgumentError(f"Tag {item!r} is not KEY=VALUE: write e.g. -t team=vision.")
        tags[key] = value
    params, metrics = _names(ns.params), _names(ns.metrics)
    both = sorted(set(params) & set(metrics))
    if both:
        raise MagicArgumentError(
            f"{', '.join(both)} given with both -p and -m: a name is either a param or a metric."
        )
    return TrackOptions(
        name=ns.name,
        experiment=ns.experiment,
        tags=tags,
        nested=ns.nested,
        params=params,
        metrics=metrics,
        artifacts=[g for group in ns.artifacts for g in group],
        autolog=ns.autolog,
        quiet=ns.quiet,
        system_metrics=ns.system_metrics,
    )


@dataclass
class RunsQuery:
    """What `%runs` and `%compare_runs` select: ids, or a filter, over some experiments."""

    run_ids: list[str] = field(default_factory=list)
    filter_string: str = ""
    experiment: str | None = None
    last: int | None = None
    max_results: int = 100


_FLAG_RE = re.compile(r"(?:^|\s)(-e|--experiment|--last|-n|--max)(?:\s+|=)(\"[^\"]*\"|'[^']*'|\S+)")


def parse_runs_line(line: str, prog: str = "%runs", last_default: int | None = None) -> RunsQuery:
    """`[RUN_IDS | FILTER] [-e EXPERIMENT] [--last N] [-n N]`: all-hex 32-char words are ids.

    The filter is kept verbatim (quotes included), so `params.opt = 'adam'` works unquoted.
    """
    flags: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        value = match.group(2)
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        flags[match.group(1).lstrip("-")[0]] = value
        return " "

    rest = _FLAG_RE.sub(take, line).strip()
    query = RunsQuery(experiment=flags.get("e"), last=last_default)
    for key, attr in (("l", "last"), ("n", "max_results"), ("m", "max_results")):
        if key in flags:
            try:
                number = int(flags[key])
            except ValueError:
                raise MagicArgumentError(
                    f"{prog}: {flags[key]!r} is not a number of runs (e.g. --last 5)."
                ) from None
            if number < 1:
                raise MagicArgumentError(f"{prog}: the number of runs must be positive.")
            setattr(query, attr, number)
    words = rest.split()
    if words and all(RUN_ID_RE.match(w) for w in words):
        if "l" in flags:
            raise MagicArgumentError(f"{prog}: give run ids or --last N, not both.")
        query.run_ids = words
        query.last = None
    else:
        query.filter_string = rest
    return query
