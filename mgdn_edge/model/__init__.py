"""The PyTorch reference MGDN: configs, network, dynamic filter seam, checkpoint loading.

Attributes are imported on first use (:mod:`mgdn_edge.core.lazy`): the configs and input checks need
no torch, and every CLI process (``--help``, an OpenVINO ``fuse``) would otherwise pay for
importing it. The dispatching ``dynamic_filter`` function is not re-exported: its name is the
submodule's, which the import system binds on the package.
"""

from mgdn_edge.core.lazy import lazy_exports

_EXPORTS = {
    "detect_config": "checkpoint",
    "load_model": "checkpoint",
    "read_state_dict": "checkpoint",
    "PRESETS": "config",
    "TASK_IO": "config",
    "TASKS": "config",
    "MGDNConfig": "config",
    "preset": "config",
    "DynamicFilter": "dynamic_filter",
    "dynamic_filter_lean": "dynamic_filter",
    "dynamic_filter_unfold": "dynamic_filter",
    "register_dynamic_filter": "dynamic_filter",
    "use_dynamic_filter": "dynamic_filter",
    "validate_inputs": "inputs",
    "MGDN": "network",
    "build_model": "network",
    "count_parameters": "network",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
