"""The ``dcmexport`` command: a thin typer layer over :mod:`dcmexport.api`.

Each command lives in its own module and registers itself on :data:`app`.
Exit codes: 0 everything written (or skipped as expected), 1 some object
failed or was refused, 2 usage error (bad option, missing input).
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="dcmexport",
    help="De-identify DICOM images and export them as PNG/JPG/TIFF stills or MP4/WebM/GIF clips.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,  # tracebacks can quote dataset values: never show them by default
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """De-identify DICOM images and export them as PNG/JPG/TIFF stills or MP4/WebM/GIF clips."""


def _register() -> None:
    # Imported for their side effect of adding commands to `app`.
    from dcmexport.cli import deid as _deid  # noqa: F401
    from dcmexport.cli import export as _export  # noqa: F401
    from dcmexport.cli import inspect as _inspect  # noqa: F401
    from dcmexport.cli import presets as _presets  # noqa: F401
    from dcmexport.cli import review as _review  # noqa: F401
    from dcmexport.cli import verify as _verify  # noqa: F401


def main() -> None:
    """Entry point of the console script and of ``python -m dcmexport``."""
    _register()
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


_register()
