"""The training pipeline on a tiny store: prepare, pre-train, fine-tune, weights, resume, DDP."""

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from engine.channels import CHANNEL_NAMES
from engine.errors import DataError
from engine.model.config import UNetConfig
from engine.model.manifest import read_manifest
from engine.model.weights import load_model
from training.config import load_config
from training.context import context_scores
from training.finetune import finetune
from training.loop import StoreDataset, fit, random_crop
from training.methods import last_epoch_twin, parse_method
from training.store import Store, cyclic_split, prepare


@pytest.fixture(scope="module")
def tiny_config(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    raw = yaml.safe_load(Path("training/configs/lite.yaml").read_text())
    raw.update(name="tiny", crop=64, threads=2, results_dir=str(root / "results"), weights_dir=str(root / "weights"))
    raw["ship"] = "pretrained_continuous"  # the tests train the full method itself, not lite.yaml's second phase
    raw["data"].update(archive=str(demo_archive), store=str(root / "store"), runs=2, lead_times=[1, 4])
    raw["split"] = {"train": 1, "val": 0, "test": 1}
    raw["pretrain"].update(epochs=1, batch=2)
    raw["finetune"].update(epochs=1, batch=2)
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    prepare(load_config(path), progress=False)
    return path


@pytest.mark.parametrize("path", sorted(Path("training/configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_loads_with_its_methods(path: Path):
    cfg = load_config(path)
    model = cfg.model_config
    assert cfg.crop % 32 == 0 and cfg.crop % model.patch == 0
    assert model.token_grid[0] * model.patch >= 160  # positions cover the whole domain
    for name in (*cfg.methods, *cfg.ablations, cfg.ship):
        parse_method(name, cfg.finetune.loss, cfg.pretrain.mask_ratio)


def test_an_experiment_config_states_only_what_it_changes_on_top_of_its_base(tmp_path: Path):
    shutil.copy("training/configs/lite.yaml", tmp_path / "lite.yaml")
    (tmp_path / "exp.yaml").write_text(
        "base: lite.yaml\nname: exp\npretrain: {epochs: 24}\nablations: []\nmodel_overrides: {skip_width: 64}\n"
        "unet_overrides: {widths: [24, 48, 96, 192]}\n"
    )
    base, exp = load_config(tmp_path / "lite.yaml"), load_config(tmp_path / "exp.yaml")
    assert exp.name == "exp" and exp.model_config.skip_width == 64
    assert exp.unet_config.widths == (24, 48, 96, 192) and base.unet_config == UNetConfig()
    assert exp.pretrain.epochs == 24 and exp.pretrain.mask_ratio == base.pretrain.mask_ratio  # merged, not replaced
    assert exp.ablations == () and exp.methods == base.methods and exp.data == base.data
    assert exp.raw["pretrain"]["lr"] == base.pretrain.lr and "base" not in exp.raw  # the manifest gets it all

    # refused, naming the file and what is wrong: a mistyped field, a setting left out, a word for a number, bases
    # in a loop, a base that is not there
    refused = [
        (
            {"typo.yaml": "base: lite.yaml\nname: typo\nunet_overrides: {width: [8, 16]}\n"},
            r"bad training config.*width",
        ),
        ({"bare.yaml": "name: bare\n"}, r"bare.yaml: bad training config: no 'seed' setting"),
        ({"words.yaml": "base: lite.yaml\nname: words\ncrop: wide\n"}, r"words.yaml: bad training config: .*'wide'"),
        (
            {"a.yaml": "base: b.yaml\nname: a\n", "b.yaml": "base: a.yaml\nname: b\n"},
            r"loop \(a.yaml -> b.yaml -> a.yaml\)",
        ),
        ({"orphan.yaml": "base: gone.yaml\nname: orphan\n"}, r"orphan.yaml.*gone.yaml does not exist"),
    ]
    for files, said in refused:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=said):
            load_config(tmp_path / next(iter(files)))


@pytest.mark.parametrize(
    "command, folder", [("evaluate", "results_dir"), ("ship", "weights_dir"), ("pretrain", "store")]
)
def test_a_folder_a_command_cannot_write_is_named_before_its_work(tmp_path: Path, capsys, command: str, folder: str):
    """Results written at the end of an evaluation (minutes to hours) into a folder that cannot be made were lost."""
    from training.cli import main

    (tmp_path / "blocker").write_text("a file, not a folder")
    blocked = str(tmp_path / "blocker" / "sub")
    setting = {"store": {"data": {"store": f"{blocked}/store"}}}.get(folder, {folder: blocked})
    config = tmp_path / "blocked.yaml"
    config.write_text(
        yaml.safe_dump({"base": str(Path("training/configs/lite.yaml").resolve()), "name": "b", **setting})
    )
    assert main([command, "--config", str(config)]) == 2
    said = capsys.readouterr().err
    assert f"{tmp_path / 'blocker'}" in said and "cannot write here" in said, said


def test_cyclic_split_never_mixes_runs():
    runs = [f"202607{d:02d}00" for d in range(1, 17)]
    split = cyclic_split(runs, {"train": 4, "val": 2, "test": 2})
    assert [split[r] for r in runs[:8]] == ["train"] * 4 + ["val"] * 2 + ["test"] * 2
    assert sum(v == "test" for v in split.values()) == 4


def test_label_share_draws_are_distinct_sets_of_runs(tmp_path: Path):
    """Ten draws of 2 of 24 labelled runs are ten different pairs (generator seeds 5 and 6 pick seeds 0's and 1's
    pair again), and draws 0-4 keep the runs the networks already trained on them learnt from."""
    runs = [f"2026{m:02d}{d:02d}00" for m, d in itertools.product((6, 7), range(10, 22))]
    samples = [{"run": r, "split": "train"} for r in runs for _ in range(2)] + [{"run": "2026080100", "split": "val"}]
    stats = {"channels": list(CHANNEL_NAMES), "mean": [0.0] * 16, "std": [1.0] * 16, "log1p": ["tp"]}
    (tmp_path / "store.json").write_text(json.dumps({"samples": samples, "normalisation": stats}))
    np.save(tmp_path / "x.npy", np.zeros((len(samples), 1), np.float16))
    store = Store(tmp_path)

    def labelled(draw: int) -> tuple[str, ...]:
        return tuple(sorted({samples[i]["run"] for i in store.indices("train", 0.1, 0, draw)}))

    draws = [labelled(d) for d in range(10)]
    assert len(set(draws)) == 10 and all(len(d) == 2 for d in draws)
    rng_pairs = [tuple(sorted(np.random.default_rng(s).choice(runs, 2, replace=False).tolist())) for s in range(7)]
    assert draws[:5] == rng_pairs[:5] and rng_pairs[5:7] == rng_pairs[:2]  # why the draws skip seeds
    assert len(store.indices("train", 0.1, 0, 3)) == 4  # both samples of each labelled run, nothing from val
    with pytest.raises(ValueError, match="only 276 distinct sets of 2 of 24 runs"):
        store.indices("train", 0.1, 0, 276)


def test_store_has_normalised_inputs_exact_targets_and_a_clean_split(tiny_config: Path):
    store = Store(load_config(tiny_config).data.store)
    assert store.x.dtype == np.float16 and store.y.dtype == np.float32 and store.x.shape[1:] == (16, 160, 160)
    assert set(store.runs("train")).isdisjoint(store.runs("test"))
    train = np.asarray(store.x[store.indices("train")], dtype=np.float64)
    np.testing.assert_allclose(train.mean(axis=(0, 2, 3)), 0, atol=0.02)
    np.testing.assert_allclose(train.std(axis=(0, 2, 3)), 1, atol=0.02)


def test_store_is_the_same_whatever_the_number_of_workers(
    tiny_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    raw = yaml.safe_load(tiny_config.read_text())  # 2 runs: prepared in this process
    raw["data"]["store"] = str(tmp_path / "store")
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr("engine.parallel.JOBS_PER_WORKER", 1)  # so here in 2 worker processes
    two, one = prepare(load_config(path), progress=False), Path(load_config(tiny_config).data.store)
    for name in ("x.npy", "y.npy", "store.json"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_an_nwp_file_rewritten_at_the_same_size_makes_prepare_rebuild_the_store(tiny_config: Path, tmp_path: Path):
    import shutil

    from training.fingerprint import fingerprint, listing_fingerprint

    raw = yaml.safe_load(tiny_config.read_text())
    archive = Path(shutil.copytree(raw["data"]["archive"], tmp_path / "archive"))
    raw["data"].update(archive=str(archive), store=str(tmp_path / "store"))
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(raw))
    store = prepare(load_config(path), progress=False)
    before = (store / "x.npy").read_bytes(), json.loads((store / "store.json").read_text())["fingerprint"]
    assert before[1] == fingerprint(archive) and before[1].startswith("sha256:")
    # A corrected delivery of one forecast hour: same file name, same size (simple packing), other values.
    grib = sorted(archive.glob("nwp/*/*_f001.grib2"))[0]
    data = bytearray(grib.read_bytes())
    listing = listing_fingerprint(archive)
    data[-12] ^= 0xFF  # inside the last field's packed values, before the end section "7777"
    grib.write_bytes(bytes(data))
    assert listing_fingerprint(archive) == listing  # what the older fingerprint could not see
    with pytest.raises(DataError, match=r"store: built from an earlier state of .*archive.*training prepare"):
        Store(store).require_current()  # what pretrain, finetune and evaluate check before they read the store
    store = prepare(load_config(path), progress=False)
    after = (store / "x.npy").read_bytes(), json.loads((store / "store.json").read_text())["fingerprint"]
    assert after[1] == fingerprint(archive) != before[1] and after[0] != before[0]


def test_unlabelled_runs_are_normalised_like_the_training_runs_and_feed_only_pretraining(
    tiny_config: Path, tmp_path: Path
):
    from training.pretrain import pretrain

    raw = yaml.safe_load(tiny_config.read_text())
    raw["name"] = "tiny_unlabelled"
    raw["data"]["unlabelled"] = {  # the labelled archive again, read as if its QPE did not exist
        "archive": raw["data"]["archive"],
        "store": str(tmp_path / "unlabelled"),
        "runs": 2,
        "demo_seed": 7,
        "start": "2026-07-01",
    }
    path = tmp_path / "unlabelled.yaml"
    path.write_text(yaml.safe_dump(raw))
    # Its second run is a test run: pre-training must not read the inputs the networks are judged on.
    with pytest.raises(DataError, match=r"unlabelled data would hold test runs \(2026070200\)"):
        prepare(load_config(path), progress=False)
    raw["data"]["unlabelled"]["before"] = "2026-07-02"  # the training run alone
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    labelled, extra = Store(cfg.data.store), Store(cfg.data.unlabelled.store)
    assert extra.y is None and not (tmp_path / "unlabelled" / "y.npy").exists()
    assert extra.stats == labelled.stats and extra.runs("unlabelled") == labelled.runs("train")
    np.testing.assert_array_equal(np.asarray(extra.x), np.asarray(labelled.x)[: len(extra.x)])
    with pytest.raises(ValueError, match="no labels"):
        StoreDataset(extra, np.arange(2))
    pretrain(cfg, progress=False)
    log = [json.loads(line) for line in (cfg.out_dir / "train_log.jsonl").read_text().splitlines()]
    # 1 labelled training run + 1 unlabelled run, 4 lead times each; validation is empty in the tiny split
    assert log[-1]["samples"] == 8


def test_ablation_names_parse_into_methods_with_their_own_backbones(tiny_config: Path):
    from training.pretrain import backbone_path

    cfg = load_config(tiny_config)
    m = parse_method("pretrained_focal_10pct_mask50_pt3_enc20", cfg.finetune.loss, 0.9)
    assert (m.loss.kind, m.fraction, m.pretrain_mask_ratio, m.pretrain_epochs) == ("focal", 0.1, 0.5, 3)
    assert m.encoder_lr_scale == 0.2
    again = parse_method("pretrained_continuous_seed2", cfg.finetune.loss, 0.9)
    assert again.seed == 2 and again.loss == parse_method("pretrained_continuous", cfg.finetune.loss, 0.9).loss
    assert backbone_path(cfg, 0.9, seed=2) != backbone_path(cfg, 0.9)  # a repeat pre-trains its own backbone
    assert parse_method("scratch_10pct_draw2", cfg.finetune.loss, 0.9).draw == 2
    assert parse_method("pretrained_rain100", cfg.finetune.loss, 0.9).pretrain_rain_ratio == 1.0
    assert parse_method("unet_ft20_seed1", cfg.finetune.loss, 0.9).finetune_epochs == 20
    masked = parse_method("pretrained_continuous_ft20_ftmask25", cfg.finetune.loss, 0.9)
    assert (masked.finetune_epochs, masked.finetune_mask_ratio, masked.pretrain_mask_ratio) == (20, 0.25, 0.9)
    paths = {backbone_path(cfg, 0.9), backbone_path(cfg, 0.5), backbone_path(cfg, 0.9, 3)}
    assert backbone_path(cfg, 0.9, rain_ratio=1.0) not in paths
    assert len(paths) == 3 and backbone_path(cfg, 0.9, cfg.pretrain.epochs) == backbone_path(cfg, 0.9)
    with pytest.raises(ValueError, match="unknown method part"):
        parse_method("pretrained_sometimes", cfg.finetune.loss, 0.9)
    with pytest.raises(ValueError, match="needs a labelled share"):
        parse_method("scratch_draw2", cfg.finetune.loss, 0.9)
    assert parse_method("pretrained_continuous_normpix_seed1", cfg.finetune.loss, 0.9).pretrain_norm_pix
    assert backbone_path(cfg, 0.9, norm_pix=True) not in paths
    with pytest.raises(ValueError, match="not pre-trained"):
        parse_method("scratch_normpix", cfg.finetune.loss, 0.9)
    assert parse_method("pretrained_continuous_ft20_dp20", cfg.finetune.loss, 0.9).drop_path == 0.2
    assert parse_method("pretrained_continuous_tube_seed2", cfg.finetune.loss, 0.9).pretrain_tube
    assert backbone_path(cfg, 0.9, tube=True) not in paths | {backbone_path(cfg, 0.9, norm_pix=True)}
    with pytest.raises(ValueError, match="_tube"):
        parse_method("pretrained_tube_rain100", cfg.finetune.loss, 0.9)
    with pytest.raises(ValueError, match="U-Net has none"):
        parse_method("unet_dp20", cfg.finetune.loss, 0.9)


def test_layer_wise_decay_slows_each_encoder_stage_below_the_last_and_leaves_the_head_alone(tiny_config: Path):
    from training.finetune import build, encoder_groups

    cfg = load_config(tiny_config)
    method = parse_method("pretrained_continuous_ld50", cfg.finetune.loss, 0.9)
    assert method.layer_decay == 0.5
    core = build(cfg, method)
    groups = encoder_groups(core, 1e-3, method.layer_decay)
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    back = {n: p for n, p in core.named_parameters() if n.startswith(("embed.", "encoder."))}
    assert len(rate) == len(back) == sum(len(g["params"]) for g in groups)  # each in exactly one group
    stages = len(core.encoder.stages)
    assert rate[id(back["embed.proj.weight"])] == 1e-3 * 0.5**stages  # the stem and embedding learn slowest
    last = [p for n, p in back.items() if n.startswith(f"encoder.stages.{stages - 1}.")]
    assert {rate[id(p)] for p in last} == {1e-3}
    first = [p for n, p in back.items() if n.startswith("encoder.stages.0.")]
    into_second = [p for n, p in back.items() if n.startswith("encoder.downsamples.0.")]
    assert {rate[id(p)] for p in first} == {1e-3 * 0.5 ** (stages - 1)}
    assert {rate[id(p)] for p in into_second} == {1e-3 * 0.5 ** (stages - 2)}  # downsampling joins the stage it feeds
    assert len(encoder_groups(core, 1e-3, 1.0)) == 1
    with pytest.raises(ValueError, match="has none"):
        parse_method("pretrained_frozen_ld50", cfg.finetune.loss, 0.9)


def test_a_head_method_starts_from_the_pretrained_pyramid_and_refuses_a_backbone_only_file(
    tiny_config: Path, tmp_path: Path
):
    from safetensors.torch import load_file, save_file

    from training.finetune import build, load_pretrained
    from training.pretrain import pretrain

    cfg = load_config(tiny_config)
    saved_path = pretrain(cfg, 0.9, progress=False)
    saved = load_file(str(saved_path))
    plain = build(cfg, parse_method("pretrained_continuous", cfg.finetune.loss, 0.9))
    with_head = build(cfg, parse_method("pretrained_continuous_head", cfg.finetune.loss, 0.9))
    load_pretrained(plain, saved_path, head=False)
    load_pretrained(with_head, saved_path, head=True)
    for core in (plain, with_head):
        assert torch.equal(core.state_dict()["encoder.stem.0.weight"], saved["encoder.stem.0.weight"])
    assert torch.equal(with_head.state_dict()["head.fuse.0.weight"], saved["head.fuse.0.weight"])
    assert not torch.equal(plain.state_dict()["head.fuse.0.weight"], saved["head.fuse.0.weight"])
    # The file keeps the reconstruction's 16-channel output (for `training probe`); no segmenter inherits it.
    assert saved["head.out.weight"].shape[0] == 16 and with_head.head.out.weight.shape[0] == 3
    assert with_head.refine is not None and not any(k.startswith("refine.") for k in saved)

    old = tmp_path / "backbone_only.safetensors"
    save_file({k: v for k, v in saved.items() if k.startswith(("embed.", "encoder."))}, str(old))
    load_pretrained(plain, old, head=False)  # enough for a method that starts a new head
    with pytest.raises(DataError, match="backbone_only.safetensors.*delete it to pre-train again"):
        load_pretrained(with_head, old, head=True)
    with pytest.raises(ValueError, match="not pre-trained"):
        parse_method("scratch_head", cfg.finetune.loss, 0.9)


def test_probe_scores_each_variable_under_both_maskings_and_names_what_it_cannot_probe(
    tiny_config: Path, tmp_path: Path
):
    from safetensors.torch import load_file, save_file

    from training.pretrain import backbone_path, pretrain
    from training.probe import explained, probe

    target = torch.randn(2, 16, 8, 8)
    mask = torch.zeros_like(target, dtype=torch.bool)
    mask[..., :4] = True
    assert np.allclose(explained(target, target, mask), 1.0)
    assert np.allclose(explained(torch.zeros_like(target), target, mask), 0.0)  # the training mean: nothing learnt
    outside = torch.where(mask, target, torch.randn_like(target) * 100)
    assert np.allclose(explained(outside, target, mask), 1.0), "only masked pixels count"

    raw = yaml.safe_load(tiny_config.read_text())
    raw.update(name="tiny_probe", weights_dir=str(tmp_path / "weights"), results_dir=str(tmp_path / "results"))
    raw["data"]["store"] = str(tmp_path / "store")
    raw["split"] = {"train": 1, "val": 1, "test": 0}
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    pretrain(cfg, 0.75, progress=False)
    rows = probe(cfg, parse_method("pretrained_continuous", cfg.finetune.loss, 0.75), samples=3)
    assert [r["variable"] for r in rows][-1] == "tp" and len(rows) == 16
    assert all(np.isfinite([r["own"], r["tube"]]).all() and r["own"] <= 1 and r["tube"] <= 1 for r in rows)
    with pytest.raises(DataError, match="not pre-trained"):
        probe(cfg, parse_method("scratch", cfg.finetune.loss, 0.75))
    with pytest.raises(DataError, match="pretrain_mask90.safetensors: not pre-trained yet"):
        probe(cfg, parse_method("pretrained_mask90", cfg.finetune.loss, 0.75))
    saved = backbone_path(cfg, 0.75)
    save_file({k: v for k, v in load_file(str(saved)).items() if not k.startswith("head.out.")}, str(saved))
    with pytest.raises(DataError, match="holds no reconstruction output"):
        probe(cfg, parse_method("pretrained_continuous", cfg.finetune.loss, 0.75))


def test_finetune_after_pretraining_ships_checked_weights(tiny_config: Path):
    cfg = load_config(tiny_config)
    path = finetune(cfg, parse_method("pretrained_continuous", cfg.finetune.loss, 0.9), progress=False)
    model, manifest = load_model(path)
    assert manifest["architecture"] == "postprocessor" and manifest["method"]["pretrained"]
    for key in ("sha256", "model_config", "normalisation", "training_config", "data_fingerprint", "git_commit"):
        assert manifest[key]
    # and the code beside the commit: a test checkout is clean or lists what it changed, never "not recorded"
    from training.code_version import uncommitted

    assert manifest["git_uncommitted"] == uncommitted()
    # the machine's arithmetic, which decides the bits as much as the data do
    assert manifest["environment"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert manifest["environment"]["torch"] == torch.__version__ and manifest["environment"]["device"] == "cpu"
    # where its labels held valid QPE: the only pixels its loss read
    from engine import trained_area
    from engine.grid import KOREA
    from training.store import Store

    store = Store(cfg.data.store)
    labels = np.asarray(store.y)[store.indices("train")]
    learnt = trained_area.unpack(manifest["trained_area"], KOREA.lat, KOREA.lon)
    np.testing.assert_array_equal(learnt, ~np.isnan(labels).all(axis=0))
    assert 0 < learnt.mean() < 1
    assert set(manifest["train_runs"]).isdisjoint(manifest["test_runs"])
    with torch.inference_mode():
        assert model(torch.zeros(1, 16, 160, 160)).shape == (1, 3, 160, 160)


def test_ship_fits_the_probability_calibration_on_validation_runs_only(
    tiny_config: Path, tmp_path: Path, random_lite_weights: Path
):
    from training.calibration import fit_calibration

    model, manifest = load_model(random_lite_weights)
    assert fit_calibration(load_config(tiny_config), model, manifest) == (None, {}), "tiny has no validation run"
    raw = yaml.safe_load(tiny_config.read_text())
    raw["data"].update(archive=str(tmp_path / "archive"), store=str(tmp_path / "store"), runs=3)  # generated
    raw["split"] = {"train": 0, "val": 1, "test": 1}
    path = tmp_path / "val.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataError, match="leaves none of its 3 runs for training"):
        prepare(load_config(path), progress=False)
    raw["split"] = {"train": 1, "val": 1, "test": 1}
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    knots, measured = fit_calibration(cfg, model, manifest)
    assert set(knots) == {"0.1", "10"} and set(measured) == {"test"}  # no held-out archive generated here
    for event, k in knots.items():
        assert np.all(np.diff(k["p"]) > 0) and np.all(np.diff(k["freq"]) >= 0), event
        r = measured["test"][event]
        assert r["reliability_calibrated"] <= r["reliability_raw"] + 1e-9 or r["observed_frequency"] == 0
    # `probabilities` scores methods the same way, seeds side by side, on the test runs and the held-out archive
    import dataclasses

    from engine.data.demo import generate
    from training.calibration import collect_histograms, probabilities_markdown, score_probabilities

    cfg = dataclasses.replace(cfg, heldout_runs=1)
    generate(cfg.heldout_archive(1), runs=1, seed=2024, leads=cfg.data.lead_times[1], progress=False)
    same = {"unet": random_lite_weights, "unet_seed1": random_lite_weights, "scratch": random_lite_weights}
    result = score_probabilities(collect_histograms(cfg, same, False))
    methods = result["methods"]
    assert methods["unet"] == methods["unet_seed1"] and set(methods["unet"]) == {"test", "heldout_seed2024"}
    skill = methods["unet"]["test"]["0.1"]
    assert skill["brier_skill"] <= 1 and 0 <= skill["roc_area"] <= 1
    assert len(skill["pod_at_pofd"]) == 6 and skill["pod_at_pofd"] == sorted(skill["pod_at_pofd"])
    # one pair asked (scratch against the U-Net, two seeds pooled against one), on both data sets and events
    assert {(c["a"], c["b"], c["dataset"], c["threshold"]) for c in result["comparisons"]} == {
        ("scratch", "unet", d, t) for d in ("test", "heldout_seed2024") for t in (0.1, 10.0)
    }
    light = next(c for c in result["comparisons"] if c["threshold"] == 0.1 and c["dataset"] == "test")
    assert light["seeds"] == [1, 2] and light["difference"] == 0.0  # the same network on both sides
    md = probabilities_markdown(result)
    assert "## heldout_seed2024, P(>= 10 mm/h)" in md and "| unet | 2 |" in md
    assert "| scratch | unet | 1 vs 2 | test | >= 0.1 mm/h | 1 | +0.0000 |" in md
    # and what each network's decision threshold costs: tuned on the validation runs as `evaluate` tunes it
    from engine.data.catalog import Catalog
    from training.evaluate import tune_decisions

    model, _ = load_model(random_lite_weights)
    tuned, _ = tune_decisions(model.eval(), Store(cfg.data.store), Catalog(cfg.data.archive).grid.qpe_mask)
    costs = result["thresholds"]["methods"]["unet"]
    assert {e: costs[f"{e:g}"]["threshold"] for e in tuned} == tuned
    for event in ("0.1", "10"):
        for dataset in ("test", "heldout_seed2024"):
            c = costs[event][dataset]
            assert c["hindsight_csi"] >= c["csi"] or np.isnan(c["csi"]), "hindsight is an upper bound"
    assert "## What the decision threshold costs (CSI)" in md
    # `probabilities --rescore` scores the saved histograms again, without the networks
    from training.calibration import read_histograms, write_histograms

    per_run = collect_histograms(cfg, {"unet": random_lite_weights}, False)
    write_histograms(tmp_path / "h.npz", per_run)
    again = read_histograms(tmp_path / "h.npz")
    assert set(again["unet"]) == {"val", "test", "heldout_seed2024"}
    assert np.array_equal(again["unet"]["val"][10.0], per_run["unet"]["val"][10.0])
    assert score_probabilities(again)["methods"]["unet"] == methods["unet"]
    # a shipped recipe (`_grid2`) is set against the U-Net trained the same way and the plain U-Net, as `evaluate` does
    named = dict.fromkeys(("pretrained_continuous_grid2", "unet_grid2", "unet", "scratch"), per_run["unet"])
    asked = {(c["a"], c["b"]) for c in score_probabilities(named, "pretrained_continuous_grid2")["comparisons"]}
    assert asked == {
        ("pretrained_continuous_grid2", "unet_grid2"),
        ("pretrained_continuous_grid2", "unet"),
        ("scratch", "unet"),
    }
    # `probabilities --method` adds its networks to the saved histograms: the others' stay, and all are scored again
    import json

    from engine.model.weights import save_weights
    from training.calibration import histograms_path
    from training.cli import main

    raw["heldout_runs"] = 1  # the held-out archive generated above
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    write_histograms(histograms_path(cfg), {"scratch": per_run["unet"]})
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(cfg.out_dir / "unet.safetensors", model, {**manifest, "name": "unet"})
    assert main(["probabilities", "--config", str(path), "--method", "unet", "--quiet"]) == 0
    assert set(read_histograms(histograms_path(cfg))) == {"scratch", "unet"}
    scored = json.loads((Path(cfg.results_dir) / "probabilities.json").read_text())
    assert set(scored["methods"]) == {"scratch", "unet"}
    # `probabilities --ensemble`: a method's seeds as one network; two copies of a network are that network
    from training.calibration import ensemble_gains, seed_groups

    pair = {"unet": random_lite_weights, "unet_seed1": random_lite_weights}
    ensembles = collect_histograms(cfg, pair, False, groups=seed_groups(pair))
    assert set(ensembles) == {"unet"}
    for dataset, by_event in ensembles["unet"].items():
        for thr, h in by_event.items():
            single = per_run["unet"][dataset][thr]
            assert np.abs(h[:, 0] - single[:, 0]).sum() <= 1e-3 * single[:, 0].sum(), (dataset, thr)  # bin edges
    gains = ensemble_gains(ensembles, {"unet": per_run["unet"], "unet_seed1": per_run["unet"]}, "unet")
    assert {(g["against"], g["dataset"], g["threshold"]) for g in gains} == {
        (a, d, t) for a in ("members", "unet") for d in ("val", "test", "heldout_seed2024") for t in (0.1, 10.0)
    }
    assert all(g["members"] == 2 and abs(g["difference"]) < 0.01 for g in gains if np.isfinite(g["difference"]))


def test_the_any_hour_peaks_count_what_the_engine_counts_at_every_probability_and_tuning_takes_the_best():
    from engine.verify.categorical import TABLE_KEYS, any_hour_table, categorical_scores
    from training.any_hour import PROBABILITIES, peak_tables, run_peaks, tune

    rng = np.random.default_rng(3)
    runs = []
    for _ in range(3):
        p = rng.beta(0.3, 3.0, size=(6, 12, 14)).astype(np.float32)
        obs = np.where(rng.random(p.shape) < p, 15.0, 0.0)
        obs[rng.random(p.shape) < 0.2] = np.nan  # hours not observed
        mask = rng.random(p.shape[1:]) < 0.9
        valid = np.isfinite(obs) & mask
        runs.append((p, obs, mask, run_peaks(p, obs, valid, 10.0)))
    some = (0.01, 0.07, 0.33, 0.9)
    for p, obs, mask, peaks in runs:
        engine = [any_hour_table(p, obs, 10.0, mask, forecast_threshold=at) for at in some]
        assert peak_tables(peaks, some).tolist() == [[t[k] for k in TABLE_KEYS] for t in engine]
    best, csi = tune([r[3] for r in runs])
    brute = {
        at: categorical_scores(
            {k: sum(any_hour_table(p, o, 10.0, m, forecast_threshold=at)[k] for p, o, m, _ in runs) for k in TABLE_KEYS}
        )["csi"]
        for at in PROBABILITIES
    }
    assert csi == pytest.approx(max(brute.values()), abs=1e-5) and brute[best] == max(brute.values())
    assert 0.01 <= best < 0.99, "a run-wide event wants a lower threshold than the top of the range"


def test_any_hour_tunes_on_validation_runs_and_adds_its_threshold_to_unchanged_weights(
    tiny_config: Path, tmp_path: Path, random_lite_weights: Path, capsys
):
    from engine.calibration import any_hour_probability, default_probability_threshold
    from engine.model.manifest import sha256_file
    from engine.model.weights import save_weights
    from training.any_hour import PROBABILITIES
    from training.cli import main

    assert main(["any-hour", "--config", str(tiny_config), "--weights", str(random_lite_weights), "--quiet"]) == 2
    assert "no validation runs to tune on" in capsys.readouterr().err
    raw = yaml.safe_load(tiny_config.read_text())
    raw["data"].update(archive=str(tmp_path / "archive"), store=str(tmp_path / "store"), runs=3)
    raw.update(split={"train": 1, "val": 1, "test": 1}, heldout_runs=1, out_dir=str(tmp_path / "runs"))
    path = tmp_path / "val.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    model, manifest = load_model(random_lite_weights)
    # weights from other data: the validation runs here may have been their training runs
    assert main(["any-hour", "--config", str(path), "--weights", str(random_lite_weights), "--quiet"]) == 2
    assert "trained on other data" in capsys.readouterr().err
    weights = tmp_path / "w" / "mine.safetensors"
    mine = {**manifest, "data_fingerprint": Store(cfg.data.store).meta["fingerprint"]}
    save_weights(weights, model, {k: v for k, v in mine.items() if k not in ("file", "sha256")})
    sha = sha256_file(weights)
    assert any_hour_probability(read_manifest(weights), 10.0) == default_probability_threshold(manifest, 10.0)
    assert main(["any-hour", "--config", str(path), "--weights", str(weights), "--quiet"]) == 0
    shipped = read_manifest(weights)
    assert sha256_file(weights) == shipped["sha256"] == sha, "the weights stay as they were"
    load_model(weights)
    tuned = shipped["any_hour_probability"]
    assert set(tuned) == {"0.1", "10"} and all(v in PROBABILITIES for v in tuned.values())
    assert any_hour_probability(shipped, 10.0) == tuned["10"]
    assert set(shipped["metrics"]["any_hour"]) == {"test", "heldout_seed2024"}
    result = json.loads((Path(cfg.results_dir) / "any_hour.json").read_text())
    assert result["validation_runs"] == Store(cfg.data.store).runs("val")
    assert not set(result["validation_runs"]) & set(result["datasets"]["test"]["runs"])
    assert "| test | 1 | 10 | model, any-hour P |" in (Path(cfg.results_dir) / "any_hour.md").read_text()


def test_context_scores_whole_grid_and_crop_sized_tiles_alike_when_one_tile_covers_the_grid(
    tiny_config: Path, tmp_path: Path, random_lite_weights: Path, capsys
):
    from training.context import main

    assert main(["--config", str(tiny_config), "--weights", str(random_lite_weights), "--quiet"]) == 2
    assert "no validation runs" in capsys.readouterr().err
    raw = yaml.safe_load(tiny_config.read_text())
    raw["data"].update(store=str(tmp_path / "store"))
    raw["split"] = {"train": 1, "val": 1, "test": 0}
    for crop in (160, 64):
        raw["crop"] = crop
        path = tmp_path / f"crop{crop}.yaml"
        path.write_text(yaml.safe_dump(raw))
        if crop == 160:
            prepare(load_config(path), progress=False)
        rows = context_scores(path, [random_lite_weights], progress=False)
        assert [r["tile"] for r in rows] == [None, crop]
        assert all(0 <= r[k] <= 1 for r in rows for k in ("csi_0.1", "csi_10"))
        if crop == 160:
            assert rows[0]["csi_0.1"] == rows[1]["csi_0.1"], "one tile covering the grid is the whole grid"
    assert main(["--config", str(path), "--weights", str(random_lite_weights), "--quiet"]) == 0
    assert "| crop-sized tiles |" in capsys.readouterr().out


def test_probabilities_rescore_without_saved_histograms_names_the_missing_file(tiny_config: Path, capsys):
    from training.cli import main

    assert main(["probabilities", "--config", str(tiny_config), "--rescore", "--ensemble"]) == 2
    err = capsys.readouterr().err
    assert "probabilities_ensemble_histograms.npz: no saved histograms" in err and "without --rescore" in err


def test_a_scarce_label_finetune_anneals_its_learning_rate_once_over_its_longer_run(tiny_config: Path, tmp_path: Path):
    raw = yaml.safe_load(tiny_config.read_text())
    raw.update(name="tiny_scarce", weights_dir=str(tmp_path / "weights"), results_dir=str(tmp_path / "results"))
    raw["data"]["store"] = str(tmp_path / "store")
    raw["split"] = {"train": 2, "val": 0, "test": 0}
    raw["finetune"]["epochs"] = 2
    path = tmp_path / "scarce.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    out = finetune(cfg, parse_method("scratch_50pct", cfg.finetune.loss, 0.9), progress=False)
    history = read_manifest(out)["history"]
    assert len(history) == 4  # one of the two runs labelled, so twice the epochs ...
    assert sum(h["samples"] for h in history) == 2 * 2 * 4  # ... for as many samples as 2 epochs over both
    lrs = [h["lr"] for h in history]
    assert lrs[0] == cfg.finetune.lr_head
    assert all(a > b for a, b in itertools.pairwise(lrs)), lrs  # one cosine, no restart half-way
    assert lrs[-1] < 0.2 * lrs[0]
    # `_ftNN` fine-tunes NN epochs instead of the config's, the labelled share still scaling them; `_dpNN` trains
    # with that stochastic depth, which the manifest's model configuration records.
    shorter = parse_method("scratch_50pct_ft1_ftmask50_dp30", cfg.finetune.loss, 0.9)
    manifest = read_manifest(finetune(cfg, shorter, progress=False))
    assert len(manifest["history"]) == manifest["method"]["finetune_epochs"] == 2
    assert manifest["method"]["finetune_mask_ratio"] == 0.5
    assert manifest["model_config"]["drop_path"] == 0.3 != cfg.model_config.drop_path


def test_a_second_phase_continues_its_trained_twin_on_the_whole_grid_and_leaves_the_twin_alone(
    tiny_config: Path, tmp_path: Path
):
    from engine.model.manifest import sha256_file
    from training.methods import tail_twin

    raw = yaml.safe_load(tiny_config.read_text())
    raw["name"] = "tiny_tail"
    path = tmp_path / "tail.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    grid = parse_method("scratch_grid1", cfg.finetune.loss, 0.9)
    assert (grid.tail_epochs, grid.tail_whole_grid, tail_twin(grid.name)) == (1, True, "scratch")
    with pytest.raises(ValueError, match="not two"):
        parse_method("scratch_grid1_more1", cfg.finetune.loss, 0.9)
    out = finetune(cfg, grid, progress=False)  # trains the twin first: it was missing
    twin_path = out.with_name("scratch.safetensors")
    twin, twin_sha = read_manifest(twin_path), sha256_file(twin_path)
    manifest = read_manifest(out)
    assert manifest["method"]["tail"] == {
        "from": "scratch",
        "from_sha256": twin_sha,
        "epochs": 1,
        "whole_grid": True,
        "lr_scale": 0.2,
    }
    assert manifest["history"][:-1] == twin["history"] and manifest["method"]["finetune_epochs"] == 2
    assert manifest["history"][-1]["lr"] == pytest.approx(0.2 * cfg.finetune.lr_head)
    # a twin whose manifest predates the labelled-area record (before 2026-11-30) still takes a phase
    older = {k: v for k, v in twin.items() if k != "trained_area"}
    twin_path.with_suffix(".json").write_text(json.dumps(older, indent=2) + "\n")
    more = read_manifest(finetune(cfg, parse_method("scratch_more1", cfg.finetune.loss, 0.9), progress=False))
    assert more["trained_area"] == manifest["trained_area"] == twin["trained_area"]
    assert sha256_file(twin_path) == twin_sha and read_manifest(twin_path) == older  # the twin is not retrained
    # Same twin, same data order, same seed: the two phases differ only in what each step sees (the whole
    # 160-px grid against 64-px crops), so equal weights would mean the whole grid was never used.
    assert more["sha256"] != manifest["sha256"]
    assert more["method"]["tail"]["whole_grid"] is False
    x = torch.zeros(1, 16, 160, 160)
    assert random_crop(x, None, None, 8, torch.Generator())[0].shape[-2:] == (160, 160)


def test_pretraining_anneals_once_over_the_epochs_it_runs_also_when_an_ablation_lengthens_it(tiny_config: Path):
    from training.pretrain import pretrain

    raw = yaml.safe_load(tiny_config.read_text())
    raw["name"] = "tiny_anneal"
    assert raw["pretrain"]["restart_epochs"] is None  # the shipped config derives T_0 from the run
    path = tiny_config.with_name("anneal.yaml")
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    pretrain(cfg, progress=False, epochs=3)  # a `_pt3` ablation: 3 epochs where the config says 1
    lrs = [json.loads(line)["lr"] for line in (cfg.out_dir / "train_log.jsonl").read_text().splitlines()]
    assert len(lrs) == 3 and lrs[0] == cfg.pretrain.lr
    assert all(a > b for a, b in itertools.pairwise(lrs)), lrs  # no restart inside the run
    assert lrs[-1] < 0.3 * lrs[0]


def test_evaluate_scores_every_method_on_test_runs_and_a_heldout_seed(tiny_config: Path):
    from training.evaluate import evaluate
    from training.finetune import weights_path

    cfg = load_config(tiny_config)
    names = ["scratch", "pretrained_continuous"]
    methods = [parse_method(n, cfg.finetune.loss, 0.9) for n in names]
    weights = {m.name: finetune(cfg, m, progress=False) for m in methods}
    assert weights == {m.name: weights_path(cfg, m) for m in methods}
    result = evaluate(cfg, names, weights, progress=False, heldout_runs=2)
    written = json.loads((Path(cfg.results_dir) / "evaluation.json").read_text())
    readme = (Path(cfg.results_dir) / "README.md").read_text()
    assert written["rows"] == result["rows"] and "| scratch |" in readme
    # The held-out archive answers the same paired questions as the test runs, over its own runs.
    assert len(result["heldout_runs"]) == 2 and set(result["heldout_run_tables"]) == set(names)
    assert all(len(t["10"]) == 2 for t in result["heldout_run_tables"].values())
    pairs = {(c["dataset"], c["a"], c["b"], c["threshold"]) for c in result["comparisons"]}
    assert {(d, "pretrained_continuous", "scratch", 10.0) for d in ("test", "heldout_seed2024")} <= pairs
    assert "## Are the differences real? (heldout_seed2024 runs" in readme
    for dataset in ("test", "heldout_seed2024"):
        for method in ["raw_nwp", *names]:
            agg = [r for r in result["rows"] if (r["dataset"], r["method"], r["lead_time"]) == (dataset, method, None)]
            assert {r["threshold"] for r in agg} == {0.1, 10.0}, (dataset, method)
            assert all(r["csi"] is None or 0 <= r["csi"] <= 1 for r in agg)
    # Re-scoring one method keeps the others' results (the comparison table stays whole).
    again = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2, merge=names)
    assert set(again["run_tables"]) == set(names) and set(again["decision_thresholds"]) == set(names)
    assert set(again["heldout_run_tables"]) == set(names)
    # ... their per-lead tables too (what `training leadtime` reads), each adding up to its run tables.
    from training.evaluate import lead_tables_path, read_lead_tables, run_totals

    kept = read_lead_tables(lead_tables_path(cfg.results_dir))
    assert kept["test"][0] == [1, 2, 3, 4] and set(kept["heldout_seed2024"][1]) == set(names)
    for dataset, key in (("test", "run_tables"), ("heldout_seed2024", "heldout_run_tables")):
        assert {m: run_totals(t) for m, t in kept[dataset][1].items()} == again[key]
    test_rows = {(r["method"], r["threshold"]) for r in again["rows"] if r["dataset"] == "test" and not r["lead_time"]}
    assert {(m, t) for m in ["raw_nwp", *names] for t in (0.1, 10.0)} <= test_rows
    # ... and the re-scored method keeps its place (the config's order) instead of moving to the end of the tables.
    assert list(dict.fromkeys(r["method"] for r in again["rows"])) == ["raw_nwp", "scratch", "pretrained_continuous"]
    readme = (Path(cfg.results_dir) / "README.md").read_text()
    assert readme.index("| scratch |") < readme.index("| pretrained_continuous |")
    # A method the config no longer names leaves the results instead of lingering from an older evaluation.
    alone = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2, merge=["scratch"])
    assert set(alone["run_tables"]) == {"scratch"}
    assert set(read_lead_tables(lead_tables_path(cfg.results_dir))["test"][1]) == {"scratch"}
    assert {r["method"] for r in alone["rows"]} == {"raw_nwp", "scratch"}


def test_evaluate_names_each_networks_training_archive_and_flags_comparisons_across_archives(
    tiny_config: Path, tmp_path: Path
):
    import dataclasses

    from training.evaluate import evaluate
    from training.fingerprint import short
    from training.store import Store

    cfg = dataclasses.replace(load_config(tiny_config), results_dir=str(tmp_path / "results"))
    names = ["scratch", "pretrained_continuous"]
    weights = {n: finetune(cfg, parse_method(n, cfg.finetune.loss, 0.9), progress=False) for n in names}
    archive = Store(cfg.data.store).meta["fingerprint"]
    result = evaluate(cfg, names, weights, progress=False, heldout_runs=2)
    assert result["trained_on"] == {n: archive for n in names} and result["test_archive"] == archive
    assert {c["archives"] for c in result["comparisons"]} == {"same"}
    readme = (Path(cfg.results_dir) / "README.md").read_text()
    listed = "(the archive the latest evaluation read its test runs from): scratch, pretrained_continuous"
    assert f"`{short(archive)}` {listed}" in readme
    # The same network as if trained on a regenerated archive: its comparisons now say they mix archives.
    manifest_path = weights["scratch"].with_suffix(".json")
    manifest = manifest_path.read_text()
    other = "sha256:" + "ab" * 32
    manifest_path.write_text(json.dumps({**json.loads(manifest), "data_fingerprint": other}))
    try:
        mixed = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2, merge=names)
    finally:
        manifest_path.write_text(manifest)
    assert mixed["trained_on"] == {"scratch": other, "pretrained_continuous": archive}
    pair = [c for c in mixed["comparisons"] if (c["a"], c["b"]) == ("pretrained_continuous", "scratch")]
    assert pair and {c["archives"] for c in pair} == {f"{short(archive)} vs abababab"}
    readme = (Path(cfg.results_dir) / "README.md").read_text()
    assert "`abababab`: scratch" in readme and "measures the archive as well as the method" in readme
    assert f"| {short(archive)} vs abababab |" in readme


def test_a_one_method_rescore_keeps_the_raw_nwp_rows_while_both_archives_are_unchanged(
    tiny_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import dataclasses

    from training.evaluate import evaluate

    cfg = dataclasses.replace(load_config(tiny_config), results_dir=str(tmp_path / "results"))
    weights = {"scratch": finetune(cfg, parse_method("scratch", cfg.finetune.loss, 0.9), progress=False)}
    first = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2)
    assert first["test_archive"].startswith("sha256:") and first["heldout_archive"].startswith("sha256:")

    def rescored(*args, **kwargs):
        raise AssertionError("the raw NWP was scored again")

    monkeypatch.setattr("training.evaluate.score_folder", rescored)
    again = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2, merge=["scratch"])
    nwp = [[r for r in res["rows"] if r["method"] == "raw_nwp"] for res in (first, again)]
    assert nwp[0] == nwp[1] and len(nwp[0]) == 2 * 2 * 5  # 2 datasets x 2 thresholds x (4 leads + aggregate)
    # Once the held-out archive is not the one those rows were scored on, they are scored again.
    path = Path(cfg.results_dir) / "evaluation.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "heldout_archive": "sha256:" + "0" * 64}))
    with pytest.raises(AssertionError, match="scored again"):
        evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2, merge=["scratch"])


