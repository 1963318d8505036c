"""`phasewatch` command line: a thin argparse front over the library.

Exit codes (DESIGN.md): 0 ran, 1 a --stop-on condition fired, 2 usage error, 3 unreadable or
invalid input, 4 some of several runs failed (`each_run.EXIT_SOME_FAILED`), 70 internal error. User errors print one message, never a traceback; set
PHASEWATCH_DEBUG=1 to see the traceback of an internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from phasewatch import __version__
from phasewatch.commands import COMMANDS
from phasewatch.errors import PhasewatchError

EXIT_OK, EXIT_USAGE, EXIT_INTERNAL = 0, 2, 70  # 1 (stop) and 3 (input) come from the commands / errors


# Commands whose PATHs may be MLflow run ids in a store named by --tracking-uri.
TRACKING_URI_COMMANDS = ("inspect", "analyze", "watch", "plot")


def _apply_tracking_uri(args: argparse.Namespace) -> None:
    """--tracking-uri URI RUN -> the PATH of that run (`io.mlflow_rest.address`)."""
    uri = getattr(args, "tracking_uri", None)
    if not uri:
        return
    from phasewatch.io.mlflow_rest import address

    for attr in ("path", "paths"):
        value = getattr(args, attr, None)
        if isinstance(value, str):
            setattr(args, attr, address(uri, value))
        elif isinstance(value, list):
            setattr(args, attr, [address(uri, v) for v in value])


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message short and on stderr."""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given the command line, it imports only the module of the command named
    there (none for `--version`), since each command module pulls in what its command needs
    (numpy, pandas, the monitor...) and start-up time is what a user waits for."""
    selected = argv[0] if argv and argv[0] in COMMANDS else None
    only = selected is not None or (bool(argv) and "--version" in argv
                                    and not {"-h", "--help"} & set(argv))
    parser = _Parser(
        prog="phasewatch",
        description="Find the disruption, readaptation and overfit phases of training runs.",
    )
    parser.add_argument("--version", action="version", version=f"phasewatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only and name != selected:
            sub.add_parser(name)  # listed for argparse's choices; not this command: not imported
            continue
        module = importlib.import_module(f"phasewatch.commands.{name}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(cmd)
        if name in TRACKING_URI_COMMANDS:
            cmd.add_argument("--tracking-uri", metavar="URI",
                             help="an MLflow tracking URI (http://HOST:PORT, sqlite:///FILE, a "
                             "file store); each PATH is then a run id (or name) in it")
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # what argparse prints, without loading argparse's formatter
        print(f"phasewatch {__version__}")
        return EXIT_OK
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        _apply_tracking_uri(args)
        return int(args._run(args) or 0)
    except PhasewatchError as exc:
        print(f"phasewatch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # `phasewatch ... | head` closed the pipe: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if exc.filename is None:
            return _internal_error()
        # A file or folder the command was given (or found in a run folder) cannot be read
        # (permissions, removed meanwhile): the input's problem, exit 3 naming it.
        hint = " (check its permissions)" if isinstance(exc, PermissionError) else ""
        print(f"phasewatch: error: {exc.filename}: cannot read: {exc.strerror or exc}{hint}",
              file=sys.stderr)
        return 3
    except Exception:  # noqa: BLE001 - the last line of defence: exit 70, not a traceback
        return _internal_error()


def _internal_error() -> int:
    """A genuine bug: one line asking for a report (the traceback with PHASEWATCH_DEBUG=1).
    Called inside an `except` block (it reports `sys.exc_info()`)."""
    if os.environ.get("PHASEWATCH_DEBUG"):
        import traceback

        traceback.print_exc()
    else:
        kind = sys.exc_info()[0].__name__
        print(
            f"phasewatch: internal error ({kind}: {sys.exc_info()[1]}); this is a bug, "
            "please report it. Rerun with PHASEWATCH_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
