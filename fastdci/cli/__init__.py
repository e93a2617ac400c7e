"""The ``fastdci`` command line (Typer).

Results go to stdout; progress and logs to stderr. A known error prints one line with the
fix and exits 1; ``FASTDCI_DEBUG=1`` shows the traceback instead. Heavy modules are
imported inside the commands, so ``fastdci --help`` stays fast.

Each command lives in its own module here and registers itself on :data:`app` on import.
"""

from __future__ import annotations

import os
import sys

import typer

from .._version import __version__

app = typer.Typer(
    name="fastdci",
    help="Disentanglement metrics over millions of latent vectors: train, encode, evaluate.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fastdci {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Disentanglement metrics over millions of latent vectors: train, encode, evaluate."""


# command modules: each registers its commands on `app`
from . import _inspect  # noqa: E402,F401
from . import _train  # noqa: E402,F401
from . import _encode  # noqa: E402,F401
from . import _evaluate  # noqa: E402,F401
from . import _report  # noqa: E402,F401
from . import _demo  # noqa: E402,F401
from . import _metrics  # noqa: E402,F401
from . import _sweep  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fastdci`` script: one-line errors, exit code 1."""
    from ..errors import FastDCIError

    debug = os.environ.get("FASTDCI_DEBUG", "") not in ("", "0")
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int):  # typer.Exit(code) returns the code without standalone mode
            return rc
    except SystemExit as exc:  # typer.Exit inside standalone_mode=False
        return int(exc.code or 0)
    except (FastDCIError, OSError) as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if debug:
            raise
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # typer may bundle its own copy of click: recognise its exceptions by class name
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "Exit" in kinds:
            return int(getattr(exc, "exit_code", 0))
        if "ClickException" in kinds:
            exc.show()
            return int(exc.exit_code)
        if "Abort" in kinds:
            print("error: aborted", file=sys.stderr)
            return 1
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (set FASTDCI_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return 0


def _script() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())
