"""The network, its parts and the labels/losses of the method."""

import math

import pytest
import torch

from engine.model.config import LITE, ModelConfig, UNetConfig
from engine.model.dcnv3 import DCNv3, dcnv3_reference, dcnv3_sample
from engine.model.network import PostProcessor, inherited
from engine.model.patch_embed import PatchEmbed3D, random_token_mask, token_mask_to_pixels
from engine.model.unet import UNet
from training.labels import continuous_labels, onehot_labels
from training.losses import LossConfig, masked_mse, patch_normalised, rain_loss

TINY = ModelConfig(
    channels=16,
    depths=(1, 1, 1, 1),
    dcn_groups=(2, 2, 4, 4),
    fpn_width=16,
    token_grid=(4, 4),
    drop_path=0.0,
    name="tiny",
)


def test_a_seed_ensemble_averages_its_members_probabilities():
    from engine.model.ensemble import SeedEnsemble

    torch.manual_seed(0)
    a, b = UNet(UNetConfig()).eval(), UNet(UNetConfig()).eval()
    x = torch.randn(1, 16, 32, 32)
    with torch.inference_mode():
        pa, pb = a(x).softmax(1), b(x).softmax(1)
        # 1e-5: a second float32 forward of the same member may round differently (it exceeded 1e-6 once in CI)
        assert torch.allclose(SeedEnsemble([a])(x).softmax(1), pa, atol=1e-5)
        pair = SeedEnsemble([a, b])(x).softmax(1)
    assert pair.shape == (1, 3, 32, 32)
    assert torch.allclose(pair, (pa + pb) / 2, atol=1e-5)
    assert not torch.allclose(pair, pa, atol=1e-3), "two different seeds, a different forecast"
    with pytest.raises(ValueError, match="at least one member"):
        SeedEnsemble([])


@pytest.mark.parametrize(("task", "out"), [("pretrain", 16), ("segment", 3)])
def test_network_shapes(task: str, out: int):
    model = PostProcessor(TINY, task)
    assert model(torch.randn(2, 16, 64, 96)).shape == (2, out, 64, 96)
    assert UNet(UNetConfig(widths=(8, 16))).forward(torch.randn(2, 16, 64, 64)).shape == (2, 3, 64, 64)


def test_the_input_skip_keeps_the_backbone_a_pretraining_can_fill():
    from dataclasses import replace

    cfg = replace(TINY, skip_reads_input=True, skip_width=8)
    segment = PostProcessor(cfg, "segment")
    pretrain = PostProcessor(cfg, "pretrain")
    assert segment(torch.randn(2, 16, 64, 64)).shape == (2, 3, 64, 64)
    assert segment.refine.skip[0].in_channels == cfg.folded_channels + cfg.in_channels
    assert segment.refine.out.in_channels == 8  # the refinement's width is the config's
    inherited_state = {k: v for k, v in pretrain.state_dict().items() if inherited(k, head=False)}
    missing = segment.load_state_dict(inherited_state, strict=False).missing_keys
    assert not [k for k in missing if k.startswith(("embed.", "encoder."))]


def test_lite_and_paper_sizes_are_the_named_ones():
    assert LITE.name == "lite" and ModelConfig().depths == (4, 4, 18, 4) and ModelConfig().channels == 64
    assert ModelConfig().embed_dim == 4 * 16 * 16 == 1024


@pytest.mark.parametrize("ratio", [0.5, 0.75, 0.9])
def test_masking_hides_exactly_the_ratio_of_tokens(ratio: float):
    mask = random_token_mask(5, (4, 6, 8), ratio, torch.Generator().manual_seed(0))
    assert mask.shape == (5, 4, 6, 8)
    assert (mask.flatten(1).sum(1) == round(ratio * 192)).all()
    assert not torch.equal(mask[0], mask[1]), "each sample gets its own mask"


def test_each_variable_group_can_have_its_own_masking_ratio():
    mask = random_token_mask(3, (4, 6, 8), [0.75, 0.75, 0.75, 1.0], torch.Generator().manual_seed(0))
    per_group = mask.flatten(2).sum(2)  # (N, G) masked tokens
    assert (per_group[:, :3] == 36).all() and (per_group[:, 3] == 48).all()
    with pytest.raises(ValueError, match="2 masking ratios for 4 variable groups"):
        random_token_mask(1, (4, 6, 8), [0.5, 0.5])


