"""The ``dcmexport`` command: a thin typer layer over :mod:`dcmexport.api`.

Each command lives in its own module and registers itself on :data:`app`.
Exit codes: 0 everything written (or skipped as expected), 1 some object
failed or was refused, or no DICOM object was found, 2 usage error (bad option,
missing input), 130 interrupted.
"""

from __future__ import annotations

import os
import sys

from dcmexport.cli.app import app

__all__ = ["app", "main"]


def _register() -> None:
    # Imported for their side effect of adding commands to `app`.
    from dcmexport.cli import deid as _deid  # noqa: F401
    from dcmexport.cli import export as _export  # noqa: F401
    from dcmexport.cli import find as _find  # noqa: F401
    from dcmexport.cli import inspect as _inspect  # noqa: F401
    from dcmexport.cli import merge as _merge  # noqa: F401
    from dcmexport.cli import presets as _presets  # noqa: F401
    from dcmexport.cli import review as _review  # noqa: F401
    from dcmexport.cli import verify as _verify  # noqa: F401


def _invoked_command(args: list[str]) -> str | None:
    """The command named by the first argument, when it is one of ours; None for anything else."""
    if not args or any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None  # no command, or shell completion (which lists every command)
    return args[0] if args[0] in {c.name for c in app.registered_commands} else None


def main() -> None:
    """Entry point of the console script and of ``python -m dcmexport``."""
    _register()
    # Start-up time (issue #7): typer builds a click command, parameter by parameter, for
    # every registered command (~45 ms for the six) although one runs. When the first
    # argument names a command, only that one is built; with no command, a root option
    # (--help), a typo or shell completion, all are, so what is printed stays the same.
    commands = app.registered_commands
    name = _invoked_command(sys.argv[1:])
    if name is not None:
        app.registered_commands = [c for c in commands if c.name == name]
    try:
        app()
    except KeyboardInterrupt:
        print("dcmexport: interrupted; complete outputs were kept, partial ones removed", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # A bug outside the per-object guard: a traceback could quote dataset values, so
        # show only the exception type unless --debug was given.
        if "--debug" in sys.argv:
            raise
        print(f"dcmexport: internal error ({type(exc).__name__}); run again with --debug and report it",
              file=sys.stderr)
        sys.exit(1)
    finally:
        app.registered_commands = commands


_register()