def test_pretraining_on_the_season_so_far_keeps_those_heldout_runs_out_of_every_paired_test(
    tiny_config: Path, tmp_path: Path
):
    from training.compare import compare_results
    from training.evaluate import evaluate
    from training.pretrain import backbone_data, backbone_path
    from training.provenance import SEEN, seen_in_pretraining

    raw = yaml.safe_load(tiny_config.read_text())
    raw.update(name="tiny_season", results_dir=str(tmp_path / "results"))
    season = {"store": str(tmp_path / "season"), "runs": 2, "demo_seed": 2024, "start": "2026-07-01"}
    raw["data"]["unlabelled"] = season | {"archive": "", "before": "2026-07-02"}
    path = tmp_path / "season.yaml"
    path.write_text(yaml.safe_dump(raw))
    # The unlabelled archive is the held-out archive itself, generated where `evaluate` will look for it.
    raw["data"]["unlabelled"]["archive"] = str(load_config(path).heldout_archive(2))
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    assert Store(cfg.data.unlabelled.store).runs("unlabelled") == ["2026070100"]  # the season so far: one run
    names = ["scratch", "pretrained_continuous"]
    weights = {n: finetune(cfg, parse_method(n, cfg.finetune.loss, 0.9), progress=False) for n in names}
    result = evaluate(cfg, names, weights, progress=False, heldout_runs=2)
    assert result["heldout_runs"] == ["2026070100", "2026070200"] and result[SEEN] == ["2026070100"]
    # The in-file paired test on the held-out archive is the difference on the unseen run alone.
    (pair,) = [
        c
        for c in result["comparisons"]
        if (c["dataset"], c["a"], c["b"], c["threshold"]) == ("heldout_seed2024", *names[::-1], 0.1)
    ]
    csi = [t[0] / (t[0] + t[1] + t[2]) for t in (result["heldout_run_tables"][n]["0.1"][1] for n in names[::-1])]
    assert pair["difference"] == pytest.approx(csi[0] - csi[1], abs=1e-4)
    readme = (Path(cfg.results_dir) / "README.md").read_text()
    assert "Pre-training read the NWP (never the QPE) of 1 of these held-out runs" in readme
    # ... and scores each network on the run no pre-training read, beside the rows over both.
    assert "## heldout_seed2024, the 1 runs no pre-training read (2026070200 to 2026070200)" in readme
    assert f"| scratch | {csi[1]:.3f} |" in readme
    file = Path(cfg.results_dir) / "evaluation.json"
    rows = compare_results((file, "pretrained_continuous"), (file, "scratch"))
    assert rows[0]["runs"] == 1 and rows[0]["seen_left_out"] == 1
    assert rows[0]["difference"] == pytest.approx(csi[0] - csi[1], abs=1e-4)
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", f"{file}:pretrained_continuous", f"{file}:scratch"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "(1 runs," in res.stdout and "1 runs whose NWP the pre-training read" in res.stdout
    # A later cut-off rebuilds the store with both runs, and then no held-out run is left to judge.
    raw["data"]["unlabelled"]["before"] = "2026-07-03"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    assert Store(cfg.data.unlabelled.store).runs("unlabelled") == ["2026070100", "2026070200"]
    # The backbone pre-trained on the first run alone is not reused for a network of the new cut-off.
    backbone = backbone_path(cfg, 0.9)  # the mask ratio the methods above were parsed with
    assert json.loads(backbone_data(backbone)["unlabelled_runs"]) == ["2026070100"]
    with pytest.raises(DataError, match=r"pretrain_mask90.safetensors: pre-trained on other data .*unlabelled_runs"):
        finetune(cfg, parse_method("pretrained_onehot", cfg.finetune.loss, 0.9), progress=False)
    evaluate(cfg, names, weights, progress=False, heldout_runs=2)
    with pytest.raises(DataError, match="every heldout_seed2024 run .* was read in pre-training"):
        compare_results((file, "pretrained_continuous"), (file, "scratch"))
    # Back to the earlier cut-off: re-scoring scratch alone keeps what the kept network's pre-training was recorded
    # to have read.
    raw["data"]["unlabelled"]["before"] = "2026-07-02"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    again = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2, merge=names)
    assert again[SEEN] == ["2026070100", "2026070200"]
    # What a network's manifest says it read counts even where the store was rebuilt with an earlier cut-off since.
    heldout = result["heldout_archive"]
    store_now, manifest = (heldout, ["2026070100"]), (heldout, ["2026070100", "2026070200"])
    assert seen_in_pretraining([store_now, manifest, ("sha256:other", ["2026070300"])], heldout) == manifest[1]
    raw["data"]["unlabelled"]["before"] = "2026-06-30"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataError, match=r"heldout_seed2024_2runs: no run initialised before 2026-06-30 00:00 UTC"):
        prepare(load_config(path), progress=False)


