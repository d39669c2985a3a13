"""Training configuration from a small YAML file (``training/configs/*.yaml``) into typed objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from engine.errors import DataError
from engine.model.config import SIZES, ModelConfig


@dataclass(frozen=True)
class DataConfig:
    archive: str
    store: str
    runs: int
    demo_seed: int
    start: str
    lead_times: tuple[int, int]


@dataclass(frozen=True)
class PretrainConfig:
    epochs: int
    batch: int
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    mask_ratio: float
    restart_epochs: int


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int
    batch: int
    lr_head: float
    lr_encoder: float
    mask_ratio: float
    loss: dict


@dataclass(frozen=True)
class TrainConfig:
    name: str
    seed: int
    model: str
    data: DataConfig
    split: dict
    crop: int
    threads: int
    pretrain: PretrainConfig
    finetune: FinetuneConfig
    methods: tuple[str, ...]
    ablations: tuple[str, ...] = field(default=())
    ship: str = "pretrained_continuous"
    results_dir: str = "training/results"
    weights_dir: str = "engine/weights"
    source: str = ""
    model_overrides: dict = field(default_factory=dict)  # e.g. {skip_reads_input: true} on top of the size
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig.from_dict({**SIZES[self.model].to_dict(), **self.model_overrides})

    @property
    def out_dir(self) -> Path:
        return Path(self.data.store).parent / f"runs_{self.name}"


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise DataError("config file not found", path) from exc
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML: {exc}", path) from exc
    try:
        return TrainConfig(
            name=raw["name"],
            seed=int(raw["seed"]),
            model=raw["model"],
            model_overrides=dict(raw.get("model_overrides") or {}),
            data=DataConfig(**{**raw["data"], "lead_times": tuple(raw["data"]["lead_times"])}),
            split=dict(raw["split"]),
            crop=int(raw["crop"]),
            threads=int(raw.get("threads", 2)),
            pretrain=PretrainConfig(**{**raw["pretrain"], "betas": tuple(raw["pretrain"]["betas"])}),
            finetune=FinetuneConfig(**raw["finetune"]),
            methods=tuple(raw["methods"]),
            ablations=tuple(raw.get("ablations", ())),
            ship=raw.get("ship", "pretrained_continuous"),
            results_dir=raw.get("results_dir", "training/results"),
            weights_dir=raw.get("weights_dir", "engine/weights"),
            source=str(path),
            raw=raw,
        )
    except (KeyError, TypeError) as exc:
        raise DataError(f"bad training config: {exc}", path) from exc
