"""Experiments that train and then score: the model-family leaderboard and the leakage study.

This room sits above both :mod:`genrekit.training` and :mod:`genrekit.evaluation` and may import
either; neither imports it.
"""
