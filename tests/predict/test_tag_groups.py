"""Tag groups: synonyms merged, grouped by kind from the bundled table, weak tags dropped."""

from __future__ import annotations

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.predict.tag_groups import check_tag_table, default_tag_table, group_tags


def test_synonyms_merge_into_one_display_name_keeping_the_highest_score() -> None:
    scores = {"male vocal": 0.3, "male": 0.5, "man": 0.2, "male voice": 0.4, "male vocalists": 0.1, "vocal": 0.35}
    groups = {g.group: g for g in group_tags(scores, default_tag_table())}
    assert [(t.tag, t.score) for t in groups["vocals"].tags] == [("male vocals", 0.5), ("vocals", 0.35)]
    assert set(groups) == {"vocals"}


def test_groups_follow_the_table_order_and_the_floor_drops_weak_tags() -> None:
    table = default_tag_table()
    scores = {"piano": 0.7, "sad": 0.3, "80s": 0.2, "rock": 0.6, "female vocalists": 0.08, "zither-core": 0.5}
    groups = group_tags(scores, table)
    assert [g.group for g in groups] == ["genre", "mood", "instrument", "era", "other"]
    assert all(t.score >= table["floor"] for g in groups for t in g.tags)
    assert not any(t.tag == "female vocals" for g in groups for t in g.tags)  # 8 % is below the floor
    assert groups[-1].tags[0].tag == "zither-core"  # unlisted tags still show, under "other"


def test_every_tag_of_the_default_bundle_has_a_group() -> None:
    import json

    from genrekit.bundle import default_bundle_path

    card_path = default_bundle_path() / "card.json"
    if not card_path.is_file():
        pytest.skip("the default bundle is not built")
    config = json.loads(card_path.read_text())["config"]
    table = default_tag_table()
    vocabulary = {t.lower() for backbone in config.get("backbone_configs", {}).values() for t in backbone.get("tags", [])}
    ungrouped = {t for t in vocabulary if table["synonyms"].get(t, t) not in table["group_of"]}
    assert not ungrouped


def test_a_malformed_table_is_refused() -> None:
    with pytest.raises(InvalidParameterError):
        check_tag_table({"floor": 0.1, "groups": [{"key": "mood", "title": "Mood"}], "group_of": {"sad": "mood"}})
    with pytest.raises(InvalidParameterError):
        check_tag_table({"floor": 2, "groups": [{"key": "other", "title": "Other"}], "group_of": {}})