def test_oracle_tables_count_each_decision_level_as_a_direct_comparison_would():
    from training.ceiling import LEVEL_FACTORS, level_tables

    rng = np.random.default_rng(3)
    obs = rng.lognormal(0.0, 2.0, (40, 40)) * (rng.uniform(size=(40, 40)) < 0.5)
    obs[0, :5] = np.nan
    valid = np.isfinite(obs) & (rng.uniform(size=obs.shape) < 0.9)
    field = obs * rng.lognormal(0.0, 0.3, obs.shape)
    tables = level_tables({"nature": np.nan_to_num(field)}, obs, valid)
    for thr in (0.1, 10.0):
        for k, level in enumerate(thr * LEVEL_FACTORS):
            yes, event = np.nan_to_num(field)[valid] >= level, obs[valid] >= thr
            direct = [np.sum(yes & event), np.sum(~yes & event), np.sum(yes & ~event), np.sum(~yes & ~event)]
            assert tables["nature", thr][k].tolist() == direct, (thr, level)


def test_the_ceiling_puts_oracles_that_know_nature_beside_the_networks_and_refuses_changed_observations(
    tiny_config: Path, tmp_path: Path
):
    import dataclasses

    from engine.data.catalog import run_time
    from engine.data.qpe import qpe_filename, read_qpe_file, write_qpe
    from training.ceiling import ceiling
    from training.evaluate import evaluate

    cfg = dataclasses.replace(load_config(tiny_config), results_dir=str(tmp_path / "results"))
    weights = {"scratch": finetune(cfg, parse_method("scratch", cfg.finetune.loss, 0.9), progress=False)}
    scored = evaluate(cfg, ["scratch"], weights, progress=False, heldout_runs=2)
    result = ceiling(cfg, progress=False)
    page = (Path(cfg.results_dir) / "ceiling.md").read_text()
    assert "| raw NWP |" in page and "| our network from scratch (1 seed) |" in page and "(the ceiling)" in page
    # What the networks scored is carried over as evaluate wrote it, not scored again.
    mine = next(
        r
        for r in scored["rows"]
        if (r["dataset"], r["method"], r["threshold"], r["lead_time"]) == ("test", "scratch", 10.0, None)
        and r["decision"] == "val_tuned"
    )
    assert result["networks"]["test"]["scratch"]["10"]["csi"] == mine["csi"]
    # Knowing nature's rain leaves only the QPE's measurement noise: near-perfect light-rain CSI, far above the NWP.
    for dataset in ("test", "heldout_seed2024"):
        nature = result["oracles"]["nature"]["0.1"][dataset]["csi"]
        assert nature > 0.9 and nature > result["networks"][dataset]["raw_nwp"]["0.1"]["csi"] + 0.2
    # Observations that are not the twin's (a QPE file rewritten) are refused, naming the archive and the hour.
    heldout = cfg.out_dir / "heldout_seed2024_2runs"
    valid = run_time(scored["heldout_runs"][0]) + pd.Timedelta(hours=2)
    path = heldout / "qpe" / qpe_filename(valid)
    original = path.read_bytes()
    write_qpe(path, valid, read_qpe_file(path).values[0] * 1.5)
    try:
        with pytest.raises(DataError, match=rf"run {scored['heldout_runs'][0]} \+ 2 h is not the twin's") as err:
            ceiling(cfg, progress=False)
    finally:
        path.write_bytes(original)
    assert str(heldout) in str(err.value)


