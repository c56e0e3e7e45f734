"""The model lifecycle: a registry of bundle versions with promotion history and rollback
(:mod:`~genrekit.lifecycle.versions`), and retraining from editors' corrections with a
champion-versus-challenger promotion rule (:mod:`~genrekit.lifecycle.retrain`)."""

from genrekit.lifecycle.versions import ModelRegistry, ModelVersion, RegistryError

__all__ = ["ModelRegistry", "ModelVersion", "RegistryError"]
