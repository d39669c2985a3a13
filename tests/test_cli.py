import json
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ["demo", "runs", "sources", "verify", "predict", "place", "bench"]


def _run(*args: str, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-m", "engine", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str):
    res = _run(command, "--help")
    assert res.returncode == 0 and "usage:" in res.stdout


def test_runs_json(demo_archive: Path):
    res = _run("runs", "--data", str(demo_archive), "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["run"] for r in rows] == ["2026070100", "2026070200"] and rows[0]["lead_times"][-1] == 48


def test_bad_folder_is_one_line_and_exit_2(tmp_path: Path):
    res = _run("runs", "--data", str(tmp_path / "nowhere"))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "nowhere" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "option, said",
    [
        (("--weights", "engine/weights/lite.safetensors"), "--weights applies to --source model only"),
        (("--decision", "argmax"), "--decision applies to --source model only"),
    ],
)
def test_verify_refuses_a_model_option_for_the_raw_nwp(demo_archive: Path, option: tuple[str, str], said: str):
    """An option the raw NWP cannot use is said, not silently ignored (the scores would look like the model's)."""
    res = _run("verify", "--data", str(demo_archive), "--source", "nwp", *option)
    assert res.returncode == 2 and said in res.stderr and "Traceback" not in res.stderr


def test_demo_cli_writes_grib_and_qpe(tmp_path: Path):
    res = _run("demo", "--out", str(tmp_path / "d"), "--runs", "1", "--leads", "3", "--seed", "7", "--quiet")
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "d" / "nwp" / "2026070100").glob("*.grib2"))) == 4
    assert len(list((tmp_path / "d" / "qpe").glob("qpe_*.nc"))) == 4
    for bad in (("--runs", "0"), ("--leads", "-3")):  # a ValueError traceback before
        res = _run("demo", "--out", str(tmp_path / "e"), *bad, "--quiet")
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert "needs at least 1 run and a last lead time of 0-240 h" in res.stderr and not (tmp_path / "e").exists()


def test_bench_refuses_a_missing_weights_file_and_weights_for_the_random_paper_size(tmp_path: Path):
    missing = tmp_path / "trained.safetensors"
    res = _run("bench", "--weights", str(missing), "--repeats", "1")
    assert res.returncode == 2 and "trained.safetensors" in res.stderr and "Traceback" not in res.stderr
    res = _run("bench", "--model", "paper", "--weights", str(missing))
    assert res.returncode == 2 and "--model lite only" in res.stderr


def test_bench_imerg_index_lists_the_season_it_writes():
    from engine.bench import bench_imerg_index

    report = bench_imerg_index(days=2, repeats=1)
    assert report["files"] == 96 and report["first_look_ms"] > 0 and report["unchanged_look_ms"] > 0


def test_place_prints_one_citys_or_points_hours_and_names_an_unknown_place(
    demo_archive: Path, prediction_cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """The app's place chart on the command line: the city's grid cell at every lead time, as CSV; a point by its
    coordinates; a clear error for an unknown city or a point beyond the data."""
    import io

    import numpy as np
    import pandas as pd

    from engine.data.catalog import Catalog
    from engine.places import find_place, nearest_cell

    monkeypatch.setenv("PRECIP_CACHE", str(prediction_cache))
    args = ("place", "--data", str(demo_archive), "--run", "2026070100", "--place", "gwangju", "--csv")
    res = _run(*args)  # post-processes the run if no earlier test did
    assert res.returncode == 0, res.stderr
    again = _run(*args, flags=("-X", "importtime"))
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines()}
    assert again.stdout == res.stdout and "engine.cache" in imported
    assert "torch" not in imported, "a post-processed run is answered from the cache, without loading the network"
    table = pd.read_csv(io.StringIO(res.stdout))
    cat = Catalog(demo_archive)
    leads = list(range(1, 49))
    iy, ix = nearest_cell(cat.grid.lat, cat.grid.lon, find_place("Gwangju"))
    assert list(table["lead time (h)"]) == leads
    assert table["valid (KST)"][0] == "2026-07-01 10:00" and table["valid (UTC)"][0] == "2026-07-01 01:00"
    np.testing.assert_allclose(table["raw NWP (mm/h)"], cat.load_run("2026070100", leads)["tp"].values[:, iy, ix])
    np.testing.assert_allclose(table["observed QPE (mm/h)"], cat.load_qpe("2026070100", leads).values[:, iy, ix])
    from engine.model.manifest import DEFAULT_WEIGHTS

    if DEFAULT_WEIGHTS.exists():
        p_rain, p_heavy = table["model P(>= 0.1 mm/h)"], table["model P(>= 10 mm/h)"]
        assert ((p_heavy >= 0) & (p_heavy <= p_rain) & (p_rain <= 1)).all(), "heavy rain is rain"
    # any point, as "lat,lon": Gwangju's station's coordinates give Gwangju's cell
    at = _run("place", "--data", str(demo_archive), "--run", "2026070100", "--place", "35.17,126.89", "--no-model")
    assert at.returncode == 0, at.stderr
    cell = f"grid cell {cat.grid.lat[iy]:.2f}N {cat.grid.lon[ix]:.2f}E"
    assert at.stdout.startswith(f"35.17°N 126.89°E (at Gwangju), {cell}")
    assert "KMA heavy rain: advisory at 60 mm in 3 h" in at.stdout and "max 12 h (mm)" in at.stdout
    assert "\nobserved QPE, 25 km box " in at.stdout and "\nraw NWP, 25 km box " in at.stdout
    off = "50.00°N 150.00°E (2159 km NE of Gangneung) lies outside"
    for args, message in ((["Atlantis"], "a city (Seoul, Incheon"), (["50,150"], off)):
        bad = _run("place", "--data", str(demo_archive), "--run", "2026070100", "--place", *args, "--no-model")
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and message in bad.stderr, bad.stderr


LITE = str(Path("training/configs/lite.yaml").resolve())


@pytest.mark.parametrize(
    "module, argv",
    [
        ("engine.cli", ["bench", "--repeats", "0"]),
        ("engine.cli", ["demo", "--out", "nowhere", "--workers", "-2"]),
        ("training.cli", ["bench", "--config", LITE, "--repeats", "0"]),
        ("training.cli", ["leadtime", "--config", LITE, "--hours", "six"]),
        ("app.bench", ["--moves", "0"]),
    ],
)
def test_a_count_of_none_is_a_usage_error_not_a_traceback(
    module: str, argv: list[str], capsys, monkeypatch, tmp_path: Path
):
    """``--repeats 0`` ran the benchmark and died on min() of no timings."""
    import importlib

    monkeypatch.chdir(tmp_path)  # where a command that ran anyway would write
    monkeypatch.setattr(sys, "argv", ["prog", *argv])
    with pytest.raises(SystemExit) as done:
        importlib.import_module(module).main()  # each reads sys.argv
    assert done.value.code == 2 and "is not a whole number of 1 or more" in capsys.readouterr().err
