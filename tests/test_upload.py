"""Uploaded files: checked byte by byte before decoding, staged as their own data folder, names sanitised."""

from pathlib import Path

import pytest

from engine.data.sources import open_data
from engine.data.upload import check_grib2, safe_name, stage_run
from engine.errors import DataError


def _run_files(demo_archive: Path, leads=(0, 1, 2)) -> list[tuple[str, bytes]]:
    run = sorted(p.name for p in (demo_archive / "nwp").iterdir())[0]
    return [(p.name, p.read_bytes()) for p in sorted((demo_archive / "nwp" / run).glob("*.grib2"))[: len(leads)]]


def test_real_grib2_passes_and_every_damage_is_named(demo_archive: Path):
    name, data = _run_files(demo_archive)[1]
    assert check_grib2(name, data) == 16
    cases = {
        "not GRIB2: does not start": b"\x89PNG" + data,
        "truncated": data[:-10],
        "junk after message 16": data + b"junk",
        "message 17 is truncated": data + b"GRIB junk",
        "does not end with '7777'": data[:-4] + b"0000",
        "GRIB edition 1": data[:7] + b"\x01" + data[8:],
        "empty file": b"",
        "over the 0 MB limit": None,
    }
    for problem, damaged in cases.items():
        with pytest.raises(DataError, match=problem) as exc:
            check_grib2(name, data, max_bytes=1000) if damaged is None else check_grib2(name, damaged)
        assert str(exc.value).startswith(name)


@pytest.mark.parametrize(
    "name", ["../evil.grib2", "/etc/passwd.grib2", ".hidden.grib2", "a b.grib2", "run.txt", "x\\..\\y.grib2", ""]
)
def test_unsafe_file_names_are_refused(name: str):
    with pytest.raises(DataError, match="refused"):
        safe_name(name)


def test_an_upload_becomes_its_own_data_folder_scored_against_the_roots_qpe(demo_archive: Path, tmp_path: Path):
    files = _run_files(demo_archive)
    folder, run = stage_run(files, tmp_path / "uploads", demo_archive)
    assert folder.parent == tmp_path / "uploads" and (folder / "qpe").resolve() == (demo_archive / "qpe").resolve()
    cat = open_data(folder)
    assert cat.runs() == [run] and cat.lead_times(run) == [0, 1, 2]
    assert cat.load_qpe(run, [1, 2]).notnull().any()
    assert stage_run(files, tmp_path / "uploads", demo_archive) == (folder, run), "same files, same folder"
    other = sorted((demo_archive / "nwp").iterdir())[1]
    mixed = [*files, (f"other_{other.name}.grib2", next(other.glob("*.grib2")).read_bytes())]
    with pytest.raises(DataError, match="an upload holds one run"):
        stage_run(mixed, tmp_path / "uploads2", demo_archive)
    assert not (tmp_path / "uploads2").exists(), "a refused upload writes nothing"
