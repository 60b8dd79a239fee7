"""Letters the generator did not write, kept apart from training and tuning: for measuring only (README.md)."""
