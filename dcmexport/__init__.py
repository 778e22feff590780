"""dcmexport: de-identified, faithfully rendered media from DICOM objects.

The public Python API (what the CLI calls), for notebooks and scripts:

>>> import dcmexport
>>> batch = dcmexport.export(["study/"], "out/", format="png", window="40,400")  # doctest: +SKIP
>>> batch.exit_code, [r.reason for r in batch.results if not r.ok]              # doctest: +SKIP

``dcmexport.deidentify`` writes de-identified DICOM the same way. Both return a
:class:`~dcmexport.api.BatchResult`; see :mod:`dcmexport.api` for the options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dcmexport._version import __version__

__all__ = ["__version__", "deidentify", "export"]

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.api import deidentify, export


def __getattr__(name: str) -> Any:
    # Imported lazily: `import dcmexport` stays cheap (the CLI's --help, worker start-up).
    if name in ("export", "deidentify"):
        from dcmexport import api

        return getattr(api, name)
    raise AttributeError(f"module 'dcmexport' has no attribute {name!r}")
