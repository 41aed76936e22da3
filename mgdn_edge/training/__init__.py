"""Fine-tuning a checkpoint (``mgdn-edge train``): losses, training data and the training loop."""
