"""Richer `data` for the simulated Hub: nested objects, lists of objects, 10 to 40 leaves.

The Hub does not document the shape of `data`. Its settings and repository events carry more than
the few keys `events.py` gives them: whole settings objects before and after a change, a repo's
card metadata, lists of collaborators or files. This module builds such payloads from a handful of
different shapes, picked at random per event, so that a benchmark or a test does not depend on any
one guessed shape. The keys the normalizer reads (`repo`, `resourceGroup`, `users`, ...) are kept
as the plain generator made them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

__all__ = ["DATA_PROFILES", "MAX_LEAVES", "MIN_LEAVES", "count_leaves", "enrich_data"]

DATA_PROFILES = ("plain", "rich")  # plain: events.py's own data; rich: this module's on top
MIN_LEAVES, MAX_LEAVES = 10, 40

_WORDS = ("alpha", "beta", "gamma", "delta", "eval", "train", "prod", "staging", "fr", "ja", "Zürich", "日本語")
_LICENSES = ("apache-2.0", "mit", "cc-by-4.0", "llama3.1", "other")
_FILES = ("config.json", "model.safetensors", "tokenizer.json", "README.md", "data/train-00000.parquet")
_PERMISSIONS = ("repo.content.read", "repo.write", "discussion.write", "inference.serverless.write")


def count_leaves(value: Any) -> int:
    """Scalars in `value`, lists and objects walked (an empty container counts as one)."""
    if isinstance(value, dict):
        return sum(count_leaves(item) for item in value.values()) or 1
    if isinstance(value, list):
        return sum(count_leaves(item) for item in value) or 1
    return 1


def _scalar(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randint(-(10**6), 10**12)
    if kind == 1:
        return round(rng.uniform(-1000, 1000), rng.randint(0, 6))
    if kind == 2:
        return rng.random() < 0.5
    if kind == 3:
        return None
    if kind == 4:
        return " ".join(rng.choices(_WORDS, k=rng.randint(3, 12)))  # a sentence, some non-ASCII
    return rng.choice(_WORDS)


def _settings_diff(rng: random.Random, budget: int) -> dict[str, Any]:
    """A whole settings object before and after a change, nested a few levels."""
    keys = [f"{rng.choice(_WORDS).lower()}{i}" for i in range(max(1, budget // 4))]

    def settings() -> dict[str, Any]:
        return {
            key: ({"enabled": rng.random() < 0.5, "value": _scalar(rng)} if rng.random() < 0.5 else _scalar(rng))
            for key in keys
        }

    return {"setting": "settings", "old": settings(), "new": settings()}


def _card(rng: random.Random, budget: int) -> dict[str, Any]:
    """A repository card's metadata: tags, a license, datasets, an eval results list of objects."""
    results = [
        {"task": {"type": rng.choice(("text-generation", "translation"))},
         "metrics": [{"name": rng.choice(("accuracy", "f1", "bleu")), "value": round(rng.random(), 4)}]}
        for _ in range(max(1, budget // 8))
    ]  # fmt: skip
    return {"cardData": {
        "license": rng.choice(_LICENSES),
        "tags": rng.sample(_WORDS, rng.randint(2, 6)),
        "datasets": [f"acme/{rng.choice(_WORDS)}" for _ in range(rng.randint(1, 3))],
        "model-index": [{"name": rng.choice(_WORDS), "results": results}],
    }}  # fmt: skip


def _files(rng: random.Random, budget: int) -> dict[str, Any]:
    """A list of objects, one a file: the siblings of a repository."""
    return {"siblings": [
        {"rfilename": rng.choice(_FILES), "size": rng.randint(1, 10**10), "lfs": {"sha256": f"{rng.getrandbits(256):064x}"}}
        for _ in range(max(1, budget // 3))
    ]}  # fmt: skip


def _collaborators(rng: random.Random, budget: int) -> dict[str, Any]:
    """Members with a role and a nested permission list: a resource group's or a token's grants."""
    return {"collaborators": [
        {"user": rng.choice(_WORDS).lower(), "role": rng.choice(("read", "write", "admin")),
         "grant": {"permissions": rng.sample(_PERMISSIONS, rng.randint(1, 3)), "expires": None}}
        for _ in range(max(1, budget // 4))
    ]}  # fmt: skip


def _deep(rng: random.Random, budget: int) -> dict[str, Any]:
    """One path several levels down, with a few scalars at each level."""
    node: dict[str, Any] = {}
    root = node
    for level in range(rng.randint(2, 5)):  # the deepest go past the normalizer's tag depth (flagged)
        for i in range(max(1, budget // 5)):
            node[f"k{level}_{i}"] = _scalar(rng)
        node = node.setdefault("next", {})
    node["end"] = True
    return {"config": root}


_SHAPES: tuple[Callable[[random.Random, int], dict[str, Any]], ...] = (_settings_diff, _card, _files, _collaborators, _deep)


def enrich_data(data: dict[str, Any] | None, rng: random.Random) -> dict[str, Any]:
    """`data` (kept as it is) with one or two of the shapes above added, so that it holds
    MIN_LEAVES to MAX_LEAVES leaves (at least its own, when those are more)."""
    rich: dict[str, Any] = dict(data or {})
    target = rng.randint(MIN_LEAVES, MAX_LEAVES)
    for shape in rng.sample(_SHAPES, 2):
        room = target - count_leaves(rich)
        if room < 4:
            break
        addition = shape(rng, room)
        if count_leaves(rich) + count_leaves(addition) > MAX_LEAVES:
            continue
        for key, value in addition.items():
            rich.setdefault(key, value)
    while count_leaves(rich) < MIN_LEAVES:  # a shape left out for size: top up with scalars
        rich[f"extra{len(rich)}"] = _scalar(rng)
    return rich
