"""The printed bytes do not change when the hot path does: both benchmark workloads, pinned.

The digests are those of the code before the hot path was reworked (commit 8af0bfd, with
tests/output_corpus.py run against it); see that module for how to take them again.
"""

from __future__ import annotations

import pytest

from output_corpus import CORPORA, corpus_digest, corpus_lines

PINNED = {
    "plain": "a390125113182e5708fa77623ecc186dde2691dade318e9fa6eca3489498cdf6",
    "rich": "c09c1630c27ad87fe78c94f515ed626cdeaec199a7577ff37b2e21524f1a31c0",
    "rich, 4096-byte lines": "450fc5a0fdfe68e468d22872686135dc25145a85e80f6c9e53246d6b0794514e",
}


@pytest.mark.parametrize(("name", "profile", "count", "bound"), CORPORA, ids=[c[0] for c in CORPORA])
def test_each_workload_prints_the_same_bytes_as_before_the_rework(name: str, profile: str, count: int, bound: int) -> None:
    assert corpus_digest(profile, count, bound) == PINNED[name]


def test_the_small_bound_corpus_goes_through_the_cutting_path() -> None:
    lines = list(corpus_lines("rich", 1500, 4096))
    assert max(map(len, lines)) == 4096  # some records were cut to the bound exactly
    assert sum(b'"truncatedFields":"' in line and b'"truncatedFields":""' not in line for line in lines) > 100
