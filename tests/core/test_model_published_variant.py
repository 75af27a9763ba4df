"""The pieces of ``model.variant: published`` on the tiny model: reference chain, memory positions, raw
class layout and the decoder's content-only deformable attention (the whole forward pass is checked
against the published code in ``test_published_golden.py``)."""

from __future__ import annotations

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.model import build_model
from instanceformer.core.model.decoder import DeformableDecoderLayer
from instanceformer.core.model.mask_head import PixelCoordinates, aligned_bilinear
from instanceformer.core.model.position_encoding import queue_slot_encoding
from instanceformer.core.model.temporal.memory import QueueSlotPositions
from instanceformer.core.model.temporal.propagation import PublishedReferenceChain

PUBLISHED = [
    "model.variant=published",
    "model.published.class_logits=8",
    "model.transformer.num_query_groups=1",
]


def _tiny_published(*overrides: str):
    torch.manual_seed(0)
    return build_model(load_config("tiny-cpu", [*PUBLISHED, *overrides]).model).eval()


@pytest.mark.parametrize("update", ["multiplicative", "additive"])
def test_reference_points_chain_the_previous_initial_ones(update: str) -> None:
    model = _tiny_published(f"model.published.reference_update={update}")
    assert model.propagation.location == PublishedReferenceChain(additive=update == "additive")
    position, _ = model.learned_queries(1)
    learned = model.reference_points(position).sigmoid()  # [1, Q, 2]
    expected = learned
    state = model.init_state(1)
    with torch.no_grad():
        for _ in range(3):
            outputs, state = model.step(torch.randn(1, 3, 64, 96), state, collect_analysis=True)
            assert outputs.analysis is not None
            first_layer = outputs.analysis.reference_points[:, :, 0]  # [1, Q, 2]
            torch.testing.assert_close(first_layer, expected)
            torch.testing.assert_close(state.reference_points, expected)
            combined = expected + learned if update == "additive" else expected * learned
            expected = combined.sigmoid()


def test_memory_positions_encode_the_place_in_the_queue() -> None:
    model = _tiny_published()
    assert model.memory is not None and model.memory.frame_positions == QueueSlotPositions()
    top_k, frames_kept = model.config.temporal.memory_top_k, model.config.temporal.memory_frames
    position, _ = model.learned_queries(1)
    encoding = queue_slot_encoding(frames_kept, model.config.transformer.d_model // 2)  # [F, D]
    state = model.init_state(1)
    with torch.no_grad():
        for frame in range(5):
            _, state = model.step(torch.randn(1, 3, 64, 96), state)
            readout = model.memory.read(state, position)
            assert readout is not None
            filled = min(frame + 1, frames_kept)
            for slot in range(state.num_slots):
                if not state.memory_valid[0, slot]:
                    continue
                age = state.frame_index - int(state.memory_frame_indices[0, slot])  # 1 = previous frame
                query = state.memory_query_indices[0, slot]
                torch.testing.assert_close(
                    readout.positions[0, slot], position[0, query] + encoding[filled - age]
                )
    assert int(state.memory_valid.sum()) == frames_kept * top_k


def test_queue_slot_encoding_is_the_normalised_sine_of_the_slot() -> None:
    encoding = queue_slot_encoding(3, 4)
    assert encoding.shape == (3, 8)
    rows = (torch.arange(3) + 0.5) / (3 + 1e-6) * 2 * torch.pi
    torch.testing.assert_close(encoding[:, 0], rows.sin())
    torch.testing.assert_close(encoding[:, 1], rows.cos())
    torch.testing.assert_close(encoding[:, 4], torch.full((3,), 0.5 / (1 + 1e-6) * 2 * torch.pi).sin())


def test_outputs_are_the_dataset_logits_of_the_raw_id_heads() -> None:
    model = _tiny_published()
    num_classes = model.config.num_classes
    assert model.class_heads[0].out_features == 8
    assert model.dynamic_mask_head.coordinates == PixelCoordinates()
    assert model.dynamic_mask_head.upsampling is aligned_bilinear
    state = model.init_state(1)
    with torch.no_grad():
        outputs, state = model.step(torch.randn(1, 3, 64, 96), state)
    raw = model.class_heads[-1](outputs.decoder_embeddings)  # [1, Q, 8]
    torch.testing.assert_close(outputs.logits, raw[..., 1 : num_classes + 1])
    # the memory selection and the state read every logit, as the published model does
    torch.testing.assert_close(state.class_probabilities, raw.sigmoid())
    scores = raw.sigmoid().max(dim=-1).values
    assert torch.equal(outputs.memory_queries, scores.topk(model.config.temporal.memory_top_k).indices)


def test_published_decoder_queries_its_deformable_attention_with_the_content_only(monkeypatch) -> None:
    model = _tiny_published()
    layer = model.decoder.layers[0]
    assert isinstance(layer, DeformableDecoderLayer) and not layer.position_in_cross_attention
    queries = []
    forward = layer.cross_attention.forward

    def recording_forward(query, *args, **kwargs):
        queries.append(query)
        return forward(query, *args, **kwargs)

    monkeypatch.setattr(layer.cross_attention, "forward", recording_forward)
    self_attention = layer.self_attention_norm.forward
    contents = []

    def recording_norm(values):
        contents.append(self_attention(values))
        return contents[-1]

    monkeypatch.setattr(layer.self_attention_norm, "forward", recording_norm)
    with torch.no_grad():
        model.step(torch.randn(1, 3, 64, 96), model.init_state(1))
    torch.testing.assert_close(queries[0], contents[0], rtol=0, atol=0)
