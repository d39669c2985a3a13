"""Model configuration: a small typed object, with the two named sizes of the product."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ModelConfig:
    in_channels: int = 16
    groups_of_variables: int = 4  # variable groups of the 3-D patches (16 channels -> 4 groups of 4)
    patch: int = 16  # spatial patch side (pixels)
    fold_channels: int = 4  # embedding = fold_channels x patch x patch, folded back onto the pixels
    token_grid: tuple[int, int] = (10, 10)  # tokens per (y, x) of the full 160 x 160 domain, for positions
    channels: int = 64  # encoder base channels (doubling per stage)
    depths: tuple[int, ...] = (4, 4, 18, 4)
    dcn_groups: tuple[int, ...] = (4, 8, 16, 32)
    mlp_ratio: float = 4.0
    drop_path: float = 0.1
    fpn_width: int = 256
    pool_scales: tuple[int, ...] = (1, 2, 3, 6)
    num_classes: int = 3
    high_res_skip: bool = True  # full-resolution refinement of the segmentation head (see upernet.py)
    skip_reads_input: bool = False  # the refinement also reads the normalised input channels, not only the folds
    skip_width: int = 32  # channels of the full-resolution refinement
    name: str = "paper"

    @property
    def embed_dim(self) -> int:
        return self.fold_channels * self.patch * self.patch

    @property
    def folded_channels(self) -> int:
        return self.groups_of_variables * self.fold_channels

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        for key in ("token_grid", "depths", "dcn_groups", "pool_scales"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


PAPER = ModelConfig()
# The CPU size. Patches of 8 px (not the paper's 16) and an input-reading skip: at 5 km a heavy-rain cell spans a
# few pixels, and on validation runs both raised CSI at 10 mm/h (README.md, "Model and training").
LITE = ModelConfig(
    channels=32,
    depths=(1, 1, 3, 1),
    dcn_groups=(2, 4, 8, 16),
    drop_path=0.05,
    fpn_width=64,
    patch=8,
    token_grid=(20, 20),
    skip_reads_input=True,
    name="lite",
)
SIZES: dict[str, ModelConfig] = {"paper": PAPER, "lite": LITE}


@dataclass(frozen=True)
class UNetConfig:
    """The from-scratch U-Net baseline (MetNet-like role in the paper's comparison)."""

    in_channels: int = 16
    widths: tuple[int, ...] = field(default=(16, 32, 64, 128))
    num_classes: int = 3
    name: str = "unet"

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        """From a manifest or YAML mapping (lists where the config holds tuples)."""
        return cls(**{**d, "widths": tuple(d.get("widths", cls.widths))})
