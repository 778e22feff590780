"""dcmexport: de-identified, faithfully rendered media from DICOM objects.

The public Python API (what the CLI calls):

>>> import dcmexport
>>> results = dcmexport.export(["study/"], "out/")          # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"
