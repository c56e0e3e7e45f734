"""The model families `genrekit train` knows: plain names, so the CLI parser lists them without importing torch or the training stack."""

FAMILIES = (
    "knn",
    "svm",
    "logreg",
    "random_forest",
    "mlp",
    "cnn1d",
    "cnn2d_mfcc",
    "cnn2d_logmel",
    "crnn",
    "musicnn_head",
    "ensemble",
)
BASELINE_FAMILIES = ("knn", "svm", "logreg", "random_forest")
NET_FAMILIES = ("mlp", "cnn1d", "cnn2d_mfcc", "cnn2d_logmel", "crnn")