def test_tube_masking_hides_the_same_locations_in_every_variable_group_at_the_exact_ratio():
    mask = random_token_mask(3, (4, 6, 8), 0.75, torch.Generator().manual_seed(0), tube=True)
    assert (mask == mask[:, :1]).all(), "a masked place is masked in every variable group"
    assert (mask.flatten(2).sum(2) == 36).all()
    assert not torch.equal(mask[0], mask[1])
    with pytest.raises(ValueError, match="one ratio for all variable groups"):
        random_token_mask(1, (4, 6, 8), [0.75, 0.75, 0.75, 1.0], tube=True)


def test_masked_tokens_carry_no_information_about_their_input():
    torch.manual_seed(0)
    embed = PatchEmbed3D(TINY).eval()
    x = torch.randn(1, 16, 64, 64)
    mask = random_token_mask(1, (4, 4, 4), 0.75, torch.Generator().manual_seed(1))
    pixels = token_mask_to_pixels(mask, 16, 4)
    x2 = torch.where(pixels, torch.randn_like(x) * 100, x)  # change only what is masked
    assert torch.equal(embed(x, mask), embed(x2, mask))
    assert not torch.equal(embed(x), embed(x2))


def test_positional_embeddings_follow_the_place_a_grid_lies_on_the_training_grid():
    torch.manual_seed(0)
    embed = PatchEmbed3D(TINY)
    table = embed.pos_yx.detach()  # (1, D, 1, 4, 4): one embedding per training token
    with torch.no_grad():
        assert torch.equal(embed.positions(2, 3, (1, 1)), table[..., 1:3, 1:4]), "a training crop slices the table"
        half = embed.positions(2, 2, (0.5, 0))  # a sub-domain half a patch off the lattice
        torch.testing.assert_close(half[..., 0, :], (table[..., 0, :2] + table[..., 1, :2]) / 2)
        finer = embed.positions(7, 4, (0, 0), (0.5, 1))  # a grid twice as fine in latitude
        torch.testing.assert_close(finer[..., ::2, :], table)
        beyond = embed.positions(6, 4, (-1, 0))  # a larger domain: held at the edges, never stretched
        assert torch.equal(beyond[..., 1:5, :], table), "the learnt positions stay where they were learnt"
        assert torch.equal(beyond[..., 0, :], table[..., 0, :]) and torch.equal(beyond[..., 5, :], table[..., 3, :])


def test_reconstruction_loss_counts_masked_pixels_only():
    target = torch.randn(2, 16, 32, 32)
    mask = token_mask_to_pixels(random_token_mask(2, (4, 2, 2), 0.5, torch.Generator().manual_seed(2)), 16, 4)
    recon = torch.randn_like(target)
    recon_changed_visible = torch.where(mask, recon, recon + 50.0)
    assert masked_mse(recon, target, mask) == masked_mse(recon_changed_visible, target, mask)
    assert masked_mse(target, target, mask) == 0


def test_normalised_pixel_targets_standardise_each_3d_patch_and_survive_a_constant_one():
    x = torch.randn(2, 16, 32, 32) * 4 + 3
    x[:, 12:16, :16, :16] = 0.0  # one variable group dry over a whole patch, as NWP rain often is
    t = patch_normalised(x, 16, 4).reshape(2, 4, 4, 2, 16, 2, 16)
    mean, std = t.mean(dim=(2, 4, 6)), t.std(dim=(2, 4, 6), unbiased=False)
    assert torch.isfinite(t).all() and mean.abs().max() < 1e-5
    assert torch.allclose(std[:, :3], torch.ones_like(std[:, :3]), atol=1e-4) and (std[:, 3, 0, 0] == 0).all()
    # a patch's own offset and scale do not change its target: the structure is what is reconstructed
    shifted = x.clone()
    shifted[:, 0:4, 16:, 16:] = shifted[:, 0:4, 16:, 16:] * 7 - 2
    assert torch.allclose(patch_normalised(shifted, 16, 4), patch_normalised(x, 16, 4), atol=1e-4)


