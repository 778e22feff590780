"""One object through the stages: read -> de-identify -> render -> mask -> encode.

- :mod:`~dcmexport.pipeline.frames`: per-object planning and the frame transform;
- :mod:`~dcmexport.pipeline.objects`: one object to media (export) or to DICOM (deid);
- :mod:`~dcmexport.pipeline.series`: a series to one clip or contact sheet;
- :mod:`~dcmexport.pipeline.passthrough`: JPEG clips handed to ffmpeg undecoded;
- :mod:`~dcmexport.pipeline.writing`: atomic outputs; :mod:`~dcmexport.pipeline.guard`: time limit, fail closed;
- :mod:`~dcmexport.pipeline.resume`: what to do with outputs that exist already;
- :mod:`~dcmexport.pipeline.tasks` and :mod:`~dcmexport.pipeline.batch`: units of work, and a batch with observers.
"""
