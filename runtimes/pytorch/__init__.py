"""The PyTorch backend (the reference): the runtime that runs a checkpoint (``runtime``) and the
backend's record (``record``)."""