def test_dcnv3_matches_the_direct_reference():
    gen = torch.Generator().manual_seed(0)
    n, h, w, c, g = 2, 5, 7, 8, 2
    value = torch.randn(n, h, w, c, generator=gen, dtype=torch.float64)
    offset = 2.0 * torch.randn(n, h, w, g * 9 * 2, generator=gen, dtype=torch.float64)  # some land outside
    mask = torch.rand(n, h, w, g * 9, generator=gen, dtype=torch.float64)
    fast = dcnv3_sample(value, offset, mask, g)
    slow = dcnv3_reference(value, offset, mask, g)
    torch.testing.assert_close(fast, slow, atol=1e-12, rtol=0)


def test_dcnv3_with_zero_offsets_is_a_plain_3x3_mean_at_init():
    layer = DCNv3(8, 2).double()
    x = torch.randn(1, 6, 6, 8, dtype=torch.float64)
    v = layer.input_proj(x)
    padded = torch.nn.functional.pad(v.permute(0, 3, 1, 2), (1, 1, 1, 1))
    mean = torch.nn.functional.avg_pool2d(padded, 3, stride=1).permute(0, 2, 3, 1)
    torch.testing.assert_close(layer(x), layer.output_proj(mean))


@pytest.mark.parametrize(
    ("rain", "expected"),
    [
        (0.0, (1, 0, 0)),
        (0.05, (0.5, 0.5, 0)),
        (0.1, (0, 1, 0)),
        (5.05, (0, 0.5, 0.5)),
        (10.0, (0, 0, 1)),
        (42.0, (0, 0, 1)),
        (-1.0, (1, 0, 0)),
    ],
)
def test_continuous_labels_at_the_breakpoints(rain: float, expected: tuple):
    got = continuous_labels(torch.tensor([[rain]], dtype=torch.float64))[:, 0, 0]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


def test_labels_sum_to_one_smooth_and_skip_nan():
    r = torch.tensor([[0.0, 0.03, 0.5, 9.9, 11.0, math.nan]])
    for lab in (continuous_labels(r), continuous_labels(r, alpha=0.3), onehot_labels(r)):
        lab = lab[:, 0]  # (3, 6)
        torch.testing.assert_close(lab[:, :5].sum(0), torch.ones(5))
        assert torch.isnan(lab[:, 5]).all()
    torch.testing.assert_close(onehot_labels(r)[:, 0, 3], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(continuous_labels(torch.zeros(1, 1), alpha=0.3)[:, 0, 0], torch.tensor([0.8, 0.1, 0.1]))


def test_mixed_loss_is_the_beta_mix_and_ignores_invalid_pixels():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    rain = torch.rand(2, 8, 8) * 20
    one = rain_loss(logits, rain, LossConfig(kind="onehot"))
    cont = rain_loss(logits, rain, LossConfig(kind="continuous"))
    mixed = rain_loss(logits, rain, LossConfig(kind="mixed", beta=0.75))
    torch.testing.assert_close(mixed, 0.75 * one + 0.25 * cont)
    holes = rain.clone()
    holes[:, :2] = math.nan
    changed = logits.clone()
    changed[..., :2, :] += 100
    torch.testing.assert_close(rain_loss(logits, holes, LossConfig()), rain_loss(changed, holes, LossConfig()))
    assert torch.isfinite(rain_loss(logits, holes, LossConfig(kind="focal")))


@pytest.mark.parametrize("task", ["pretrain", "segment"])
def test_a_few_optimisation_steps_lower_the_loss(task: str):
    torch.manual_seed(0)
    model = PostProcessor(TINY, task)
    x = torch.randn(4, 16, 64, 64)
    rain = torch.relu(x[:, 15] * 5)  # learnable: rain is a function of the rain channel
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        if task == "pretrain":
            mask = random_token_mask(4, (4, 4, 4), 0.75, torch.Generator().manual_seed(3))
            loss = masked_mse(model(x, mask), x, token_mask_to_pixels(mask, 16, 4))
        else:
            loss = rain_loss(model(x), rain, LossConfig())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0] and losses[-1] < min(losses[:3]), losses
