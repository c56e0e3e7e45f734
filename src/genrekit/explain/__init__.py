"""Why a model chose a genre: per-window shares, spectrogram saliency, feature contributions.

* :mod:`genrekit.explain.attribution`: occlusion, integrated gradients and the deletion
  (faithfulness) check on spectrograms, and Shapley-style contributions of table features;
* :mod:`genrekit.explain.adapters`: how each model family exposes a differentiable
  spectrogram -> probabilities function;
* :mod:`genrekit.explain.song`: a whole song's explanation (JSON-ready) and its picture.

This is a workbench feature: it needs PyTorch (gradients) and is never imported by the
classify path; the service imports it lazily, on the explanation route only.
"""
