"""MGDN (Mutual-Guided Dynamic Network) as the published checkpoints define it.

Module and parameter names follow the authors' state dicts exactly (see state_dict_manifest.json),
so their checkpoints load strictly. Written from the architecture reference; deviations from the
paper's prose that the weights impose are noted where they occur.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.model.dynamic_filter import DynamicFilter
from mgdn_edge.model.inputs import validate_inputs

LRELU_MGDF = 0.1  # slope inside the MGDF (kernel predictors, conv_out, conv_ref)
LRELU_BODY = 0.2  # slope everywhere else
SHIFTED_WINDOW_MASK = -100.0


def _conv_lrelu(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.LeakyReLU(LRELU_MGDF))


def _kernel_predictor(dim: int, kernel_size: int) -> nn.Sequential:
    """3x3+LReLU, 3x3+LReLU, 1x1 to k*k raw taps (no activation, no normalisation)."""
    return nn.Sequential(
        _conv_lrelu(dim, dim, 3), _conv_lrelu(dim, dim, 3), nn.Conv2d(dim, kernel_size**2, 1)
    )


def _drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    if p == 0.0 or not training:
        return x
    keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(1 - p)
    return x * keep / (1 - p)


def standardize(x: Tensor, norm: nn.LayerNorm) -> Tensor:
    """``norm(x)`` without its scale and shift: what :func:`fold_norm` layers read."""
    return F.layer_norm(x, norm.normalized_shape, None, None, norm.eps)


def fold_norm(weight: Tensor, bias: Tensor, norm: nn.LayerNorm | None) -> tuple[Tensor, Tensor]:
    """Weight and bias of a linear layer (or 1x1 conv) that reads ``norm``'s output, folded so that
    it reads :func:`standardize` instead: ``W(g*z + b0) + b = (W*g) z + (W b0 + b)``.

    Why: OpenVINO's CPU plugin cannot fuse a LayerNorm's scale and shift, which run along the
    token's last axis, into its normalisation, so each ran as one more pass over the tokens; in
    the next layer's weights they cost nothing (FP32 outputs move by ~4e-7). None: unchanged.
    """
    if norm is None:
        return weight, bias
    if weight.dim() > 2 and any(k != 1 for k in weight.shape[2:]):
        raise ValueError(f"only linears and 1x1 convolutions fold a norm, got weight {tuple(weight.shape)}")
    gamma = norm.weight.reshape(1, -1, *([1] * (weight.dim() - 2)))
    return weight * gamma, bias + weight.flatten(1) @ norm.bias


class ConcatConv2d(nn.Conv2d):
    """A convolution of the channel concatenation of equally wide inputs, without concatenating.

    ``forward(parts)`` equals ``conv(torch.cat(parts, dim=1))``: each part is convolved with its
    slice of the weights and the results are summed (the same products, summed in another
    order). Exported graphs then hold convolutions and adds, which every backend fuses (a conv's
    "sum" post-op), instead of a concatenated copy of the maps: OpenVINO's CPU plugin
    concatenates channels of these 30-channel NHWC maps with a reference kernel. The slices are
    fixed by ``in_channels`` and the number of parts, so exports see constant weights.
    Parameters and their names are those of ``nn.Conv2d``.
    """

    def forward(self, parts: Sequence[Tensor]) -> Tensor:  # type: ignore[override]
        width = self.in_channels // max(len(parts), 1)
        if width * len(parts) != self.in_channels:
            raise ValueError(f"{self.in_channels} input channels do not split into {len(parts)} equal parts")
        if not torch.jit.is_tracing() and any(part.shape[1] != width for part in parts):
            raise ValueError(f"parts of {width} channels expected, got {[part.shape[1] for part in parts]}")
        out = self._conv_forward(parts[0], self.weight[:, :width], self.bias)
        for i, part in enumerate(parts[1:], start=1):
            out = out + self._conv_forward(part, self.weight[:, i * width : (i + 1) * width], None)
        return out


class MutualGuidedCrossAttention(nn.Module):
    """MGCA (module ``TCA``): channel-wise ("transposed") cross attention over the WHOLE image.

    The published weights have no LayerNorm and no residual here, unlike the paper's figure.
    Because q and k are L2-normalised over all pixels, the op is global: tiling changes results.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.kv = nn.Conv2d(dim, dim * 2, 1)
        self.q = nn.Conv2d(dim, dim, 1)
        self.kv_dwconv = nn.Conv2d(dim * 2, dim * 2, 3, padding=1, groups=dim * 2)
        self.q_dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.project_out = nn.Conv2d(dim, dim, 1)

    def forward(self, guide: Tensor, op: Tensor) -> Tensor:
        b, c, h, w = guide.shape
        q = self.q_dwconv(self.q(guide))
        # k and v as two convs on halves of the kv weights: identical arithmetic (1x1 and depthwise
        # convs are per output channel), and no channel split of a 2E-channel tensor in exported
        # graphs (OpenVINO's CPU plugin ran that split as a reference kernel: ~5% of MFF at 520^2).
        k, v = (self._kv_half(op, half) for half in (slice(0, c), slice(c, 2 * c)))
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.temperature, dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))

    def _kv_half(self, op: Tensor, half: slice) -> Tensor:
        pw, dw = self.kv, self.kv_dwconv
        x = F.conv2d(op, pw.weight[half], pw.bias[half])
        return F.conv2d(x, dw.weight[half], dw.bias[half], padding=1, groups=x.shape[1])


