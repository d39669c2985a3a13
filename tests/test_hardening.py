"""Bad input anywhere gives a DataError naming the file, and loses nothing: fuzzed readers, failing writes."""

import errno
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.data.atomic import atomic_path, atomic_write_bytes, check_writable
from engine.data.grib import read_grib
from engine.data.imerg import read_rate
from engine.data.komet import KometCatalog
from engine.data.lexicon import ECMWF
from engine.data.qpe import read_qpe_file
from engine.errors import DataError
from engine.verify.categorical import categorical_scores, contingency_table
from engine.verify.neighbourhood import fss

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(payload=st.binary(max_size=4000), grib_header=st.booleans())
def test_random_bytes_never_crash_the_grib_reader(tmp_path: Path, payload: bytes, grib_header: bool):
    path = tmp_path / "fuzz_f001.grib2"
    path.write_bytes((b"GRIB" if grib_header else b"") + payload)
    with pytest.raises(DataError) as err:
        read_grib([path], ECMWF)
    assert err.value.path is not None


@FUZZ
@given(cut=st.integers(min_value=1, max_value=99))
def test_any_truncation_of_a_real_grib_file_is_reported(demo_archive: Path, tmp_path: Path, cut: int):
    good = (demo_archive / "nwp" / "2026070100" / "nwp_2026070100_f003.grib2").read_bytes()
    path = tmp_path / "cut_f003.grib2"
    path.write_bytes(good[: len(good) * cut // 100])
    with pytest.raises(DataError):
        read_grib([path], ECMWF)


@FUZZ
@given(payload=st.binary(max_size=2000))
def test_random_bytes_never_crash_the_qpe_reader(tmp_path: Path, payload: bytes):
    path = tmp_path / "qpe_2026070100.nc"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + payload)
    with pytest.raises(DataError):
        read_qpe_file(path)


@FUZZ
@given(payload=st.binary(max_size=2000), hdf5_header=st.booleans())
def test_random_bytes_never_crash_the_imerg_and_komet_readers(tmp_path: Path, payload: bytes, hdf5_header: bool):
    data = (b"\x89HDF\r\n\x1a\n" if hdf5_header else b"") + payload
    imerg = tmp_path / "3B-HHR.MS.MRG.3IMERG.20260701-S000000-E002959.0000.V07B.HDF5"
    imerg.write_bytes(data)
    with pytest.raises(DataError) as exc:
        read_rate(imerg)
    assert exc.value.path == imerg
    run = tmp_path / "komet" / "GDPS_KIM" / "202607" / "01" / "00"
    run.mkdir(parents=True, exist_ok=True)
    for kind in ("dfp", "dfs"):
        (run / f"gdaps_kim_{kind}_ft001.nc").write_bytes(data)
    with pytest.raises(DataError) as exc:
        KometCatalog(tmp_path / "komet").load_run("2026070100")
    assert exc.value.path is not None and exc.value.path.parent == run


values = arrays(np.float64, (3, 8, 9), elements=st.one_of(st.floats(-5, 200), st.just(np.nan)))


@FUZZ
@given(f=values, o=values, thr=st.sampled_from([0.1, 1.0, 10.0]))
def test_scores_of_any_fields_are_in_range_or_nan(f: np.ndarray, o: np.ndarray, thr: float):
    table = contingency_table(f, o, thr)
    assert sum(int(v) for v in table.values()) == int((np.isfinite(f) & np.isfinite(o)).sum())
    s = categorical_scores(table)
    for name in ("csi", "pod", "far", "sr", "f1", "accuracy", "base_rate"):
        assert np.isnan(s[name]) or 0 <= s[name] <= 1, name
    for name in ("ets", "hss", "pss", "sedi"):
        assert np.isnan(s[name]) or -1 - 1e-9 <= s[name] <= 1 + 1e-9, name
    v = fss(f, o, thr, 3)
    assert np.isnan(v) or 0 <= v <= 1


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    target = tmp_path / "result.nc"
    target.write_bytes(b"old")
    with pytest.raises(DataError, match="write failed") as err, atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert "No space left" in str(err.value)
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_an_unwritable_output_folder_is_named(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write here") as err:
        atomic_write_bytes(blocker / "sub" / "out.nc", b"data")
    assert "file" in str(err.value)
    # asked before long work: the same answer, and a writable target is left as it was, with nothing beside it
    with pytest.raises(DataError, match="cannot write here"):
        check_writable(blocker / "sub" / "out.nc")
    check_writable(blocker)
    check_writable(tmp_path / "new" / "out.nc")
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["file", "new"]
    assert not list((tmp_path / "new").iterdir())


def test_all_nan_qpe_scores_as_undefined_not_as_dry(tmp_path: Path):
    from engine.data.qpe import write_qpe
    from engine.grid import KOREA

    write_qpe(tmp_path / "qpe_2026070100.nc", np.datetime64("2026-07-01T00"), np.full(KOREA.shape, np.nan))
    qpe = read_qpe_file(tmp_path / "qpe_2026070100.nc").values
    s = categorical_scores(contingency_table(np.ones_like(qpe), qpe, 0.1))
    assert np.isnan(s["csi"]) and np.isnan(s["accuracy"])
