"""The model lifecycle: a registry of bundle versions with promotion history and rollback
(:mod:`~genrekit.lifecycle.registry`), and retraining from editors' corrections with a
champion-versus-challenger promotion rule (:mod:`~genrekit.lifecycle.retrain`)."""

from genrekit.lifecycle.registry import ModelRegistry, ModelVersion, RegistryError

__all__ = ["ModelRegistry", "ModelVersion", "RegistryError"]