class MGDF(nn.Module):
    """Mutual-guided dynamic filter for two inputs (MFF, MEF, GDSR)."""

    def __init__(self, dim: int, kernel_size: int, mgca_heads: int) -> None:
        super().__init__()
        self.TCA = MutualGuidedCrossAttention(dim, mgca_heads)
        self.kernel_predictor_ref = _kernel_predictor(dim, kernel_size)
        self.kernel_predictor_ext = _kernel_predictor(dim, kernel_size)
        self.conv_out_1 = _conv_lrelu(dim, dim, 1)
        self.conv_out_2 = _conv_lrelu(dim, dim, 1)
        self.dynamic_filter = DynamicFilter(kernel_size)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        f1, f2 = feats
        kernel_1 = self.kernel_predictor_ref(self.TCA(f1, f2))
        kernel_2 = self.kernel_predictor_ext(self.TCA(f2, f1))
        return [
            self.conv_out_1(self.dynamic_filter(f1, kernel_1)),
            self.conv_out_2(self.dynamic_filter(f2, kernel_2)),
        ]


class MGDFHDR(nn.Module):
    """Mutual-guided dynamic filter for HDR deghosting: the reference frame guides both others."""

    def __init__(self, dim: int, kernel_size: int, mgca_heads: int) -> None:
        super().__init__()
        self.TCA = MutualGuidedCrossAttention(dim, mgca_heads)
        self.kernel_predictor_under = _kernel_predictor(dim, kernel_size)
        self.kernel_predictor_over = _kernel_predictor(dim, kernel_size)
        self.conv_out_1 = _conv_lrelu(dim, dim, 1)
        self.conv_out_2 = _conv_lrelu(dim, dim, 1)
        self.conv_ref = nn.Sequential(_conv_lrelu(dim, dim, 3), _conv_lrelu(dim, dim, 3))
        self.dynamic_filter = DynamicFilter(kernel_size)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        under, ref, over = feats
        kernel_under = self.kernel_predictor_under(self.TCA(ref, under))
        kernel_over = self.kernel_predictor_over(self.TCA(ref, over))
        return [
            self.conv_out_1(self.dynamic_filter(under, kernel_under)),
            self.conv_ref(ref),
            self.conv_out_2(self.dynamic_filter(over, kernel_over)),
        ]


