"""Training losses: the fusion reconstruction loss and the masked mutual-information (MI) loss.

The masked MI loss follows the paper's Sec. 3.2.3 (Eq. 3-6); the authors published no code for
it, so every place where the paper leaves a choice open is marked ``OPEN CHOICE`` below with what
we chose and why. The auxiliary heads built here exist only for training: they are a separate
``nn.Module`` and never enter the deployable MGDN state dict or any exported graph.

Estimator in one paragraph: each filtered feature map is projected to one channel (S1, S2), a
gradient mask GM is predicted from their Sobel gradients, S_i are turned into per-pixel
probability vectors over K bins (Vec_i, a learned soft quantiser), and the pixels of one image
give a soft joint histogram P(X, Y) = mean_pixels Vec1 Vec2^T with marginals P(X), P(Y), in
which masked pixels count as independent draws (our reading of T_i = S_i * (1 - GM), see
:func:`masked_mi` for why the literal product is not used). Then

    MaskMI = 2 * (1 - H(X, Y) / (H(X) + H(Y)))

which is 0 when X and Y are independent (H(X, Y) = H(X) + H(Y)) and 1 when one determines the
other with equal entropies (H(X, Y) = H(X) = H(Y)); it is a normalised MI (the symmetric
uncertainty) in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.model.tasks import mu_law

# OPEN CHOICE (size of Vec): K = 8 bins. "Low-dimensional" in the paper; 8 bins give a K x K = 64
# cell joint histogram, so a 64x64 training crop (4096 pixels) estimates it with a small plug-in
# bias (~(K-1)^2 / 2N = 0.006 nats for independent variables) while still resolving structure.
DEFAULT_BINS = 8
# OPEN CHOICE (lambda): 0.01. The per-pair term 1 - MaskMI lies in [0, 1]; with 2-3 stages (and
# two pairs for HDR) lambda * sum is at most 0.03-0.06, the order of a mid-training L1, so the
# auxiliary term shapes the features without ever dominating reconstruction.
DEFAULT_MI_WEIGHT = 0.01
_EPS = 1e-8
_LRELU = 0.1


# ---------------------------------------------------------------------------------------------
# Reconstruction loss


def fusion_loss(task: str, output: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error the authors train with: plain L1, on mu-law tonemapped images for HDR.

    HDR targets are linear radiance; they are clamped to [0, 1] first because the network output is
    a sigmoid (it cannot exceed 1) and the tonemapper's log needs non-negative input. Tonemapping
    (mu = 5000) weights dark regions as a display would, which is why HDR uses it.
    """
    if output.shape != target.shape:
        raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
    if task == "hdr":
        return F.l1_loss(mu_law(output.clamp(0.0, 1.0)), mu_law(target.clamp(0.0, 1.0)))
    return F.l1_loss(output, target)


# ---------------------------------------------------------------------------------------------
# Entropy estimates (Eq. 4-6)


def _cross_entropy(p: Tensor, q: Tensor) -> Tensor:
    """CE(p, q) = -sum p log q over all but the batch dimension."""
    return -(p * torch.log(q + _EPS)).flatten(1).sum(1)


def _kl(p: Tensor, q: Tensor) -> Tensor:
    """KL(p || q) = sum p (log p - log q) over all but the batch dimension."""
    return (p * (torch.log(p + _EPS) - torch.log(q + _EPS))).flatten(1).sum(1)


