"""The model families ``genrekit train`` knows (no import: the CLI parser reads them without torch)."""

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
