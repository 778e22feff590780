"""The package version, in a module of its own so that modules can read it without the package face.

``from dcmexport import __version__`` inside dcmexport would make a module depend
on ``dcmexport/__init__.py``, which imports :mod:`dcmexport.api` (lazily): an import cycle.
"""

from __future__ import annotations

__version__ = "0.1.0"