def test_lead_blocks_cover_the_lead_times_in_whole_blocks():
    from training.leadtime import lead_blocks

    assert lead_blocks(range(1, 49), 6) == [(1 + 6 * i, 6 + 6 * i) for i in range(8)]
    assert lead_blocks([1, 4], 6) == [(1, 6)]
    assert lead_blocks([3, 27, 28], 6) == [(1, 6), (25, 30)]  # no empty block between them
    with pytest.raises(ValueError, match="at least one hour"):
        lead_blocks([1], 0)


def test_skill_by_lead_time_adds_up_to_the_evaluation_without_rerunning_it_and_refuses_other_weights(
    tiny_config: Path, tmp_path: Path
):
    import dataclasses

    from training.evaluate import evaluate
    from training.leadtime import leadtime

    cfg = dataclasses.replace(load_config(tiny_config), results_dir=str(tmp_path / "results"))
    names = ["scratch", "pretrained_continuous", "scratch_seed1"]
    weights = {n: finetune(cfg, parse_method(n, cfg.finetune.loss, 0.9), progress=False) for n in names}
    evaluation = evaluate(cfg, names, weights, progress=False, heldout_runs=2)
    with pytest.raises(DataError, match="not scored"):
        leadtime(cfg, [*names, "unet"], {**weights, "unet": weights["scratch"]}, progress=False)
    result = leadtime(cfg, names, weights, hours=2, progress=False)
    section = result["heldout_seed2024"]  # scored on the config's lead times, 1-4 h, as the test runs
    assert section["blocks"] == [[1, 2], [3, 4]] and len(section["runs"]) == 2
    for name in names:  # every pixel of every lead time lands in exactly one block
        for thr, per_run in section["tables"][name].items():
            assert [np.sum(b, axis=0).tolist() for b in per_run] == evaluation["heldout_run_tables"][name][thr]
    # The raw NWP's blocks come from the evaluation's per-lead rows, which cover the same lead times.
    nwp = [r for r in evaluation["rows"] if (r["method"], r["dataset"]) == ("raw_nwp", "heldout_seed2024")]
    assert len(section["raw_nwp"]["10"]) == 2 and {r["lead_time"] for r in nwp} == {1, 2, 3, 4, None}
    # Each block answers the evaluation's paired questions, the pool over seeds included.
    asked = {(c["a"], c["b"], tuple(c["leads"])) for c in section["comparisons"] if c["threshold"] == 10.0}
    assert asked >= {("pretrained_continuous", "scratch", (1, 2)), ("pretrained_continuous", "scratch", (3, 4))}
    text = (Path(cfg.results_dir) / "leadtime.md").read_text()
    assert "| method | 1-2 h | 3-4 h |" in text and "| scratch, 2 seeds |" in text
    assert "| pretrained_continuous - scratch |" in text
    # The test runs go into the same files, beside the held-out section.
    both = leadtime(cfg, ["scratch"], weights, dataset="test", progress=False)
    assert set(both) == {"config", "heldout_seed2024", "test"} and both["test"]["blocks"] == [[1, 6]]
    assert "## test (1 run): CSI at 10 mm/h" in (Path(cfg.results_dir) / "leadtime.md").read_text()
    # The blocks come from the per-lead tables `evaluate` kept: no network runs again, and none is needed ...
    assert leadtime(cfg, names, {}, hours=2, progress=False)["heldout_seed2024"] == section
    # ... while results written before those tables existed are scored again from the weights, to the same blocks,
    (Path(cfg.results_dir) / "evaluation_leads.npz").unlink()
    assert leadtime(cfg, names, weights, hours=2, progress=False)["heldout_seed2024"] == section
    # and weights other than those evaluated are refused instead of mixing two networks in one table.
    with pytest.raises(DataError, match="re-run `python -m training evaluate`"):
        leadtime(cfg, ["scratch"], {"scratch": weights["pretrained_continuous"]}, progress=False)


