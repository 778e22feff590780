"""Side concerns that observe a batch or read its outputs afterwards.

* :mod:`~dcmexport.audit.manifest` -- ``manifest.jsonl``: one typed schema, written and read here;
* :mod:`~dcmexport.audit.runlog` -- the ``--log`` file;
* :mod:`~dcmexport.audit.linkage` -- the ``--linkage`` table and the ``--patient-map`` (PHI);
* :mod:`~dcmexport.audit.inspect` -- what ``dcmexport inspect`` reports, and the resolver of inspect rows;
* :mod:`~dcmexport.audit.verify` -- re-reading outputs for what should not be there;
* :mod:`~dcmexport.audit.review` -- the self-contained review page.

Nothing here is imported by the stages (read, sources, deid, render, mask, encode).
This package face imports nothing, so importing one of them costs only that one.
"""
