"""Fusion loss values and the masked MI loss: closed-form values, gradients, and that it learns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mgdn_edge.model import MGDN, preset
from mgdn_edge.training.losses import MaskedMILoss, PairMIHead, fusion_loss, masked_mi

K = 8


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def _one_hot(labels: torch.Tensor, k: int = K) -> torch.Tensor:
    """[N, H, W] integer labels -> [N, K, H, W] one-hot probability vectors."""
    return F.one_hot(labels, k).permute(0, 3, 1, 2).float()


def _smooth(n: int, c: int, size: int, scale: float = 5.0) -> torch.Tensor:
    """Spatially correlated random features (5x5 box-filtered noise), std about scale / 5."""
    return F.avg_pool2d(torch.randn(n, c, size + 8, size + 8), 5, 1, 2)[..., 4:-4, 4:-4] * scale


# ------------------------------------------------------------------------------ fusion loss


def test_fusion_loss_is_l1_for_two_input_tasks() -> None:
    out = torch.zeros(1, 3, 4, 4)
    target = torch.full((1, 3, 4, 4), 0.25)
    target[0, 0, 0, 0] = 1.25  # one pixel off by 1.25 instead of 0.25: mean grows by 1/48
    assert fusion_loss("mff", out, target).item() == pytest.approx(0.25 + 1.0 / 48, abs=1e-7)


def test_fusion_loss_tonemaps_hdr() -> None:
    """mu-law L1: T(0.01) = log(1 + 50) / log(1 + 5000) = 0.461622; targets above 1 are clamped."""
    out = torch.zeros(1, 3, 2, 2)
    assert fusion_loss("hdr", out, torch.full_like(out, 0.01)).item() == pytest.approx(
        math.log(51) / math.log(5001), abs=1e-6
    )
    assert fusion_loss("hdr", torch.ones_like(out), torch.full_like(out, 3.0)).item() == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        fusion_loss("mff", out, torch.zeros(1, 3, 2, 3))


# ------------------------------------------------------------------- closed-form MaskMI values


def test_identical_one_hot_gives_one() -> None:
    labels = torch.randint(0, K, (2, 32, 32), generator=torch.Generator().manual_seed(0))
    vec = _one_hot(labels)
    np.testing.assert_allclose(masked_mi(vec, vec).numpy(), 1.0, atol=1e-6)


def test_function_of_the_other_gives_closed_form() -> None:
    """X uniform on 4 values, Y = X mod 2: H(X) = ln 4, H(Y) = ln 2, H(X, Y) = H(X).

    MaskMI = 2 (1 - ln 4 / (ln 4 + ln 2)) = 2 (1 - 2/3) = 2/3, exactly (the histogram is exact).
    """
    x = (torch.arange(32 * 32) % 4).reshape(1, 32, 32)
    value = masked_mi(_one_hot(x), _one_hot(x % 2)).item()
    assert value == pytest.approx(2.0 / 3.0, abs=1e-6)


def test_exactly_factorised_histogram_gives_zero() -> None:
    """X = i mod 2, Y = (i // 2) mod 2 over pixels i: every (x, y) cell holds exactly 1/4."""
    i = torch.arange(32 * 32).reshape(1, 32, 32)
    assert abs(masked_mi(_one_hot(i % 2), _one_hot((i // 2) % 2)).item()) < 1e-6


def test_independent_random_labels_give_near_zero() -> None:
    """Plug-in MI of independent labels is biased up by about (K-1)^2 / (2 N) nats.

    K = 8, N = 4096 pixels: 49 / 8192 = 0.006 nats, and MaskMI = 2 MI / (H(X) + H(Y)) with
    H = ln 8 = 2.08, so about 0.0029. We allow 0.01 (about 3x); identical labels give 1.
    """
    g = torch.Generator().manual_seed(1)
    x, y = (torch.randint(0, K, (4, 64, 64), generator=g) for _ in range(2))
    values = masked_mi(_one_hot(x), _one_hot(y))
    assert values.shape == (4,)
    assert bool((values > 0).all()) and float(values.max()) < 0.01, values
    assert float(values.mean()) == pytest.approx(0.0029, abs=0.002)


def test_mask_only_removes_dependence() -> None:
    """Identical labels: keeping a fraction of pixels can only lower MaskMI, keeping none gives 0."""
    labels = torch.randint(0, K, (1, 32, 32), generator=torch.Generator().manual_seed(2))
    vec = _one_hot(labels)
    full = masked_mi(vec, vec, torch.ones(1, 1, 32, 32)).item()
    half = masked_mi(vec, vec, torch.full((1, 1, 32, 32), 0.5)).item()
    none = masked_mi(vec, vec, torch.zeros(1, 1, 32, 32)).item()
    assert full == pytest.approx(1.0, abs=1e-6)
    assert 0.05 < half < 0.6  # mixing half of the mass with an independent copy
    assert abs(none) < 1e-5


def test_collapsed_assignment_is_the_worst_value() -> None:
    vec = torch.zeros(1, K, 8, 8)
    vec[:, 3] = 1.0
    assert abs(masked_mi(vec, vec).item()) < 1e-6


def test_head_sharp_bins_recover_the_extremes() -> None:
    """With no mask (GM = 0) and equal heads, identical features approach 1 as the bins sharpen;
    independent features stay near 0: N = 1024 pixels per image gives a plug-in MI bias of about
    (K-1)^2 / 2N = 0.024 nats, over H(X) + H(Y) ~ 3.8 nats (Gaussian in 8 bins) that is MaskMI
    ~ 0.013; we allow 0.03."""
    torch.manual_seed(0)
    head = PairMIHead(12)
    head.proj2.load_state_dict(head.proj1.state_dict())
    torch.nn.init.constant_(head.gm[-1].bias, -30.0)  # sigmoid(-30): nothing masked
    torch.nn.init.zeros_(head.gm[-1].weight)
    f, g = torch.randn(2, 12, 32, 32), torch.randn(2, 12, 32, 32)
    soft = head(f, f)[0].mean().item()
    for binning in (head.vec1, head.vec2):
        binning.log_width.data.fill_(math.log(0.01))
    sharp = head(f, f)[0].mean().item()
    independent = head(f, g)[0].mean().item()
    assert 0.1 < soft < sharp
    assert sharp > 0.99
    assert 0.0 < independent < 0.03


# ------------------------------------------------------------------------------- gradients


def test_gradients_reach_mgdf_features_and_heads() -> None:
    torch.manual_seed(0)
    config = preset("hdr", embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)
    model = MGDN(config)
    mi_loss = MaskedMILoss(config)
    inputs = [torch.rand(1, 6, 16, 16) for _ in range(3)]
    _, filtered = model.forward_with_features(*inputs)
    for stage in filtered:
        for f in stage:
            f.retain_grad()
    loss, terms = mi_loss(filtered)
    assert mi_loss.n_terms == len(terms) == 4  # two stages x (under, ref), (over, ref)
    assert math.isfinite(loss.item()) and 0.0 <= loss.item() <= 4.0
    assert all(0.0 <= t <= 1.0 for t in terms)
    # The sign: the loss adds 1 - MaskMI per term (minimising it maximises the shared information).
    assert loss.item() == pytest.approx(sum(1.0 - t for t in terms), abs=1e-5)
    loss.backward()
    for stage in filtered:
        for f in stage:
            assert f.grad is not None and torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0
    for name, p in mi_loss.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    # The gradient flows on into the network's weights (the MGDF kernel predictors included).
    assert model.layers[0].MGF.kernel_predictor_under[2].weight.grad.abs().sum() > 0
    assert not set(model.state_dict()) & {f"heads.{k}" for k in mi_loss.state_dict()}


# --------------------------------------------------------------------------- it learns


def _optimise(head: PairMIHead, f1: torch.Tensor, f2: torch.Tensor, extra: list, steps: int) -> list[float]:
    opt = torch.optim.Adam([*head.parameters(), *extra], lr=3e-2)
    losses = []
    for _ in range(steps):
        mi, _ = head(f1, f2)
        loss = (1.0 - mi).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_mi_term_decreases_when_features_can_align() -> None:
    """Toy: F1 is a fixed smooth random feature map; F2 is a learnable map started as independent
    white noise. Optimising F2 and the heads on 1 - MaskMI can make F2 informative of F1, so the
    term must fall from ~1 (independent) by a real margin (measured: 1.00 -> 0.28 in 40 steps)."""
    torch.manual_seed(0)
    f1 = _smooth(2, 12, 24, scale=3.0)
    f2 = torch.randn(2, 12, 24, 24, requires_grad=True)
    losses = _optimise(PairMIHead(12), f1, f2, [f2], steps=40)
    assert losses[0] > 0.95
    assert losses[-1] < 0.5
    assert all(math.isfinite(v) for v in losses)


def test_mi_term_decreases_when_heads_find_shared_content() -> None:
    """Toy: fixed F1 = a z + n1, F2 = b z + n2 with a shared smooth latent z (std 1), random
    per-channel gains a, b and independent noise (std 0.5). Only the heads learn; they must find
    the projection under which z is visible (measured: 1.00 -> 0.39 in 40 steps)."""
    torch.manual_seed(0)
    z = _smooth(2, 1, 24)
    f1 = torch.randn(1, 12, 1, 1) * z + 0.5 * torch.randn(2, 12, 24, 24)
    f2 = torch.randn(1, 12, 1, 1) * z + 0.5 * torch.randn(2, 12, 24, 24)
    losses = _optimise(PairMIHead(12), f1, f2, [], steps=40)
    assert losses[0] > 0.95
    assert losses[-1] < 0.6


def test_heads_cannot_fake_information_between_independent_features() -> None:
    """Negative control: two INDEPENDENT features, heads trained 60 steps to maximise MaskMI.

    The heads may overfit the training pixels a little, but on fresh independent features the
    term must stay near its worst value. (A literal T_i = S_i * (1 - GM) fails this: the shared
    mask leaks into both sides and the fresh-data term fell to 0.34.)"""
    torch.manual_seed(0)
    head = PairMIHead(12)
    losses = _optimise(head, torch.randn(2, 12, 24, 24), torch.randn(2, 12, 24, 24), [], steps=60)
    assert min(losses) > 0.8
    with torch.no_grad():
        fresh = 1.0 - head(torch.randn(2, 12, 24, 24), torch.randn(2, 12, 24, 24))[0].mean().item()
    assert fresh > 0.9
