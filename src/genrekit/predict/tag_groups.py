"""Backbone tags -> display groups: synonyms merged, grouped by kind, weak tags dropped.

The table is data (``genrekit/bundles/tag_groups.json``, or a card's ``config["tag_groups"]``):
``synonyms`` maps a tag to its display name, ``group_of`` a display name to a group key,
``groups`` lists the group keys with their titles in display order, ``floor`` is the
lowest score (0..1) shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from genrekit.errors import InvalidParameterError
from genrekit.predict.schema import TagGroup, TagScore

OTHER_GROUP = "other"  # group of a tag the table does not list


@lru_cache(maxsize=1)
def default_tag_table() -> dict[str, Any]:
    """The table shipped with genrekit (``genrekit/bundles/tag_groups.json``)."""
    text = resources.files("genrekit").joinpath("bundles", "tag_groups.json").read_text(encoding="utf-8")
    return check_tag_table(json.loads(text))


def check_tag_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a tag table; raises :class:`InvalidParameterError` naming what is wrong."""
    try:
        floor = float(table["floor"])
        groups = [(str(g["key"]), str(g["title"])) for g in table["groups"]]
        synonyms = {str(k).lower(): str(v).lower() for k, v in dict(table.get("synonyms", {})).items()}
        group_of = {str(k).lower(): str(v) for k, v in dict(table["group_of"]).items()}
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidParameterError(f"malformed tag table: {error!r}") from error
    keys = {key for key, _ in groups}
    if not 0.0 <= floor <= 1.0:
        raise InvalidParameterError(f"tag table floor must be in [0, 1], got {floor}")
    unknown = sorted(set(group_of.values()) - keys)
    if unknown or OTHER_GROUP not in keys:
        raise InvalidParameterError(f"tag table groups must include {OTHER_GROUP!r} and every group used; missing {unknown}")
    return {"floor": floor, "groups": groups, "synonyms": synonyms, "group_of": group_of}


def group_tags(scores: Mapping[str, float], table: Mapping[str, Any]) -> list[TagGroup]:
    """Merge synonyms (each display name keeps its highest score), drop those below the floor, group them.

    Parameters
    ----------
    scores : mapping of str to float
        Track-level probability (0..1) of every tag (lower-case names).
    table : mapping
        A table checked by :func:`check_tag_table`.

    Returns
    -------
    list of TagGroup
        Non-empty groups in the table's order, each with its tags highest first.
    """
    merged: dict[str, float] = {}
    for tag, score in scores.items():
        name = table["synonyms"].get(tag.lower(), tag.lower())
        merged[name] = max(merged.get(name, 0.0), float(score))
    by_group: dict[str, list[TagScore]] = {}
    for name, score in merged.items():
        if score >= table["floor"]:
            group = table["group_of"].get(name, OTHER_GROUP)
            by_group.setdefault(group, []).append(TagScore(tag=name, score=score))
    return [
        TagGroup(group=key, title=title, tags=sorted(by_group[key], key=lambda t: (-t.score, t.tag)))
        for key, title in table["groups"]
        if key in by_group
    ]
