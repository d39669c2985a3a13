"""``training/paper_gpu.sh`` end to end on a tiny config, on the CPU: a GPU session is short and rare, so the script
must not meet its first bug there."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml


@pytest.mark.slow
def test_the_gpu_script_fits_epochs_to_its_minutes_and_returns_every_stage(demo_archive: Path, tmp_path: Path):
    raw = yaml.safe_load(Path("training/configs/paper_short.yaml").read_text())
    raw.update(name="tiny_gpu", model="lite", crop=64, threads=2, heldout_runs=1)
    raw["data"].update(archive=str(demo_archive), store=str(tmp_path / "store"), runs=2, lead_times=[1, 4])
    raw["split"] = {"train": 1, "val": 0, "test": 1}
    raw["pretrain"].update(batch=2)
    raw["finetune"].update(batch=2)
    raw.update(results_dir=str(tmp_path / "results"), weights_dir=str(tmp_path / "weights"))
    config = tmp_path / "tiny_gpu.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    # The script calls python3: make it this interpreter.
    env = {**os.environ, "INFERENCE_BENCH": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "training/paper_gpu.sh", str(out), "0.05", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    log = (out / "log.txt").read_text()
    for stage in ("bench_training", "prepare", "pretrain", "finetune", "evaluate"):
        assert f"=== {stage}: exit 0" in log, stage
    with tarfile.open(out / "paper_gpu.tgz") as tar:
        names = {Path(n).name for n in tar.getnames()}
        assert {"evaluation.json", "train_log.jsonl", "config.yaml", "bench_training.out"} <= names
        fitted = yaml.safe_load(tar.extractfile("./config.yaml").read())
        evaluation = json.loads(tar.extractfile("./evaluation.json").read())
    assert fitted["pretrain"]["epochs"] >= 1 and fitted["finetune"]["epochs"] >= 1
    assert fitted["data"]["loader_workers"] == 6  # the GPU config's own settings travel into the run
    assert any(r["method"] == "pretrained_continuous" and r["lead_time"] is None for r in evaluation["rows"])


def test_the_gpu_script_answers_help_without_running_anything(tmp_path: Path):
    done = subprocess.run(
        ["bash", str(Path("training/paper_gpu.sh").resolve()), "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and "Usage: bash training/paper_gpu.sh [RESULT_DIR]" in done.stdout, done.stderr
    assert not list(tmp_path.iterdir()), "--help is not a result folder"
