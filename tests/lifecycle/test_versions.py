"""The model registry (versions, promotion history, rollback) and the promotion rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrekit.bundle import ModelCard
from genrekit.bundle.io import save_bundle
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.lifecycle.versions import ModelRegistry, RegistryError
from genrekit.lifecycle.retrain import PromotionRule, next_version, track_metrics


def _bundle(directory: Path, version: str) -> Path:
    torch = pytest.importorskip("torch")
    card = ModelCard(name="m", version=version, model_type="fake", labels=["a", "b"], sample_rate=8000, window_s=1.0)
    return save_bundle(directory / version, card, {"w": torch.zeros(2)})


def test_register_promote_rollback_walks_back_through_history(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    assert registry.champion() is None and registry.versions() == []
    for version in ("1", "2", "3"):
        registry.register(_bundle(tmp_path, version), source="test")
        registry.promote(version, reason=f"to {version}")
    assert registry.champion_id() == "3"
    assert (registry.champion().path / "card.json").is_file()
    assert registry.rollback().id == "2"
    assert registry.rollback().id == "1"
    with pytest.raises(RegistryError, match="nothing served before"):
        registry.rollback()
    registry.promote("3", reason="again")
    assert registry.rollback().id == "1"
    actions = [event["action"] for event in registry.history()]
    assert actions[:6] == ["register", "promote"] * 3 and actions.count("rollback") == 3
    with pytest.raises(RegistryError, match="already registered"):
        registry.register(_bundle(tmp_path / "again", "2"), source="test")
    with pytest.raises(RegistryError, match="no model version"):
        registry.promote("9", reason="x")
    assert next_version(registry, "3") == "3+r1"


def test_register_refuses_a_corrupt_bundle(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "1")
    (bundle / "model.safetensors").write_bytes(b"edited")
    with pytest.raises(BundleError):
        ModelRegistry(tmp_path / "reg").register(bundle, source="test")


def test_promotion_rule_and_metrics() -> None:
    metrics = track_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert metrics["accuracy"] == 0.75 and metrics["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-6)
    rule = PromotionRule(metric="accuracy", max_drop=0.05)
    assert rule.decide({"accuracy": 0.8}, {"accuracy": 0.76})[0] is True
    promote, reason = rule.decide({"accuracy": 0.8}, {"accuracy": 0.7})
    assert promote is False and "0.7000 vs champion 0.8000" in reason
    assert PromotionRule().decide({"macro_f1": 0.5}, {"macro_f1": 0.5})[0] is True
    with pytest.raises(InvalidParameterError):
        PromotionRule(metric="loss")
