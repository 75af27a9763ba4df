"""Which frames of a video make a training clip, as the published recipe samples them.

A clip is built around an anchor frame: one frame 1..``frame_range`` before it and one
1..``frame_range`` after it, both clamped to the video (so a clip near either end may repeat a frame),
then random frames from the rest of the video while more are needed. The result is sorted.
"""

from __future__ import annotations

from instanceformer.train.data.randomness import SampleRandom


def sample_clip_frames(
    video_length: int, anchor: int, num_frames: int, frame_range: int, random: SampleRandom
) -> list[int]:
    """The sorted frame indices of one clip of ``num_frames`` frames.

    Args:
        video_length: number of frames of the video (>= 1).
        anchor: the anchor frame, in ``[0, video_length)``; always part of the clip.
        num_frames: clip length (>= 1). With 2 the clip takes the anchor and one neighbour (before or
            after, at random); from 3 on both neighbours, then global frames.
        frame_range: the largest distance of a neighbour to the anchor (>= 1).
        random: the sample's random stream.

    Returns:
        ``num_frames`` indices in ``[0, video_length)``, non-decreasing. Global frames are drawn without
        replacement from the frames not yet in the clip, or with replacement from the whole video when
        the video is too short.
    """
    if video_length < 1 or not 0 <= anchor < video_length:
        raise ValueError(f"expected 0 <= anchor < video_length, got anchor {anchor}, length {video_length}")
    if num_frames < 1 or frame_range < 1:
        raise ValueError(f"expected num_frames >= 1 and frame_range >= 1, got {num_frames}, {frame_range}")
    frames = [anchor]
    if num_frames >= 2:
        before = max(0, anchor - random.integer(1, frame_range))
        after = min(video_length - 1, anchor + random.integer(1, frame_range))
        if num_frames == 2:
            frames.append(random.choice((before, after)))
        else:
            frames.extend((before, after))
    missing = num_frames - len(frames)
    if missing > 0:
        unused = [frame for frame in range(video_length) if frame not in frames]
        if len(unused) >= missing:
            frames.extend(random.sample_without_replacement(unused, missing))
        else:
            frames.extend(unused)
            frames.extend(random.integer(0, video_length - 1) for _ in range(missing - len(unused)))
    return sorted(frames)
