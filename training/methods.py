"""The compared methods, by name: ``unet``, ``scratch``, ``pretrained_onehot``, ``pretrained_continuous`` and
ablations built from suffixes: ``_focal``, ``_frozen``, ``_NNpct`` (share of labelled training runs),
``_maskNN`` (pre-training masking ratio), ``_ptNN`` (pre-training epochs), ``_ftNN`` (fine-tuning epochs
instead of the config's, for every architecture: is the comparison at the config's short schedule only a snapshot
of an unfinished race?), ``_ftmaskNN`` (fine-tuning masks NN % of the input tokens as augmentation, as SSLPDL
does, instead of the config's ratio), ``_encNN`` (encoder learning rate as
NN % of the config's ``lr_encoder``: gentler fine-tuning of a pre-trained encoder), ``_drawN`` (another random
choice of the labelled runs for ``_NNpct``, never one an earlier draw made: how much the answer depends on which runs
were labelled), ``_rainNN``
(pre-training masks the variable group holding NWP rain at NN %, the other groups at the masking ratio),
``_seedN`` (the whole method, pre-training included, trained again from another random seed: initial weights, data
order, crops and masks; how much of a difference between methods is only the luck of one training run),
``_valbest`` (early stopping: the weights of the fine-tuning epoch with the best validation CSI, averaged over
0.1 and 10 mm/h, are kept, out of ``finetune.val_checks`` evenly spaced checks), ``_valbest10`` (the same, judged on
CSI at 10 mm/h alone), ``_dpNN`` (stochastic depth: the encoder drops each residual branch with a rate rising
to NN % in its last block during fine-tuning, instead of the model size's; a regulariser for longer schedules),
``_ldNN`` (layer-wise learning-rate decay, as MAE and BEiT fine-tune: each encoder stage learns at NN % of the rate
of the stage above it, the patch embedding and stem at the lowest rate; pre-trained low-level features move least),
``_normpix`` (pre-training reconstructs each masked patch standardised by its own mean and variance, MAE's
normalised-pixel target, instead of the normalised fields), ``_head`` (fine-tuning inherits the pre-trained UPerNet
pyramid too, pooling, FPN and fusion, not only the embedding and encoder; ``method.md`` starts a new head),
``_tube`` (pre-training masks the same locations in every variable group, as VideoMAE's tube masking, so a masked
patch cannot be read off the other variables at its place), ``_gridN`` (a second fine-tuning phase: the trained
network of the same name without it, N more epochs on the whole grid instead of crops, at ``finetune.tail_lr_scale``
of the rates; whole-grid context for heavy rain after crops for light rain) and ``_moreN`` (its control: the same N
epochs on crops)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from training.losses import LossConfig


@dataclass(frozen=True)
class Method:
    name: str
    arch: str  # unet | postprocessor
    pretrained: bool
    pretrain_mask_ratio: float
    loss: LossConfig
    frozen: bool = False
    fraction: float = 1.0
    pretrain_epochs: int | None = None  # None: the config's
    encoder_lr_scale: float = 1.0
    draw: int = 0  # which random subset of training runs is labelled when fraction < 1
    pretrain_rain_ratio: float | None = None  # None: the rain group is masked like the others
    seed: int = 0  # added to the config's seed for a repeat of the same method
    val_events: tuple[float, ...] = ()  # early stopping judged on these events' validation CSI; () = last epoch
    finetune_epochs: int | None = None  # None: the config's
    finetune_mask_ratio: float | None = None  # None: the config's
    drop_path: float | None = None  # None: the model size's
    layer_decay: float = 1.0  # encoder learning rate x layer_decay ** (stages above); 1.0 = one rate
    pretrain_norm_pix: bool = False  # pre-training targets standardised per patch
    head_transfer: bool = False  # fine-tuning starts from the pre-trained UPerNet pyramid, not a new one
    pretrain_tube: bool = False  # pre-training masks whole locations across the variable groups
    tail_epochs: int = 0  # a second fine-tuning phase from the trained `tail_twin`; 0: none
    tail_whole_grid: bool = False  # that phase trains on the whole grid, not the config's crops

    @property
    def pretraining(self) -> dict:
        """This method's pre-training as keyword arguments of ``pretrain`` and ``backbone_path``: methods with the
        same values share one pre-trained file."""
        return {
            "mask_ratio": self.pretrain_mask_ratio,
            "epochs": self.pretrain_epochs,
            "rain_ratio": self.pretrain_rain_ratio,
            "seed": self.seed,
            "norm_pix": self.pretrain_norm_pix,
            "tube": self.pretrain_tube,
        }

    @property
    def val_best(self) -> bool:
        """Whether the best of the validation checks is kept, not the last epoch."""
        return bool(self.val_events)


def parse_method(name: str, default_loss: dict, default_mask: float) -> Method:
    base = LossConfig(
        kind=default_loss.get("kind", "mixed"),
        beta=default_loss.get("beta", 0.75),
        class_weights=tuple(default_loss.get("class_weights", (1.0, 5.0, 10.0))),
    )
    parts = name.split("_")
    head = parts[0]
    if head not in ("unet", "scratch", "pretrained"):
        raise ValueError(f"unknown method {name!r}")
    loss, frozen, fraction, mask, epochs, enc, draw, rain, seed = base, False, 1.0, default_mask, None, 1.0, 0, None, 0
    val_events: tuple[float, ...] = ()
    ft_epochs, ft_mask, drop, decay, norm_pix, head_transfer, tube = None, None, None, 1.0, False, False, False
    tail_epochs, tail_whole_grid = 0, False
    for part in parts[1:]:
        if part in ("onehot", "weighted", "ce"):
            loss = LossConfig(kind="onehot", class_weights=base.class_weights)
        elif part == "continuous":
            loss = base
        elif part == "focal":
            loss = LossConfig(kind="focal", class_weights=base.class_weights)
        elif part == "normpix":
            norm_pix = True
        elif part == "head":
            head_transfer = True
        elif part == "tube":
            tube = True
        elif part == "frozen":
            frozen = True
        elif m := re.fullmatch(r"(\d+)pct", part):
            fraction = int(m.group(1)) / 100
        elif m := re.fullmatch(r"mask(\d+)", part):
            mask = int(m.group(1)) / 100
        elif m := re.fullmatch(r"pt(\d+)", part):
            epochs = int(m.group(1))
        elif m := re.fullmatch(r"ftmask(\d+)", part):
            ft_mask = int(m.group(1)) / 100
        elif m := re.fullmatch(r"ft(\d+)", part):
            ft_epochs = int(m.group(1))
        elif m := re.fullmatch(r"dp(\d+)", part):
            drop = int(m.group(1)) / 100
        elif m := re.fullmatch(r"ld(\d+)", part):
            decay = int(m.group(1)) / 100
        elif m := re.fullmatch(r"enc(\d+)", part):
            enc = int(m.group(1)) / 100
        elif m := re.fullmatch(r"draw(\d+)", part):
            draw = int(m.group(1))
        elif m := re.fullmatch(r"rain(\d+)", part):
            rain = int(m.group(1)) / 100
        elif m := re.fullmatch(r"seed(\d+)", part):
            seed = int(m.group(1))
        elif m := re.fullmatch(r"(grid|more)(\d+)", part):
            if tail_epochs:
                raise ValueError(f"{name!r}: one second fine-tuning phase (_gridN or _moreN), not two")
            tail_epochs, tail_whole_grid = int(m.group(2)), m.group(1) == "grid"
        elif part == "valbest":
            val_events = (0.1, 10.0)
        elif part == "valbest10":
            val_events = (10.0,)
        else:
            raise ValueError(f"unknown method part {part!r} in {name!r}")
    arch = "unet" if head == "unet" else "postprocessor"
    if drop is not None and arch == "unet":
        raise ValueError(f"{name!r}: _dpNN is the encoder's stochastic depth; the U-Net has none")
    if norm_pix and head != "pretrained":
        raise ValueError(f"{name!r}: _normpix changes pre-training; this method is not pre-trained")
    if tube and (head != "pretrained" or rain is not None):
        raise ValueError(f"{name!r}: _tube masks whole locations in pre-training; not with _rainNN or without one")
    if head_transfer and head != "pretrained":
        raise ValueError(f"{name!r}: _head inherits the pre-trained UPerNet pyramid; this method is not pre-trained")
    if decay != 1.0 and (arch == "unet" or frozen):
        raise ValueError(f"{name!r}: _ldNN decays the learning rate of a trained encoder; this method has none")
    if tail_epochs and (val_events or ft_epochs is not None):
        raise ValueError(f"{name!r}: _gridN / _moreN continue the last epoch of the config's schedule")
    if tail_epochs == 0 and re.search(r"_(grid|more)\d", name):
        raise ValueError(f"{name!r}: _gridN / _moreN need at least one epoch")
    if draw and fraction == 1.0:
        raise ValueError(f"{name!r}: _drawN needs a labelled share (_NNpct) to draw from")
    pretrained = head == "pretrained"
    return Method(
        name,
        arch,
        pretrained,
        mask,
        loss,
        frozen,
        fraction,
        epochs,
        enc,
        draw,
        rain,
        seed,
        val_events,
        ft_epochs,
        ft_mask,
        drop,
        decay,
        norm_pix,
        head_transfer,
        tube,
        tail_epochs,
        tail_whole_grid,
    )


def tail_twin(name: str) -> str:
    """The trained network a ``_gridN`` / ``_moreN`` method continues: its name without that suffix."""
    return re.sub(r"_(grid|more)\d+", "", name)


def last_epoch_twin(name: str) -> str:
    """The method a ``_valbest`` / ``_valbest10`` method retraces step for step (same seed), keeping its last
    epoch instead."""
    return re.sub(r"_valbest\d*", "", name)


def config_length_twin(name: str) -> str:
    """The method a ``_ftNN`` method lengthens: the same name fine-tuned for the config's epochs."""
    return re.sub(r"_ft\d+", "", name)


def protocol(name: str) -> str:
    """The fine-tuning protocol of a method (or a pooled name): its ``_ftNN`` and early-stopping suffixes, "" for
    the config's epochs and the last epoch. Methods are compared with each other within one protocol."""
    found = re.search(r"_ft\d+", name)
    return (found.group(0) if found else "") + stopping_rule(name)


def without_protocol(name: str) -> str:
    """``name`` fine-tuned as the config says: without its ``_ftNN`` and early-stopping suffixes."""
    return re.sub(r"_ft\d+|_valbest\d*", "", name)


def stopping_rule(name: str) -> str:
    """The early-stopping suffix of a method (``_valbest``, ``_valbest10``), or "" for the last epoch."""
    found = re.search(r"_valbest\d*", name)
    return found.group(0) if found else ""
