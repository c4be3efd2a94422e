"""galgen's command line: thin sub-commands that parse arguments and call the library.

``parser`` defines every option and its help; ``restore``, ``commands`` and ``training`` hold
the sub-commands; ``_args`` the argument types they share.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from galgen.cli._args import TOY_DENSITIES, TOY_GAN_LOSSES, TOY_SOLVERS, parse_angle
from galgen.cli.parser import build_parser
from galgen.errors import GalgenError

__all__ = ["main", "build_parser", "parse_angle", "TOY_DENSITIES", "TOY_SOLVERS", "TOY_GAN_LOSSES"]


def _plain_warnings(prog: str) -> None:
    """Print galgen's own warnings (:class:`~galgen.errors.GalgenRegimeWarning`, ...) as
    ``galgen restore: warning: ...`` instead of Python's ``file:line: Category: ...`` and the
    source line; other packages' warnings keep Python's format. Only for the console command
    (``main()`` with no arguments), whose process it is."""
    import warnings

    default = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):  # noqa: ANN001, ANN202
        if category.__module__.startswith("galgen"):
            return f"{prog}: warning: {message}\n"
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = formatwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``galgen`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if argv is None and not args.verbose:
        # Dask's scheduler and nannies run in this process and set their loggers to INFO when
        # distributed is imported (from this configuration, which worker processes inherit):
        # otherwise a batch run prints ~30 lines of cluster housekeeping through its progress bar
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    if argv is None:  # the console command, whose process this is: galgen's warnings read as the CLI's
        _plain_warnings(f"galgen {getattr(args, 'command', '') or ''}".strip())
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        code = int(args.func(args) or 0)
        if argv is None:
            sys.stdout.flush()  # a reader that closed the pipe shows here, within the handler's reach
        return code
    except GalgenError as exc:
        print(f"galgen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"galgen {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if argv is not None:
            raise
        # the reader closed the pipe (galgen models | head): stop quietly, as Unix tools do; stdout
        # goes to /dev/null so that the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for such a pipeline