def masked_mi(vec1: Tensor, vec2: Tensor, keep: Tensor | None = None) -> Tensor:
    """MaskMI per image from per-pixel probability vectors ``vec1``, ``vec2`` of shape [N, K, H, W].

    OPEN CHOICE (how the joint entropy is estimated): the paper names cross-entropy and KL terms
    (Eq. 4) but two marginal vectors alone do not define a joint distribution. We treat each pixel
    as one draw: P(X, Y) = mean over pixels of vec1 vec2^T (a differentiable soft joint histogram),
    P(X), P(Y) are its marginals, and with Q = P(X) (x) P(Y)

        H(X)    = CE(P(X), P(X))
        H(X, Y) = CE(P(X, Y), Q) - KL(P(X, Y) || Q)

    (CE(P(X, Y), Q) = H(X) + H(Y) and KL(P(X, Y) || Q) is the MI, so this is the exact joint
    entropy of the histogram, written with the paper's CE and KL terms).

    ``keep`` [N, 1, H, W] in [0, 1] is 1 - GM. DEVIATION from the literal T_i = S_i * (1 - GM):
    the mask does not multiply the values; a pixel's ``keep`` share of mass enters the joint
    histogram as observed (vec1 vec2^T) and the rest enters as an independent draw from the kept
    marginals. Multiplying both values by one shared mask makes the mask itself information that
    both sides carry: with the literal form, training only the heads on two INDEPENDENT noise
    features drove 1 - MaskMI from 0.99 to 0.29 (0.34 on fresh independent features), i.e. the
    loss could be satisfied without the features sharing anything. Here masking a pixel can only
    remove dependence (the mixture's MI is at most the kept fraction times the kept pixels' MI),
    so the mask learns what the paper intends: drop edge pixels where the two features disagree,
    measure agreement in smooth regions; masking everything gives MaskMI = 0, the worst value.

    Returns values in [0, 1] (up to rounding): exactly 1 for identical one-hot inputs, 0 for an
    exactly factorised histogram. Soft (non one-hot) identical inputs give less than 1, since the
    blur spreads the joint off the diagonal; a collapsed input (one bin everywhere) gives 0, so
    collapsing cannot be used to cheat either.
    """
    if vec1.shape != vec2.shape or vec1.dim() != 4:
        raise ValueError(f"expected two [N, K, H, W] tensors of one shape, got {vec1.shape}, {vec2.shape}")
    n, k = vec1.shape[:2]
    a = vec1.reshape(n, k, -1)
    b = vec2.reshape(n, k, -1)
    pixels = a.shape[-1]
    if keep is None:
        joint = torch.bmm(a, b.transpose(1, 2)) / pixels  # [N, K, K]
    else:
        w = keep.reshape(n, 1, -1)
        kept = w.sum(2)  # [N, 1]
        px_kept = (a * w).sum(2) / (kept + _EPS)  # marginals of the kept pixels
        py_kept = (b * w).sum(2) / (kept + _EPS)
        independent = px_kept[:, :, None] * py_kept[:, None, :]
        joint = torch.bmm(a * w, b.transpose(1, 2)) / pixels + (1.0 - kept / pixels)[:, :, None] * independent
    px, py = joint.sum(2), joint.sum(1)
    product = px[:, :, None] * py[:, None, :]
    h_x = _cross_entropy(px, px)
    h_y = _cross_entropy(py, py)
    h_xy = _cross_entropy(joint, product) - _kl(joint, product)
    # The same small epsilon in numerator and denominator sends the collapsed case (all entropies
    # 0) to MaskMI = 0 instead of 0/0, and leaves informative cases untouched.
    # No clamp: H(X) <= H(X, Y) <= H(X) + H(Y) holds for any histogram, so the value is in [0, 1]
    # up to rounding, and a clamp would only zero the gradient at the extremes.
    ratio = (h_xy + _EPS) / (h_x + h_y + _EPS)
    return 2.0 * (1.0 - ratio)


# ---------------------------------------------------------------------------------------------
# Auxiliary heads


def _sobel_kernels() -> Tensor:
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
    return torch.stack([gx, gx.t()])[:, None]  # [2, 1, 3, 3]: d/dx, d/dy


class SoftBinning(nn.Module):
    """Map a one-channel map T [N, 1, H, W] to per-pixel probability vectors Vec [N, K, H, W].

    OPEN CHOICE (mapping T_i to Vec_i): a learnable Parzen-window soft histogram. T is
    standardised per image (MI does not depend on scale, and the 1x1 projection's scale is
    arbitrary), then Vec_k = softmax_k(-(t - c_k)^2 / (2 w^2)) with learnable centres
    c_k (initialised evenly over [-2, 2]) and a learnable width w (initialised to the centre
    spacing). We first tried a random 1x1-conv MLP + softmax: its near-uniform initial outputs
    make MaskMI ~ 0 with a vanishing (second-order) gradient, so the term sat at its worst value
    for tens of steps; the Parzen binning is informative from the first step.
    """

    def __init__(self, bins: int = DEFAULT_BINS, span: float = 2.0) -> None:
        super().__init__()
        self.centres = nn.Parameter(torch.linspace(-span, span, bins))
        self.log_width = nn.Parameter(torch.tensor(2.0 * span / (bins - 1)).log())

    def forward(self, t: Tensor) -> Tensor:
        mean = t.mean(dim=(1, 2, 3), keepdim=True)
        std = t.std(dim=(1, 2, 3), keepdim=True)
        z = (t - mean) / (std + 1e-6)
        width = self.log_width.exp()
        logits = -((z - self.centres.view(1, -1, 1, 1)) ** 2) / (2.0 * width**2)
        return torch.softmax(logits, dim=1)