def test_a_truncated_per_lead_cache_is_named_with_the_way_out(tmp_path: Path):
    from training.evaluate import read_lead_tables, write_lead_tables

    path = tmp_path / "evaluation_leads.npz"
    assert read_lead_tables(path) == {}  # results from before the cache: nothing, not an error
    tables = {"scratch": {"10": np.arange(24).reshape(2, 3, 4)}}
    write_lead_tables(path, {"test": ([1, 2, 3], tables)})
    (leads, methods) = read_lead_tables(path)["test"]
    assert leads == [1, 2, 3] and np.array_equal(methods["scratch"]["10"], tables["scratch"]["10"])
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="evaluation_leads.npz.*re-run `python -m training evaluate`"):
        read_lead_tables(path)


def test_comparisons_pair_the_questions_the_method_must_answer():
    from training.questions import compare, comparison_pairs, pooled_repeats

    names = ["unet", "scratch", "pretrained_mask75", "scratch_10pct", "pretrained_10pct", "pretrained_10pct_pt30"]
    assert comparison_pairs(names, "pretrained_mask75") == [
        ("pretrained_mask75", "unet"),
        ("pretrained_mask75", "scratch"),
        ("scratch", "unet"),  # the architecture without pre-training against the baseline
        ("pretrained_10pct", "scratch_10pct"),
        ("pretrained_10pct_pt30", "pretrained_10pct"),
        ("pretrained_10pct_pt30", "scratch_10pct"),
    ]
    longer = ["pretrained_continuous", "pretrained_continuous_pt24", "pretrained_10pct, 3 draws"]
    longer += ["pretrained_10pct_pt24, 3 draws", "scratch_10pct, 3 draws"]
    assert comparison_pairs(longer, "pretrained_continuous") == [  # the shipped method's pair is not asked twice
        ("pretrained_continuous", "pretrained_continuous_pt24"),
        ("pretrained_10pct, 3 draws", "scratch_10pct, 3 draws"),
        ("pretrained_10pct_pt24, 3 draws", "pretrained_10pct, 3 draws"),
        ("pretrained_10pct_pt24, 3 draws", "scratch_10pct, 3 draws"),
    ]
    draws = ["scratch_10pct", "scratch_10pct_draw1", "pretrained_10pct", "pretrained_10pct_draw1", "pretrained_25pct"]
    assert comparison_pairs([*draws, "scratch_10pct, 2 draws", "pretrained_10pct, 2 draws"], "x") == [
        ("pretrained_10pct", "scratch_10pct"),
        ("pretrained_10pct_draw1", "scratch_10pct_draw1"),
        ("pretrained_10pct, 2 draws", "scratch_10pct, 2 draws"),
    ]
    ablations = ["unet", "pretrained_continuous", "pretrained_focal", "pretrained_mask90", "pretrained_frozen_seed1"]
    assert comparison_pairs(ablations, "pretrained_continuous") == [
        ("pretrained_continuous", "unet"),
        ("pretrained_continuous", "pretrained_focal"),
        ("pretrained_continuous", "pretrained_mask90"),
    ]
    baseline = ["unet_10pct", "unet_10pct_draw1", "unet_10pct, 2 draws", "pretrained_10pct_draw1"]
    baseline += ["pretrained_10pct, 2 draws", "pretrained_25pct"]
    assert comparison_pairs(baseline, "x") == [  # scarce labels: the U-Net trained on the same labelled runs
        ("pretrained_10pct_draw1", "unet_10pct_draw1"),
        ("pretrained_10pct, 2 draws", "unet_10pct, 2 draws"),
    ]
    rain = ["scratch_10pct, 2 draws", "pretrained_10pct_rain100, 2 draws"]  # a pre-training variant's pool
    assert comparison_pairs(rain, "x") == [("pretrained_10pct_rain100, 2 draws", "scratch_10pct, 2 draws")]
    per_run = {m: {"10": [[i, 1, 1, 10 * i] for i in range(3)]} for m in draws}
    pooled = pooled_repeats(per_run)
    assert set(pooled) == {"scratch_10pct, 2 draws", "pretrained_10pct, 2 draws"}  # 25 % has one draw: no pool
    assert pooled["pretrained_10pct, 2 draws"]["10"] == [[2 * i, 2, 2, 20 * i] for i in range(3)]  # summed per run
    seeds = ["unet", "unet_seed1", "unet_seed2", "pretrained_mask75", "pretrained_mask75_seed1"]
    assert set(pooled_repeats({m: per_run["scratch_10pct"] for m in seeds}, "seed")) == {
        "unet, 3 seeds",
        "pretrained_mask75, 2 seeds",
    }
    seeds += ["scratch", "scratch_seed1", "unet, 2 seeds", "pretrained_mask75, 2 seeds", "scratch, 2 seeds"]
    assert comparison_pairs(seeds, "pretrained_mask75") == [
        ("pretrained_mask75", "unet"),
        ("pretrained_mask75", "scratch"),
        ("scratch", "unet"),
        ("pretrained_mask75, 2 seeds", "unet, 2 seeds"),
        ("pretrained_mask75, 2 seeds", "scratch, 2 seeds"),
        ("scratch, 2 seeds", "unet, 2 seeds"),
    ]
    # Early-stopped methods answer the same questions among themselves, and each against its last-epoch twin.
    stopped = ["unet", "unet_valbest", "pretrained_continuous_valbest", "scratch_10pct_valbest, 3 draws"]
    stopped += ["pretrained_10pct_valbest, 3 draws", "pretrained_10pct, 3 draws"]
    assert comparison_pairs(stopped, "pretrained_continuous") == [
        ("pretrained_continuous_valbest", "unet_valbest"),
        ("pretrained_10pct_valbest, 3 draws", "scratch_10pct_valbest, 3 draws"),
        ("unet_valbest", "unet"),
        ("pretrained_10pct_valbest, 3 draws", "pretrained_10pct, 3 draws"),
    ]
    # Each stopping rule is its own protocol: a heavy-rain-judged run is never paired with a mean-judged one.
    rules = [
        "unet",
        "unet_valbest",
        "unet_valbest10",
        "pretrained_continuous_valbest",
        "pretrained_continuous_valbest10",
    ]
    assert comparison_pairs(rules, "pretrained_continuous") == [
        ("pretrained_continuous_valbest", "unet_valbest"),
        ("pretrained_continuous_valbest10", "unet_valbest10"),
        ("unet_valbest", "unet"),
        ("unet_valbest10", "unet"),
    ]
    # A longer fine-tuning is compared with the other networks fine-tuned as long (also pooled over seeds), and
    # each with itself at the config's epochs; never with another network at another length.
    longer = ["unet", "pretrained_continuous", "unet_ft20", "pretrained_continuous_ft20", "unet_ft20_valbest"]
    longer += ["unet, 2 seeds", "pretrained_continuous, 2 seeds", "unet_ft20, 2 seeds"]
    longer += ["pretrained_continuous_ft20, 2 seeds"]
    assert comparison_pairs(longer, "pretrained_continuous") == [
        ("pretrained_continuous", "unet"),
        ("pretrained_continuous, 2 seeds", "unet, 2 seeds"),
        ("pretrained_continuous_ft20", "unet_ft20"),
        ("pretrained_continuous_ft20, 2 seeds", "unet_ft20, 2 seeds"),
        ("unet_ft20_valbest", "unet_ft20"),
        ("unet_ft20", "unet"),
        ("pretrained_continuous_ft20", "pretrained_continuous"),
        ("unet_ft20, 2 seeds", "unet, 2 seeds"),
        ("pretrained_continuous_ft20, 2 seeds", "pretrained_continuous, 2 seeds"),
    ]
    good, poor = [[5, 1, 1, 93]] * 4, [[3, 3, 3, 91]] * 4
    tables = {"a": {"0.1": good, "10": poor}, "b": {"0.1": poor, "10": poor}}
    rows = compare(tables, [("a", "b")])
    light, heavy = rows
    assert light["difference"] == pytest.approx(5 / 7 - 3 / 9, abs=1e-4) and light["p_better"] == 1.0
    assert heavy["difference"] == 0.0 and heavy["p_better"] == 0.0


