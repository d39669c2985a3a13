"""Training: prepare the store, masked pre-training, transfer to segmentation, evaluation, reproduction."""