def relative_position_index(window_size: int) -> Tensor:
    """Index into the (2ws-1)^2 bias table for every (query, key) pair of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    coords = coords.flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
    return rel[:, :, 0] * (2 * window_size - 1) + rel[:, :, 1]


def shifted_window_mask(
    height: int, width: int, window_size: int, shift: int, device: torch.device
) -> Tensor:
    """[nW, ws*ws, ws*ws] additive mask: -100 between tokens that came from different regions.

    Computed from the padded size on every call (not the 128x128 buffer stored in checkpoints),
    with tensor ops only so that an exported graph computes it for any size.
    """

    def labels(n: int) -> Tensor:
        pos = torch.arange(n, device=device)
        return (pos >= n - window_size).long() + (pos >= n - shift).long()

    regions = labels(height)[:, None] * 3 + labels(width)[None, :]
    windows = regions.reshape(height // window_size, window_size, width // window_size, window_size)
    windows = windows.permute(0, 2, 1, 3).reshape(-1, window_size * window_size)
    different = windows[:, None, :] != windows[:, :, None]
    return different.float() * SHIFTED_WINDOW_MASK


def window_order(
    height: int, width: int, window_size: int, shift: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Token indices that partition a (cyclically shifted) image into windows, and back.

    ``tokens.index_select(1, to_windows)`` lists the tokens of an image rolled by ``-shift`` on
    both axes window by window (windows row-major, tokens row-major within a window), the order
    ``shifted_window_mask`` assumes; ``from_windows`` undoes it. The indices come from applying the
    roll and the window partition to a grid of token numbers, so the features are moved once, by
    one gather, instead of by two rolls and a transpose each way: exported graphs otherwise run
    each roll as a split and a concat over the whole feature map, which OpenVINO's CPU plugin
    executes with reference kernels. Built from tensor ops so that exported graphs compute it
    for any size (constant-folded where the size is static).
    """
    ws = window_size
    grid = torch.arange(height * width, device=device).reshape(height, width)
    if shift:
        grid = torch.roll(grid, shifts=(-shift, -shift), dims=(0, 1))
    to_windows = grid.reshape(height // ws, ws, width // ws, ws).transpose(1, 2).reshape(-1)
    numbers = torch.arange(height * width, device=device)
    back = numbers.reshape(height // ws, width // ws, ws, ws).transpose(1, 2).reshape(height, width)
    if shift:
        back = torch.roll(back, shifts=(shift, shift), dims=(0, 1))
    return to_windows, back.reshape(-1)


class WindowGeometry(NamedTuple):
    """What every Swin block of one forward pass shares: the shifted blocks' attention mask and,
    per shift (0 and half a window), the token orders of :func:`window_order`. Computed once per
    pass, outside the blocks, so a block's scope in an exported graph holds only its features
    (``diff`` reads a block's output as the last tensor in its scope)."""

    mask: Tensor
    orders: dict[int, tuple[Tensor, Tensor]]

    @staticmethod
    def of(height: int, width: int, window_size: int, like: Tensor) -> WindowGeometry:
        shift = window_size // 2
        mask = shifted_window_mask(height, width, window_size, shift, like.device).to(like.dtype)
        orders = {s: window_order(height, width, window_size, s, like.device) for s in (0, shift)}
        return WindowGeometry(mask, orders)


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window_size: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.window_size = window_size
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, windows: Tensor, mask: Tensor | None, norm: nn.LayerNorm | None = None) -> Tensor:
        """Attention of every window; with ``norm``, ``windows`` are that norm's :func:`standardize`
        output and its scale and shift are folded into the q/k/v projections."""
        bw, n, c = windows.shape
        # q, k and v as three linears on thirds of the qkv weights (identical arithmetic: a linear
        # is per output feature), each [bw, n, heads, hd] -> [bw, heads, n, hd]: OpenVINO's CPU
        # plugin folds the q and v head transposes into its attention kernel, where the one 5-D
        # permute of a fused qkv tensor ran as a separate copy (twice in INT8 graphs).
        q, v = (self._project(windows, i, norm).transpose(1, 2) for i in (0, 2))
        k_t = self._project(windows, 1, norm).permute(0, 2, 3, 1)  # [bw, heads, hd, n] in one transpose
        attn = (q * self.scale) @ k_t
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        attn = attn + bias.reshape(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            # [nW, n, n] repeated for each image of the batch and added in attention's own 4-D
            # shape (not via a 5-D reshape), so OpenVINO fuses shifted blocks into one attention
            # kernel as it does unshifted ones.
            attn = attn + mask.repeat(bw // mask.shape[0], 1, 1).unsqueeze(1)
        out = (torch.softmax(attn, dim=-1) @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj(out)

    def _project(self, windows: Tensor, third: int, norm: nn.LayerNorm | None) -> Tensor:
        """q (0), k (1) or v (2) of every token, split into heads: [bw, n, heads, c // heads]."""
        bw, n, c = windows.shape
        rows = slice(third * c, (third + 1) * c)
        out = F.linear(windows, *fold_norm(self.qkv.weight[rows], self.qkv.bias[rows], norm))
        return out.reshape(bw, n, self.heads, c // self.heads)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, norm: nn.LayerNorm | None = None) -> Tensor:
        """With ``norm``, ``x`` is its :func:`standardize` output (see :func:`fold_norm`)."""
        return self.fc2(self.act(F.linear(x, *fold_norm(self.fc1.weight, self.fc1.bias, norm))))


class LocalContextExtractor(nn.Module):
    """1x1 -> 3x3 -> 1x1 (no activation between), LReLU, then squeeze-excitation channel attention."""

    def __init__(self, dim: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = dim // reduction
        self.conv = nn.Sequential(
            nn.Conv2d(dim, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.Conv2d(hidden, dim, 1),
            nn.LeakyReLU(LRELU_BODY),
        )
        self.fc = nn.Sequential(
            nn.Linear(dim, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, dim, bias=False), nn.Sigmoid()
        )

    def forward(self, x: Tensor, norm: nn.LayerNorm | None = None) -> Tensor:
        """With ``norm``, ``x`` is its :func:`standardize` output (see :func:`fold_norm`)."""
        first = self.conv[0]
        x = F.conv2d(x, *fold_norm(first.weight, first.bias, norm))
        x = self.conv[1:](x)
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class ContextAwareTransformerBlock(nn.Module):
    """Swin block (global branch) plus a local-context conv branch on the same normalised input."""

    def __init__(
        self, dim: int, heads: int, window_size: int, shift: int, mlp_ratio: float, drop_path: float
    ):
        super().__init__()
        self.window_size = window_size
        self.shift = shift
        self.drop_path = drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.lce = LocalContextExtractor(dim)

    def forward(self, x: Tensor, height: int, width: int, windows: WindowGeometry) -> Tensor:
        b, _, c = x.shape
        ws = self.window_size
        # Both norms' scale and shift live in the layers that read them (fold_norm).
        h = standardize(x, self.norm1)
        to_windows, from_windows = windows.orders[self.shift]
        tokens = h.index_select(1, to_windows).reshape(-1, ws * ws, c)
        tokens = self.attn(tokens, windows.mask if self.shift else None, self.norm1)
        attn_out = tokens.reshape(b, height * width, c).index_select(1, from_windows)
        x = x + _drop_path(attn_out, self.drop_path, self.training)
        mlp_out = self.mlp(standardize(x, self.norm2), self.norm2)
        x = x + _drop_path(mlp_out, self.drop_path, self.training)
        local = self.lce(h.reshape(b, height, width, c).permute(0, 3, 1, 2), self.norm1)
        return x + local.flatten(2).transpose(1, 2)


class ResidualGroup(nn.Module):
    def __init__(self, blocks: list[ContextAwareTransformerBlock]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


class Stage(nn.Module):
    """One MGDN stage: MGDF -> fuse (1x1) -> progressive feature fusion (transformer) -> split."""

    def __init__(self, config: MGDNConfig, stage: int, drop_paths: list[float]) -> None:
        super().__init__()
        dim, ws, n = config.embed_dim, config.window_size, config.n_inputs
        mgdf = MGDFHDR if config.task == "hdr" else MGDF
        self.MGF = mgdf(dim, config.kernel_size, config.mgca_heads)
        self.residual_group = ResidualGroup(
            [
                ContextAwareTransformerBlock(
                    dim,
                    config.swin_heads[stage],
                    ws,
                    0 if i % 2 == 0 else ws // 2,
                    config.mlp_ratio,
                    drop_paths[i],
                )
                for i in range(config.depths[stage])
            ]
        )
        self.dilated_conv = nn.Conv2d(dim, dim, 3, padding=2, dilation=2)
        self.adjust_channel = ConcatConv2d(n * dim, dim, 1)
        # The authors' two-input nets also carry an unused adjust_channel_03; keep it for strict loading.
        self.adjust_channel_01 = ConcatConv2d(2 * dim, dim, 1)
        self.adjust_channel_02 = ConcatConv2d(2 * dim, dim, 1)
        self.adjust_channel_03 = ConcatConv2d(2 * dim, dim, 1)
        self._n_inputs = n

    def forward(self, feats: list[Tensor], windows: WindowGeometry) -> tuple[list[Tensor], list[Tensor]]:
        filtered = self.MGF(feats)
        x = self.adjust_channel(filtered)
        b, c, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        for block in self.residual_group.blocks:
            tokens = block(tokens, height, width, windows)
        res = self.dilated_conv(tokens.transpose(1, 2).reshape(b, c, height, width))
        adjust = (self.adjust_channel_01, self.adjust_channel_02, self.adjust_channel_03)
        outs = [adjust[i]((res, filtered[i])) for i in range(self._n_inputs)]
        return outs, filtered


class _UnusedNorm(nn.Module):
    """Holds ``patch_embed.norm``: present in every checkpoint, never used in forward."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)


class MGDN(nn.Module):
    """The full network for one task. ``forward(*inputs)`` takes the task's inputs in [0, 1].

    Inputs are reflect-padded bottom/right to a multiple of the window size and the output is
    cropped back, so any H, W with ``min(H, W) > window_size - H % window_size`` works.
    """

    def __init__(self, config: MGDNConfig, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        io = config.io
        self.patch_embed = _UnusedNorm(dim)
        if config.task == "hdr":
            self.conv1 = nn.Conv2d(io.input_channels[0], dim, 3, padding=1)
        else:
            self.inconv1 = nn.Conv2d(io.input_channels[0], dim, 3, padding=1)
            self.inconv2 = nn.Conv2d(io.input_channels[1], dim, 3, padding=1)
        rates = torch.linspace(0, drop_path_rate, sum(config.depths)).tolist()
        starts = [sum(config.depths[:i]) for i in range(len(config.depths))]
        self.layers = nn.ModuleList(
            Stage(config, i, rates[starts[i] : starts[i] + config.depths[i]])
            for i in range(len(config.depths))
        )
        self.norm = nn.LayerNorm(dim)  # unused in forward, present in checkpoints
        self.conv_after_body = nn.Sequential(
            ConcatConv2d(config.n_inputs * dim, dim, 3, padding=1), nn.LeakyReLU(LRELU_BODY)
        )
        self.conv_last = nn.Sequential(nn.Conv2d(dim, io.output_channels, 3, padding=1), nn.Sigmoid())
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    # The skip connection adds one input's stem features: A / under for MFF/MEF, the reference
    # frame for HDR, the depth map for GDSR.
    @property
    def _skip_index(self) -> int:
        return 0 if self.config.task in ("mff", "mef") else 1

    def _stems(self, padded: list[Tensor]) -> list[Tensor]:
        if self.config.task == "hdr":
            return [self.conv1(x) for x in padded]
        return [self.inconv1(padded[0]), self.inconv2(padded[1])]

    def _pad(self, x: Tensor) -> Tensor:
        ws = self.config.window_size
        h, w = x.shape[-2:]
        pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
        if pad_h == 0 and pad_w == 0:
            return x
        return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")

    def forward_with_features(self, *inputs: Tensor) -> tuple[Tensor, list[list[Tensor]]]:
        """Output plus, per stage, the MGDF-filtered features (what the masked MI loss looks at)."""
        if not torch.jit.is_tracing() and not torch.compiler.is_compiling():
            validate_inputs(self.config, inputs)
        height, width = inputs[0].shape[-2:]
        feats = self._stems([self._pad(x) for x in inputs])
        skip = feats[self._skip_index]
        ws = self.config.window_size
        padded_h, padded_w = feats[0].shape[-2:]
        windows = WindowGeometry.of(padded_h, padded_w, ws, feats[0])
        filtered_per_stage = []
        for stage in self.layers:
            feats, filtered = stage(feats, windows)
            filtered_per_stage.append(filtered)
        res = self.conv_after_body(feats) + skip
        return self.conv_last(res)[:, :, :height, :width], filtered_per_stage

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.forward_with_features(*inputs)[0]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_model(config: MGDNConfig, drop_path_rate: float = 0.0) -> MGDN:
    return MGDN(config, drop_path_rate)


__all__ = [
    "MGDN",
    "build_model",
    "count_parameters",
    "relative_position_index",
    "shifted_window_mask",
    "window_order",
]
