"""A post-processed run as a CF ``xarray.Dataset``, and the weights' part in it: what reading a cached prediction
needs. No torch here: a forecaster's first view of runs already post-processed does not wait for its import (~2 s),
and the network is loaded only when a run must be post-processed (:class:`DeferredPredictor`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import xarray as xr

import engine
from engine import trained_area
from engine.calibration import event_probabilities
from engine.channels import CLASS_NAMES, CLASS_THRESHOLDS_MM
from engine.errors import DataError
from engine.model.manifest import DEFAULT_WEIGHTS, checked_manifest

ANCHORS_MM = np.array([0.0, 0.1, 10.0], dtype=np.float32)


def class_to_rain(probabilities: np.ndarray) -> np.ndarray:
    """Most likely class as its lower anchor in mm/h (0, 0.1, 10), so rain thresholds apply unchanged."""
    return ANCHORS_MM[probabilities.argmax(axis=-3)]


class Forecaster(Protocol):
    """What post-processes a run: the weights' manifest (its ``sha256`` keys cached predictions) and the network."""

    manifest: dict

    @property
    def sha256(self) -> str: ...

    def predict(self, ds: xr.Dataset) -> xr.Dataset: ...


class DeferredPredictor:
    """The weights' manifest now (checked against the file's sha256), the network (``engine.predict.Predictor``,
    with ``options``) on the first run to post-process."""

    def __init__(self, weights: str | Path = DEFAULT_WEIGHTS, **options) -> None:
        self.weights = Path(weights)
        self.manifest = checked_manifest(self.weights)
        self.options = options
        self._predictor = None
        self._loading = threading.Lock()  # one network per process, however many app sessions ask at once

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]

    @property
    def loaded(self) -> bool:
        """Whether the network has been loaded (and torch imported)."""
        return self._predictor is not None

    def predict(self, ds: xr.Dataset) -> xr.Dataset:
        with self._loading:
            if self._predictor is None:
                from engine.predict import Predictor

                predictor = Predictor(self.weights, **self.options)
                if predictor.sha256 != self.sha256:  # its predictions would be cached as the first file's
                    raise DataError(
                        f"the weights were replaced (sha256 {self.sha256[:12]}... -> {predictor.sha256[:12]}...) "
                        "since they were first read: restart to use the new ones",
                        self.weights,
                    )
                self._predictor = predictor
        return self._predictor.predict(ds)


def with_manifest_fields(ds: xr.Dataset, manifest: dict) -> xr.Dataset:
    """``ds`` with what this manifest adds to the class probabilities, (re)computed: ``event_probability``
    through its calibration, and ``trained_area`` (on this grid) where it records one. A prediction cached
    before the manifest changed is read the same as a fresh one."""
    ds = ds.assign(event_probability=event_probabilities(ds, manifest.get("calibration")))
    learnt = trained_area.unpack(manifest.get("trained_area"), ds["lat"].values, ds["lon"].values)
    if learnt is None:
        return ds.drop_vars("trained_area", errors="ignore")
    attrs = {
        "long_name": "where the network learnt from observations (valid QPE in its training data)",
        "flag_values": np.array([0, 1], dtype=np.int8),
        "flag_meanings": "not_learnt learnt",
        "comment": "outside it the probabilities were never corrected by an observation",
    }
    return ds.assign(trained_area=(("lat", "lon"), learnt.astype(np.int8), attrs))


def to_dataset(probs: np.ndarray, source: xr.Dataset, manifest: dict) -> xr.Dataset:
    """Class probabilities (lead, 3, lat, lon) of the run ``source`` as the CF Dataset the engine writes and
    caches: the probabilities, the most likely class, the raw NWP rain they correct, and the weights' provenance."""
    coords = {
        "lead_time": source["lead_time"],
        "category": (
            "category",
            np.arange(3, dtype=np.int8),
            {
                "long_name": "rain class",
                "flag_meanings": " ".join(n.split(" (")[0].replace(" ", "_") for n in CLASS_NAMES),
            },
        ),
        "lat": source["lat"],
        "lon": source["lon"],
    }
    for name in ("init_time", "valid_time"):
        if name in source.coords:
            coords[name] = source[name]
    ds = xr.Dataset(
        {
            "probability": (
                ("lead_time", "category", "lat", "lon"),
                probs.astype(np.float32),
                {
                    "long_name": "probability of the rain class in the hour ending at valid_time",
                    "units": "1",
                    "classes": "0: < 0.1 mm/h, 1: 0.1-10 mm/h, 2: >= 10 mm/h",
                },
            ),
            "rain_class": (
                ("lead_time", "lat", "lon"),
                probs.argmax(axis=1).astype(np.int8),
                {
                    "long_name": "most likely rain class",
                    "flag_values": np.array([0, 1, 2], dtype=np.int8),
                    "flag_meanings": "no_rain rain heavy_rain",
                    "thresholds_mm_per_hour": list(CLASS_THRESHOLDS_MM),
                },
            ),
            # The raw NWP rain beside its correction: one file compares the two, and a cached prediction shows
            # the run without its GRIB files being read again.
            "nwp_rain": (
                ("lead_time", "lat", "lon"),
                source["tp"].values.astype(np.float32),
                {
                    "standard_name": "lwe_thickness_of_precipitation_amount",
                    "long_name": "raw NWP precipitation in the hour ending at valid_time (the input post-processed)",
                    "units": "mm",
                },
            ),
        },
        coords=coords,
    )
    init = pd.Timestamp(source["init_time"].values) if "init_time" in source.coords else None
    ds.attrs.update(
        Conventions="CF-1.8",
        title="Post-processed hourly rain classes",
        source_run=f"{init:%Y%m%d%H}" if init is not None else "",
        weights_name=str(manifest.get("name", "")),
        weights_sha256=str(manifest.get("sha256", "")),
        software=f"engine {engine.__version__}",
    )
    return ds