class PairMIHead(nn.Module):
    """The heads of one MI term (one stage, one pair of filtered features).

    OPEN CHOICE (shared or separate heads): every projection is separate per input, because the
    two features of a pair come from different sources (e.g. RGB vs depth, under vs reference) and
    need not live in the same coordinate system.
    """

    def __init__(self, dim: int, bins: int = DEFAULT_BINS, hidden: int = 8) -> None:
        super().__init__()
        # Eq. 3: S_i = 1x1 conv of the filtered features, one channel each.
        self.proj1 = nn.Conv2d(dim, 1, 1)
        self.proj2 = nn.Conv2d(dim, 1, 1)
        # OPEN CHOICE (convs of the GM branch): two 3x3 convs (4 -> hidden -> 1) with a LeakyReLU
        # on the four Sobel responses (d/dx, d/dy of S1 and S2). A single conv could only threshold
        # a linear mix of signed gradients; one hidden layer can form a magnitude-like, sign-free
        # edge detector, and 3x3 support lets the mask cover both sides of an edge.
        self.gm = nn.Sequential(
            nn.Conv2d(4, hidden, 3, padding=1), nn.LeakyReLU(_LRELU), nn.Conv2d(hidden, 1, 3, padding=1)
        )
        # Per-pixel probability vectors (see SoftBinning): what makes a joint histogram possible.
        self.vec1 = SoftBinning(bins)
        self.vec2 = SoftBinning(bins)
        self.register_buffer("sobel", _sobel_kernels(), persistent=False)

    def gradient_mask(self, s1: Tensor, s2: Tensor) -> Tensor:
        """GM = sigmoid(convs(Sobel(S1), Sobel(S2))) in (0, 1); 1 excludes a pixel from the MI.

        Nothing forces it onto edges: it learns to drop the pixels where the two features disagree,
        which the paper expects to be edges (complementary detail), keeping the smooth regions.
        """
        padded = [F.pad(s, (1, 1, 1, 1), mode="replicate") for s in (s1, s2)]
        grads = torch.cat([F.conv2d(s, self.sobel) for s in padded], dim=1)
        return torch.sigmoid(self.gm(grads))

    def forward(self, f1: Tensor, f2: Tensor) -> tuple[Tensor, Tensor]:
        """(MaskMI per image [N], gradient mask [N, 1, H, W]) of two filtered features [N, E, H, W].

        The mask weights pixels in the joint histogram instead of multiplying S_i (see masked_mi
        for why the literal T_i = S_i * (1 - GM) is exploitable).
        """
        s1, s2 = self.proj1(f1), self.proj2(f2)
        gm = self.gradient_mask(s1, s2)
        return masked_mi(self.vec1(s1), self.vec2(s2), 1.0 - gm), gm


def mi_pairs(task: str) -> list[tuple[int, int]]:
    """Index pairs into a stage's filtered features that get an MI term.

    HDR: (under, ref) and (over, ref), as the paper says; two-input tasks: their one pair.
    """
    return [(0, 1), (2, 1)] if task == "hdr" else [(0, 1)]


class MaskedMILoss(nn.Module):
    """All auxiliary MI heads of one network (one :class:`PairMIHead` per stage and pair).

    OPEN CHOICE (sign, i.e. maximise or minimise MI): MaskMI is a normalised MI (0 independent,
    1 identical), and the term should make the two filtered features share information in their
    smooth (unmasked) regions, so the loss ADDS ``1 - MaskMI`` per term: minimising it maximises
    MaskMI, it is 0 at the best and 1 at the worst, and it keeps the total loss non-negative.
    The heads are trained by the same optimiser on the same objective: they learn the projection
    and quantiser under which shared information is visible, and the gradient also reaches the
    MGDF features, pulling them towards mutually informative smooth content.

    ``forward(filtered_per_stage)`` returns ``(loss, terms)``: ``loss`` = sum over stages and pairs
    of the batch-mean ``1 - MaskMI`` (the paper sums over stages), ``terms`` the detached MaskMI
    values in order stage-major, for logging.
    """

    def __init__(self, config: MGDNConfig, bins: int = DEFAULT_BINS, hidden: int = 8) -> None:
        super().__init__()
        self.task = config.task
        self.pairs = mi_pairs(config.task)
        self.heads = nn.ModuleList(
            nn.ModuleList(PairMIHead(config.embed_dim, bins, hidden) for _ in self.pairs)
            for _ in range(len(config.depths))
        )

    @property
    def n_terms(self) -> int:
        return len(self.heads) * len(self.pairs)

    def forward(self, filtered_per_stage: list[list[Tensor]]) -> tuple[Tensor, list[float]]:
        if len(filtered_per_stage) != len(self.heads):
            raise ValueError(f"expected features of {len(self.heads)} stages, got {len(filtered_per_stage)}")
        total = filtered_per_stage[0][0].new_zeros(())
        terms: list[float] = []
        for stage_heads, filtered in zip(self.heads, filtered_per_stage, strict=True):
            for head, (i, j) in zip(stage_heads, self.pairs, strict=True):
                mi, _ = head(filtered[i], filtered[j])
                total = total + (1.0 - mi).mean()
                terms.append(float(mi.detach().mean()))
        return total, terms
