"""Models: torch modules that take features (or waveforms) and return logits, and
scikit-learn style classical baselines."""
