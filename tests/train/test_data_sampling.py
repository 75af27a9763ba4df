"""Per-sample randomness, clip frame sampling and the training sampler."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.train.data.clip_sampling import sample_clip_frames
from instanceformer.train.data.randomness import VIDEO_STREAM, SampleRandom, stream_seed
from instanceformer.train.data.sampler import ClipSampler


def test_stream_seed_is_a_hash_of_its_parts() -> None:
    digest = hashlib.blake2b(b"42:3:17:1", digest_size=8).digest()
    assert stream_seed(42, 3, 17, 1) == int.from_bytes(digest, "little") & ((1 << 63) - 1)
    assert stream_seed(42, 3, 17, 1) != stream_seed(42, 3, 17, 2)


def test_sample_random_depends_only_on_its_key() -> None:
    def draws(*key: int) -> list[float]:
        random = SampleRandom(*key)
        return [random.uniform(0, 1), random.integer(0, 1000), *random.permutation(5)]

    assert draws(1, 2, 3, VIDEO_STREAM) == draws(1, 2, 3, VIDEO_STREAM)
    assert draws(1, 2, 3, VIDEO_STREAM) != draws(1, 2, 4, VIDEO_STREAM)
    assert draws(1, 2, 3, VIDEO_STREAM) != draws(1, 3, 3, VIDEO_STREAM)
    random = SampleRandom(0, 0, 0, 0)
    assert {random.integer(2, 4) for _ in range(200)} == {2, 3, 4}
    assert not any(random.chance(0.0) for _ in range(50)) and all(random.chance(1.0) for _ in range(50))
    assert sorted(random.sample_without_replacement(list("abcdef"), 6)) == list("abcdef")
    with pytest.raises(ValueError):
        random.sample_without_replacement([1, 2], 3)


def _take(pool: Counter, low: int, high: int) -> bool:
    """Remove one element of ``pool`` inside ``[low, high]``; False when there is none."""
    for value in sorted(pool):
        if low <= value <= high and pool[value] > 0:
            pool[value] -= 1
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(1, 30),
    anchor_fraction=st.floats(0, 1, exclude_max=True),
    num_frames=st.integers(1, 8),
    frame_range=st.integers(1, 4),
    seed=st.integers(0, 2**20),
)
def test_clip_frames_follow_the_published_recipe(
    length: int, anchor_fraction: float, num_frames: int, frame_range: int, seed: int
) -> None:
    anchor = int(anchor_fraction * length)
    frames = sample_clip_frames(
        length, anchor, num_frames, frame_range, SampleRandom(seed, 0, 0, VIDEO_STREAM)
    )
    assert len(frames) == num_frames
    assert frames == sorted(frames)
    assert all(0 <= frame < length for frame in frames)
    pool = Counter(frames)
    assert _take(pool, anchor, anchor)
    before = (max(0, anchor - frame_range), max(0, anchor - 1))
    after = (min(length - 1, anchor + 1), min(length - 1, anchor + frame_range))
    if num_frames == 2:
        assert _take(Counter(pool), *before) or _take(Counter(pool), *after)
    if num_frames >= 3:
        assert _take(pool, *before) and _take(pool, *after)
    if frame_range < anchor < length - 1 - frame_range and num_frames <= length:
        assert len(set(frames)) == num_frames  # no clamping, enough frames: all distinct


def test_neighbour_offsets_cover_the_range() -> None:
    before, after = set(), set()
    for seed in range(300):
        first, anchor, last = sample_clip_frames(20, 10, 3, 3, SampleRandom(seed, 0, 0, VIDEO_STREAM))
        assert anchor == 10
        before.add(anchor - first)
        after.add(last - anchor)
    assert before == after == {1, 2, 3}


def test_short_videos_repeat_frames() -> None:
    assert sample_clip_frames(1, 0, 4, 3, SampleRandom(0, 0, 0, 1)) == [0, 0, 0, 0]
    frames = sample_clip_frames(2, 0, 5, 3, SampleRandom(0, 0, 0, 1))
    assert len(frames) == 5 and set(frames) == {0, 1}
    with pytest.raises(ValueError):
        sample_clip_frames(3, 3, 2, 1, SampleRandom(0, 0, 0, 1))


@pytest.mark.parametrize("num_samples", [1, 7, 24])
def test_sampler_splits_one_permutation_over_processes(num_samples: int) -> None:
    single = ClipSampler(num_samples, seed=5)
    single.set_epoch(2)
    keys = list(single)
    assert sorted(index for _, index in keys) == list(range(num_samples))
    assert {epoch for epoch, _ in keys} == {2}
    shards = []
    for rank in range(3):
        sampler = ClipSampler(num_samples, seed=5, rank=rank, world_size=3)
        sampler.set_epoch(2)
        shards.append([index for _, index in sampler])
        assert len(shards[-1]) == len(sampler) == -(-num_samples // 3)
    interleaved = [shards[position % 3][position // 3] for position in range(3 * len(shards[0]))]
    padded = [index for _, index in keys] * 3
    assert interleaved == padded[: len(interleaved)]
    single.set_epoch(3)
    if num_samples > 3:
        assert [index for _, index in single] != [index for _, index in keys]
    ordered = ClipSampler(num_samples, seed=5, shuffle=False)
    assert [index for _, index in ordered] == list(range(num_samples))
    with pytest.raises(ValueError):
        ClipSampler(num_samples, seed=0, rank=3, world_size=3)
