"""Network configurations: the published presets plus overridable sizes for small models."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

TASKS = ("mff", "mef", "hdr", "gdsr")


@dataclass(frozen=True)
class TaskIO:
    """What a task feeds the network and gets back."""

    input_names: tuple[str, ...]
    input_channels: tuple[int, ...]
    output_channels: int


TASK_IO: dict[str, TaskIO] = {
    "mff": TaskIO(("a", "b"), (3, 3), 3),
    "mef": TaskIO(("under", "over"), (3, 3), 3),
    "hdr": TaskIO(("under", "ref", "over"), (6, 6, 6), 3),
    "gdsr": TaskIO(("rgb", "depth"), (3, 1), 1),
}


@dataclass(frozen=True)
class MGDNConfig:
    """Every size that shapes an MGDN network (names follow the architecture reference).

    ``swin_heads`` are the heads of the window attention in each stage; the mutual-guided cross
    attention (MGCA) always uses ``mgca_heads`` = 6, so ``embed_dim`` must be divisible by 6.
    """

    task: str
    embed_dim: int
    depths: tuple[int, ...]
    swin_heads: tuple[int, ...]
    window_size: int
    mlp_ratio: float
    kernel_size: int = 7
    mgca_heads: int = 6
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASKS}")
        if len(self.depths) != len(self.swin_heads):
            raise ValueError(f"depths {self.depths} and swin_heads {self.swin_heads} differ in length")
        if self.embed_dim % self.mgca_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} is not divisible by the {self.mgca_heads} MGCA heads"
            )
        for heads in self.swin_heads:
            if self.embed_dim % heads:
                raise ValueError(f"embed_dim {self.embed_dim} is not divisible by swin heads {heads}")
        if self.embed_dim < 8:
            raise ValueError("embed_dim must be >= 8 (the local-context branch uses embed_dim // 8 channels)")
        if self.window_size < 2 or self.kernel_size % 2 == 0:
            raise ValueError("window_size must be >= 2 and kernel_size odd")

    @property
    def io(self) -> TaskIO:
        return TASK_IO[self.task]

    @property
    def n_inputs(self) -> int:
        return len(self.io.input_names)

    def replace(self, **overrides: object) -> MGDNConfig:
        """A copy with some sizes overridden (e.g. a tiny model for tests)."""
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v is not None}
        name = self.name if not overrides else f"{self.name}+custom"
        return dataclasses.replace(self, name=name, **overrides)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MGDNConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
        return cls(**kwargs)  # type: ignore[arg-type]


PRESETS: dict[str, MGDNConfig] = {
    "mff": MGDNConfig("mff", 30, (3, 3), (3, 3), 4, 2.0, name="mff"),
    "mef": MGDNConfig("mef", 60, (6, 6), (6, 6), 8, 2.0, name="mef"),
    "hdr": MGDNConfig("hdr", 60, (6, 6, 6), (6, 6, 6), 8, 4.0, name="hdr"),
    "gdsr_x4": MGDNConfig("gdsr", 30, (3, 3, 3), (6, 6, 6), 4, 4.0, name="gdsr_x4"),
    "gdsr_x8": MGDNConfig("gdsr", 30, (3, 3, 3), (6, 6, 6), 4, 4.0, name="gdsr_x8"),
    "gdsr_x16": MGDNConfig("gdsr", 60, (3, 3, 3), (6, 6, 6), 4, 4.0, name="gdsr_x16"),
}
PRESETS["gdsr"] = PRESETS["gdsr_x4"]


def preset(name: str, **overrides: object) -> MGDNConfig:
    """A published configuration by name, optionally with sizes overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides)
