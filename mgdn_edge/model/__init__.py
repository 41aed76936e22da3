"""The PyTorch reference MGDN: configs, network, dynamic filter seam, checkpoint loading."""

from mgdn_edge.model.checkpoint import detect_config, load_model, read_state_dict
from mgdn_edge.model.config import PRESETS, TASK_IO, TASKS, MGDNConfig, preset
from mgdn_edge.model.dynamic_filter import (
    DynamicFilter,
    dynamic_filter,
    dynamic_filter_lean,
    dynamic_filter_unfold,
    register_dynamic_filter,
    use_dynamic_filter,
)
from mgdn_edge.model.inputs import validate_inputs
from mgdn_edge.model.network import MGDN, build_model, count_parameters

__all__ = [
    "MGDN",
    "PRESETS",
    "TASKS",
    "TASK_IO",
    "DynamicFilter",
    "MGDNConfig",
    "build_model",
    "count_parameters",
    "detect_config",
    "dynamic_filter",
    "dynamic_filter_lean",
    "dynamic_filter_unfold",
    "load_model",
    "preset",
    "read_state_dict",
    "register_dynamic_filter",
    "use_dynamic_filter",
    "validate_inputs",
]