def test_the_seed_spread_table_shows_each_seed_and_survives_a_seed_without_events():
    from training.report import _seed_spread

    def row(method: str, thr: float, csi: float | None) -> dict:
        return {
            "method": method,
            "dataset": "test",
            "decision": "val_tuned",
            "lead_time": None,
            "threshold": thr,
            "csi": csi,
        }

    # Seed 0 last, as after re-scoring it alone with --method: the table still lists the seeds in order.
    rows = [row(m, t, c) for m, c in (("unet_seed1", 0.25), ("unet_seed2", None), ("unet", 0.2)) for t in (0.1, 10.0)]
    rows += [row("scratch", t, 0.3) for t in (0.1, 10.0)]  # one seed only: no spread to show
    lines = _seed_spread(rows)
    assert [ln for ln in lines if ln.startswith("| unet")] == [
        "| unet | 3 | 0.200, 0.250, - | 0.200, 0.250, - | 0.225 | 0.050 |"
    ]
    assert not any(ln.startswith("| scratch") for ln in lines)


def test_tampered_or_foreign_weights_are_refused(tiny_config: Path, tmp_path: Path):
    cfg = load_config(tiny_config)
    src = finetune(cfg, parse_method("scratch", cfg.finetune.loss, 0.9), progress=False)
    bad = tmp_path / "bad.safetensors"
    shutil.copy(src, bad)
    shutil.copy(src.with_suffix(".json"), bad.with_suffix(".json"))
    data = bytearray(bad.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match="sha256"):
        load_model(bad)
    bad.with_suffix(".json").unlink()
    with pytest.raises(DataError, match="no manifest"):
        load_model(bad)
    pickled = tmp_path / "pickled.safetensors"
    torch.save({"x": torch.zeros(1)}, pickled)
    manifest = read_manifest(src)
    from engine.model.manifest import sha256_file

    manifest["sha256"] = sha256_file(pickled)
    pickled.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="not a safetensors file"):
        load_model(pickled)


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_config: Path, tmp_path: Path):
    store = Store(load_config(tiny_config).data.store)
    data = StoreDataset(store, store.indices("train"))
    calls = {"n": 0}

    def make():
        torch.manual_seed(0)
        model = torch.nn.Conv2d(16, 3, 1)
        return model, torch.optim.SGD(model.parameters(), lr=0.01)

    def step(model, batch, gen):
        calls["n"] += 1
        if calls["n"] == 3:  # first step of epoch 2: the process "dies"
            raise KeyboardInterrupt
        return model(batch[0][..., :32, :32]).pow(2).mean()

    ckpt = tmp_path / "m.ckpt"
    model, opt = make()
    with pytest.raises(KeyboardInterrupt):
        fit(
            model,
            data,
            step,
            opt,
            None,
            3,
            2,
            ckpt,
            tmp_path / "log.jsonl",
            0,
            torch.device("cpu"),
            "t",
            progress=False,
        )
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 1
    model2, opt2 = make()
    history = fit(
        model2, data, step, opt2, None, 3, 2, ckpt, tmp_path / "log.jsonl", 0, torch.device("cpu"), "t", progress=False
    )
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert not list(tmp_path.glob("*.tmp"))
    # A checkpoint written while training on other data is not resumed from: the run would mix two datasets.
    before, after = {"data_fingerprint": "sha256:" + "a" * 64}, {"data_fingerprint": "sha256:" + "b" * 64}
    args = (data, step, opt2, None, 3, 2, ckpt, tmp_path / "log.jsonl", 0, torch.device("cpu"), "t")
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        fit(model2, *args, resume=False, progress=False, data=before)
    with pytest.raises(DataError, match=r"m.ckpt: written while training on other data \(data_fingerprint differ"):
        fit(model2, *args, progress=False, data=after)
    assert len(fit(model2, *args, progress=False, data=before)) == 3


