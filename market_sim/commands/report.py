"""`market-sim report DIR`: rebuild report.html from a run folder's saved results."""

from __future__ import annotations

import argparse
from pathlib import Path

from market_sim import loading
from market_sim.commands import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="rebuild report.html from a run folder's saved results")
    parser.add_argument("folder", type=Path, help="a folder written by `run`")
    parser.add_argument("--baseline", metavar="NAME", help="compare every strategy with this one")
    parser.add_argument("--quiet", action="store_true", help="no ranking table")
    return parser


def run(args: argparse.Namespace) -> int:
    import contextlib

    from market_sim.executors import default_workers
    from market_sim.report.painters import Painters

    with contextlib.ExitStack() as stack:
        workers: int | Painters = default_workers()
        if workers > 1:  # they load matplotlib while this process reads the tables
            with loading.libraries():  # pandas and the report's data: they have it
                import market_sim.report.data  # noqa: F401

            workers = stack.enter_context(Painters(workers))
        from market_sim import result_folder
        from market_sim.report import RunFolderError, ranking_text, write_report

        try:
            manifest = result_folder.check_tables(args.folder)  # a damaged table is refused
            digests = result_folder.table_digests(manifest)  # checked against the files just now
            results = write_report(args.folder, args.baseline, workers, digests=digests)
        except (RunFolderError, result_folder.FolderError) as error:
            raise UsageError(str(error)) from None
    if not args.quiet:
        print(ranking_text(results.scores, results.baseline, results.focal, results.benchmarks))
    print(f"wrote {args.folder}/report.html")
    return 0
