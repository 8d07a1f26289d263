"""Training: gradient descent, gradient flow, SGD and noisy SGD (being built)."""