def test_loader_workers_read_ahead_without_changing_what_is_learned(tiny_config: Path, tmp_path: Path):
    store = Store(load_config(tiny_config).data.store)
    data = StoreDataset(store, store.indices("train"))

    def step(model, batch, gen):
        x, _, _ = random_crop(batch[0], None, 32, 8, gen)
        return model(x).pow(2).mean()

    def run(workers: int) -> tuple[torch.Tensor, list[float]]:
        torch.manual_seed(0)
        model = torch.nn.Conv2d(16, 3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        args = (data, step, opt, None, 3, 2, tmp_path / f"w{workers}.ckpt", tmp_path / "log.jsonl", 0)
        history = fit(model, *args, torch.device("cpu"), "t", progress=False, workers=workers)
        return model.weight.detach(), [h["loss"] for h in history]

    (w0, losses0), (w2, losses2) = run(0), run(2)
    assert losses0 == losses2 and torch.equal(w0, w2)  # same batches, same order, same crops, every epoch


def test_early_stopping_keeps_the_best_validated_weights_also_across_a_kill(tiny_config: Path, tmp_path: Path):
    store = Store(load_config(tiny_config).data.store)
    data = StoreDataset(store, store.indices("train"))
    scores, snapshots, steps = iter([0.1, 0.5, 0.3, 0.2]), {}, {"n": 0}

    def validate(model: torch.nn.Module) -> float:
        snapshots[len(snapshots) + 1] = model.weight.detach().clone()
        return next(scores)

    def step(model, batch, gen):
        steps["n"] += 1
        if steps["n"] == 7:  # first step of epoch 4: the process "dies" after the best epoch was checkpointed
            raise KeyboardInterrupt
        return model(batch[0][..., :32, :32]).pow(2).mean()

    def run() -> tuple[torch.nn.Module, list[dict]]:
        torch.manual_seed(0)
        model = torch.nn.Conv2d(16, 3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        args = (data, step, opt, None, 4, 2, tmp_path / "m.ckpt", tmp_path / "log.jsonl", 0, torch.device("cpu"))
        return model, fit(model, *args, "t", progress=False, validate=validate, check_epochs={1, 2, 3, 4})

    with pytest.raises(KeyboardInterrupt):
        run()
    model, history = run()
    assert [h.get("val_score") for h in history] == [0.1, 0.5, 0.3, 0.2]
    assert torch.equal(model.weight, snapshots[2])  # epoch 2's weights, restored from the checkpoint
    assert not torch.equal(snapshots[2], snapshots[4])  # ... although training went on after it


def test_a_valbest_finetune_records_its_validation_checks_and_the_epoch_it_kept(tiny_config: Path, tmp_path: Path):
    from training.finetune import selected_epoch, val_check_epochs

    assert val_check_epochs(60, 5) == {12, 24, 36, 48, 60} and val_check_epochs(2, 5) == {1, 2}
    raw = yaml.safe_load(tiny_config.read_text())
    raw.update(name="tiny_valbest", weights_dir=str(tmp_path / "weights"), results_dir=str(tmp_path / "results"))
    raw["data"]["store"] = str(tmp_path / "store")
    raw["split"] = {"train": 1, "val": 1, "test": 0}
    raw["finetune"].update(epochs=2, val_checks=2)
    path = tmp_path / "valbest.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    prepare(cfg, progress=False)
    method = parse_method("scratch_valbest", cfg.finetune.loss, 0.9)
    assert method.val_best and not parse_method("scratch", cfg.finetune.loss, 0.9).val_best
    heavy = parse_method("scratch_valbest10", cfg.finetune.loss, 0.9)
    assert heavy.val_events == (10.0,) and method.val_events == (0.1, 10.0)
    assert last_epoch_twin(heavy.name) == last_epoch_twin(method.name) == "scratch"
    manifest = read_manifest(finetune(cfg, method, progress=False))
    history = manifest["history"]
    assert [h["epoch"] for h in history if "val_score" in h] == [1, 2]
    assert all(0 <= h["val_score"] <= 1 for h in history)
    assert manifest["method"]["val_best"] and manifest["method"]["selected_epoch"] == selected_epoch(history, 2)
    # Validation changes nothing in training: the twin keeping its last epoch took the very same steps.
    twin = read_manifest(finetune(cfg, parse_method("scratch", cfg.finetune.loss, 0.9), progress=False))["history"]
    assert [h["loss"] for h in twin] == [h["loss"] for h in history]


def test_two_process_ddp_with_gloo(tiny_config: Path):
    cfg = load_config(tiny_config)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "training",
            "finetune",
            "--config",
            str(tiny_config),
            "--method",
            "unet",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    _, manifest = load_model(cfg.out_dir / "unet.safetensors")
    assert manifest["architecture"] == "unet"


def _evaluation_file(
    path: Path, runs: list[str], tables: dict[str, list[list[int]]], trained_on: dict | None = None
) -> Path:
    """A minimal evaluation.json: per-run contingency tables (hits, misses, false alarms, correct negatives) on
    the held-out archive, the same at both thresholds, and the training archive of each network if given."""
    result = {"heldout_runs": runs, "heldout_run_tables": {m: {"0.1": t, "10": t} for m, t in tables.items()}}
    if trained_on is not None:
        result["trained_on"] = trained_on
    path.write_text(json.dumps(result))
    return path


def test_compare_pairs_methods_of_two_result_files_on_shared_runs(tmp_path: Path):
    from training.compare import compare_results

    runs = [f"202607{d:02d}00" for d in range(1, 9)]
    worse = [[5, 5, 5, 100]] * 8  # CSI 1/3 on every run
    better = [[8, 2, 2, 100]] * 8  # CSI 2/3
    small = _evaluation_file(tmp_path / "small.json", runs, {"unet": worse, "unet_seed1": worse})
    big = _evaluation_file(tmp_path / "big.json", runs, {"unet": better, "unet_seed1": better, "unet_seed2": better})
    rows = compare_results((big, "unet"), (small, "unet"), pool="seed")
    assert [r["threshold"] for r in rows] == [0.1, 10.0]
    assert rows[1]["a"].endswith("big.json:unet, 3 seeds") and rows[1]["b"].endswith("small.json:unet, 2 seeds")
    assert rows[1]["difference"] == pytest.approx(1 / 3, abs=1e-3) and rows[1]["low"] > 0 and rows[1]["runs"] == 8
    other = _evaluation_file(tmp_path / "other.json", runs[:4], {"unet": worse[:4]})
    with pytest.raises(DataError, match="different heldout_seed2024 runs"):
        compare_results((big, "unet"), (other, "unet"))
    with pytest.raises(DataError, match="no method 'scratch'.*unet, unet_seed1"):
        compare_results((big, "scratch"), (small, "unet"))
    with pytest.raises(DataError, match="no _seedN twins of 'unet'"):
        compare_results((other, "unet"), (small, "unet"), pool="seed")
    scarce = {"scratch_10pct": worse, "scratch_10pct_draw1": worse, "pretrained_10pct_pt24": better}
    scarce |= {"pretrained_10pct_draw1_pt24": better, "pretrained_10pct_draw2_pt24": better}
    draws = _evaluation_file(tmp_path / "draws.json", runs, scarce)
    rows = compare_results((draws, "pretrained_10pct_pt24"), (draws, "scratch_10pct"), pool="draw")
    assert rows[1]["a"].endswith("draws.json:pretrained_10pct_pt24, 3 draws")
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", f"{big}:unet", f"{other}:unet"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "other.json" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", f"{big}:unet", f"{small}:unet"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "10 mm/h: +0.3333" in res.stdout
    spec = [f"{draws}:pretrained_10pct_pt24", f"{draws}:scratch_10pct"]
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", *spec, "--pool-draws"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "scratch_10pct, 2 draws" in res.stdout and "10 mm/h: +0.3333" in res.stdout
    assert "cannot tell whether both learnt from the same archive" in res.stdout
    # Runs of the same names from two different held-out archives are not the same runs.
    for path, fp in ((big, "sha256:" + "a" * 64), (small, "sha256:" + "b" * 64)):
        path.write_text(json.dumps({**json.loads(path.read_text()), "heldout_archive": fp}))
    with pytest.raises(DataError, match="different archives \\(aaaaaaaa and bbbbbbbb\\): the same run names"):
        compare_results((big, "unet"), (small, "unet"))
    assert compare_results((big, "unet"), (draws, "scratch_10pct"))[1]["runs"] == 8  # one side recorded none


def test_compare_tests_the_seeds_as_the_sample_beside_the_pooled_run_bootstrap(tmp_path: Path):
    """One lucky seed makes a pooled lead that every run agrees on (interval clear of zero) and that other seeds
    would not keep: the seed-level test must say so, and each seed's CSI is its runs' tables summed."""
    from training.compare import compare_results, network_csi, repeat_test

    assert network_csi([[1, 0, 0, 50], [1, 9, 0, 50]]) == pytest.approx(2 / 11)  # not the mean of 1 and 0.1
    runs = [f"202607{d:02d}00" for d in range(1, 9)]
    level, good = [[5, 5, 5, 100]] * 8, [[8, 2, 2, 100]] * 8  # CSI 1/3 and 2/3 on every run
    lucky = {"m": good, "m_seed1": level, "m_seed2": level, "u": level, "u_seed1": level, "u_seed2": level}
    lucky["u_seed3"] = [[5, 5, 4, 100]] * 8  # a little spread on B's side too, so the t statistic is finite
    file = _evaluation_file(tmp_path / "lucky.json", runs, lucky)
    row = compare_results((file, "m"), (file, "u"), pool="seed")[1]
    assert row["low"] > 0  # the runs agree ...
    assert list(row["networks_a"]) == ["m", "m_seed1", "m_seed2"]
    assert row["networks_a"]["m"] == pytest.approx(2 / 3) and row["networks_b"]["u_seed3"] == pytest.approx(5 / 14)
    assert row["repeats"]["difference"] == pytest.approx(4 / 9 - (3 / 3 + 5 / 14) / 4, abs=1e-9)
    assert row["repeats"]["p"] > 0.3  # ... the seeds do not
    single = compare_results((file, "m"), (file, "u"))[1]  # unpooled: one network a side, no test
    assert single["networks_a"] == {"m": pytest.approx(2 / 3)} and single["repeats"]["p"] is None
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", f"{file}:m", f"{file}:u", "--pool-seeds"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "10 mm/h: A 0.667, 0.333, 0.333; B 0.333, 0.333, 0.333, 0.357" in res.stdout
    assert f"t {row['repeats']['t']:.2f}, p {row['repeats']['p']:.3f}" in res.stdout
    # Draws of one index share their labelled runs: the test pairs them, and a gain every draw shows is significant
    # where the draws' own spread would hide it from an unpaired test.
    gain = {"s_10pct": [[5, 5, 5, 100]], "s_10pct_draw1": [[6, 3, 3, 100]], "s_10pct_draw2": [[2, 4, 4, 100]]}
    gain |= {"p_10pct": [[6, 5, 4, 100]], "p_10pct_draw1": [[7, 3, 2, 100]], "p_10pct_draw2": [[3, 4, 3, 100]]}
    draws = _evaluation_file(tmp_path / "draws.json", runs[:1], gain)
    paired = compare_results((draws, "p_10pct"), (draws, "s_10pct"), pool="draw")[1]["repeats"]
    assert paired["test"] == "paired" and paired["p"] < 0.05
    assert repeat_test({"a": 0.4, "a_draw1": 0.6}, {"b": 0.3, "b_draw2": 0.5}, "draw")["test"] == "welch"  # unmatched
    assert repeat_test({"a": 0.4, "a_seed1": 0.6}, {"b": 0.3, "b_seed1": 0.5}, "seed")["test"] == "welch"
    unpaired = repeat_test(*({n: network_csi(t) for n, t in gain.items() if n[0] == k} for k in "ps"), None)
    assert unpaired["p"] > 0.3 and unpaired["difference"] == pytest.approx(paired["difference"])


def test_compare_warns_when_the_two_sides_learnt_from_different_training_archives(tmp_path: Path):
    from training.compare import compare_results

    runs = [f"202607{d:02d}00" for d in range(1, 9)]
    old, new = "3b7b1ff1" + "0" * 56, "778d44bc" + "0" * 56
    tables = {"unet": [[5, 5, 5, 100]] * 8, "unet_seed1": [[8, 2, 2, 100]] * 8}
    first = _evaluation_file(tmp_path / "first.json", runs, tables, {"unet": old, "unet_seed1": new})
    second = _evaluation_file(tmp_path / "second.json", runs, tables, {"unet": new, "unet_seed1": new})
    assert compare_results((first, "unet_seed1"), (second, "unet"))[0]["archives"] == "same"
    assert compare_results((first, "unet"), (second, "unet"))[0]["archives"] == "3b7b1ff1 vs 778d44bc"
    # A pool over seeds is as mixed as its members.
    assert compare_results((first, "unet"), (second, "unet"), pool="seed")[0]["archives"] == (
        "3b7b1ff1+778d44bc vs 778d44bc"
    )
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", f"{first}:unet", f"{second}:unet"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "warning: trained on different archives (3b7b1ff1 vs 778d44bc)" in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "training", "compare", f"{first}:unet_seed1", f"{second}:unet"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "both trained on the same archive" in res.stdout and "warning" not in res.stdout


@pytest.mark.parametrize(
    "command",
    [
        "prepare",
        "pretrain",
        "finetune",
        "evaluate",
        "leadtime",
        "probe",
        "ceiling",
        "reproduce",
        "ship",
        "probabilities",
        "bench",
    ],
)
def test_training_commands_have_help_offering_only_options_that_act(command: str, capsys):
    # In this process: the entry point itself is run as a subprocess by the mistyped-method test below.
    from training.cli import main

    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "--config" in out
    assert ("--no-resume" in out) == (command in ("pretrain", "finetune", "reproduce"))  # they checkpoint
    assert ("--quiet" in out) == (command not in ("ship", "bench", "probe"))  # they show progress bars


def test_a_mistyped_method_is_named_in_a_one_line_error():
    res = subprocess.run(
        [sys.executable, "-m", "training", "leadtime", "--config", "training/configs/lite.yaml", "--method", "scrach"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "unknown method 'scrach'" in res.stderr and "Traceback" not in res.stderr


def test_reproduce_says_whether_the_shipped_weights_came_out_bit_identical_and_why_not():
    from training.cli import reproduction_report

    old = {"sha256": "a" * 64, "data_fingerprint": "f" * 64, "metrics": {"test": {"csi_10": 0.227}}}
    assert "bit-identical to the weights it replaced" in reproduction_report(old, dict(old))
    other_data = {"sha256": "b" * 64, "data_fingerprint": "e" * 64, "metrics": {"test": {"csi_10": 0.210}}}
    msg = reproduction_report(old, other_data)
    assert msg.startswith("not bit-identical") and "training archive differs" in msg and "0.227 -> 0.210" in msg
    same_data = {**other_data, "data_fingerprint": "f" * 64}
    assert "file names and sizes match" in reproduction_report(old, same_data)  # all an older fingerprint says
    content = {**other_data, "data_fingerprint": "sha256:" + "c" * 64}
    assert "byte for byte" in reproduction_report({**old, "data_fingerprint": content["data_fingerprint"]}, content)
    # Old weights with the older listing fingerprint are compared with the archive's listing fingerprint.
    assert "differs" in reproduction_report(old, content, archive_listing="e" * 64)
    assert "file names and sizes match" in reproduction_report(old, content, archive_listing="f" * 64)
    assert "cannot tell" in reproduction_report(old, content)
    # A config that now ships another method says so before anything about data or machines.
    recipe = reproduction_report(
        {**old, "training_config": {"ship": "pretrained_continuous"}},
        {**same_data, "training_config": {"ship": "pretrained_continuous"}, "shipped_method": "pretrained_grid2"},
    )
    assert "another recipe: the config ships pretrained_grid2, the old weights were pretrained_continuous" in recipe


def test_a_rebuild_from_the_same_data_names_the_machine_that_differed(monkeypatch, tmp_path: Path):
    from engine.machine import cpu_flags, machine
    from training.cli import reproduction_report

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f amx_tile\n")
    assert cpu_flags(info) == ["avx2", "fma", "avx512f", "amx_tile"]
    assert cpu_flags(tmp_path / "missing") is None
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    here = machine()
    assert here["dispatch_overrides"] == {"MKL_ENABLE_INSTRUCTIONS": "AVX2"} and here["threads"] >= 1

    fp = "sha256:" + "c" * 64
    other = "AVX512" if here["cpu_capability"] != "AVX512" else "AVX2"  # whatever this machine's is
    old = {"sha256": "a" * 64, "data_fingerprint": fp, "environment": {**here, "cpu_capability": other}}
    new = {"sha256": "b" * 64, "data_fingerprint": fp, "environment": here}
    msg = reproduction_report(old, new)
    assert "byte for byte" in msg
    assert f"trained on another machine (cpu_capability {other} -> {here['cpu_capability']})" in msg
    assert "not deterministic here" in reproduction_report({**old, "environment": here}, new)
    unrecorded = reproduction_report({k: v for k, v in old.items() if k != "environment"}, new)
    assert "do not record the machine" in unrecorded
    # same machine, but one side trained with code its commit does not hold
    dirty = reproduction_report({**old, "environment": here, "git_uncommitted": ["training/loop.py"]}, new)
    assert "the machine is recorded as the same, but the old weights were trained with uncommitted changes" in dirty
    assert "training/loop.py" in dirty and "not deterministic" not in dirty
    # commits this checkout does not hold say nothing about code
    unknown = {"git_commit": "0" * 40, "git_uncommitted": []}
    assert "not deterministic here" in reproduction_report({**old, "environment": here, **unknown}, new)


def test_the_mixed_ensemble_names_the_networks_it_still_needs(tmp_path: Path):
    config = tmp_path / "lite.yaml"
    text = Path("training/configs/lite.yaml").read_text()
    config.write_text(text.replace("store: data/train_store", f"store: {tmp_path / 'store'}"))
    res = subprocess.run(
        [sys.executable, "-m", "training.mixed_ensemble", "--config", str(config)], capture_output=True, text=True
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "not trained yet: unet, unet_seed1, pretrained_continuous, pretrained_continuous_seed1" in res.stderr
    help_ = subprocess.run([sys.executable, "-m", "training.mixed_ensemble", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "--config" in help_.stdout
