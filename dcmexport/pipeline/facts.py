"""An object's ``dataset.csv`` row (:class:`~dcmexport.results.DatasetFacts`), from the DE-IDENTIFIED dataset.

Filled in the worker once the outputs are written; never from the original dataset:
the IDs are the keyed pseudonyms the written files carry.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from dcmexport.pipeline.frames import FramePipeline, output_dpi
from dcmexport.results import DatasetFacts


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _window(pipeline: FramePipeline) -> str:
    window = getattr(pipeline.renderers.first, "window", None)
    windows = window if isinstance(window, tuple) else (window,)
    if any(w is None for w in windows):
        return ""
    return ",".join(f"{w.center:g}/{w.width:g}" for w in windows)


def facts_from_dataset(deidentified: Dataset, pipeline: FramePipeline | None = None) -> DatasetFacts:
    """The dataset row of an object: IDs and modality of ``deidentified``, size, spacing and window of its output.

    Args:
        deidentified: the DE-IDENTIFIED dataset (after :meth:`Deidentifier.deidentify`).
        pipeline: the frame pipeline that made the media output (None: a DICOM output, its own Rows/Columns).
    """
    facts = DatasetFacts(
        patient_id=_text(deidentified, "PatientID"),
        study_uid=_text(deidentified, "StudyInstanceUID"),
        series_uid=_text(deidentified, "SeriesInstanceUID"),
        instance_uid=_text(deidentified, "SOPInstanceUID"),
        modality=_text(deidentified, "Modality"),
    )
    if pipeline is None:
        rows, columns = deidentified.get("Rows"), deidentified.get("Columns")
        facts.rows = int(rows) if rows is not None else None
        facts.columns = int(columns) if columns is not None else None
        return facts
    shape = pipeline.last_shape or pipeline.out_size or pipeline.stored_shape
    if pipeline.size is not None:
        shape = (pipeline.size[1], pipeline.size[0])
    if shape is not None:
        facts.rows, facts.columns = int(shape[0]), int(shape[1])
        dpi = output_dpi(pipeline, shape)
        if dpi is not None:
            facts.pixel_spacing = f"{25.4 / dpi[1]:.6g}\\{25.4 / dpi[0]:.6g}"
    facts.window = _window(pipeline)
    return facts
