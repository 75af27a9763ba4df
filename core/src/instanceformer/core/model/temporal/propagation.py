"""Prior propagation of InstanceFormer (Koner et al., AAAI 2023, arXiv 2208.10547, method: "prior
propagation"): the queries of a frame start from the instances the previous frame found.

Three priors pass from frame ``t - 1`` to frame ``t``, each switchable in ``model.temporal``:

- representation (``propagate_embeddings``): the previous frame's final decoder embeddings replace the
  learned initial query content;
- location (``propagate_boxes``): the first decoder layer's reference points follow from the previous
  frame, instead of being the learned projection of the query position alone. :class:`PreviousBoxCentres`
  (the toolkit) takes the centres of the previous frame's final refined boxes;
  :class:`PublishedReferenceChain` (``model.variant: published``) combines the previous frame's initial
  reference points with the learned ones, as the published code does;
- class distribution (``propagate_classes``): the previous frame's class probabilities, projected by
  :class:`ClassPrior`, are added to the query content.

At the first frame of a video nothing is propagated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from instanceformer.core.model.temporal.state import TrackingState


class ClassPrior(nn.Linear):
    """The class-distribution prior: ``[batch_size, num_queries, num_classes]`` sigmoid class
    probabilities of the previous frame -> ``[batch_size, num_queries, d_model]`` added to the content.

    It is zero-initialised, so a new model starts without it and learns how much to use it.
    """

    def __init__(self, num_classes: int, d_model: int):
        super().__init__(num_classes, d_model)

    def reset_parameters(self) -> None:
        """Zero weight and bias, after drawing ``nn.Linear``'s initialisation so that the modules created
        after this one receive the same random numbers whether or not the model has a class prior."""
        super().reset_parameters()
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class LocationPrior(Protocol):
    """Where the first decoder layer's reference points of the frame after ``state`` come from."""

    def initial_reference(
        self, state: TrackingState, position: torch.Tensor, reference_points: nn.Linear
    ) -> torch.Tensor:
        """``[batch_size, num_queries, 2]`` (x, y) normalised to the unpadded image, from the previous
        frame's ``state`` and the learned ``reference_points`` projection of ``position``
        ``[batch_size, num_queries, d_model]``."""
        ...


@dataclass(frozen=True)
class LearnedReferencePoints:
    """No location prior: every frame starts from ``sigmoid(W pos)``, the learned reference points."""

    def initial_reference(
        self, state: TrackingState, position: torch.Tensor, reference_points: nn.Linear
    ) -> torch.Tensor:
        """See :class:`LocationPrior`."""
        return reference_points(position).sigmoid()


@dataclass(frozen=True)
class PreviousBoxCentres:
    """The toolkit's location prior: the centres of the previous frame's final refined boxes (learned
    reference points at the first frame)."""

    def initial_reference(
        self, state: TrackingState, position: torch.Tensor, reference_points: nn.Linear
    ) -> torch.Tensor:
        """See :class:`LocationPrior`."""
        if state.frame_index > 0:
            return state.boxes[..., :2]
        return reference_points(position).sigmoid()


@dataclass(frozen=True)
class PublishedReferenceChain:
    """The published location prior: ``r_t = sigmoid(r_{t-1} * sigmoid(W pos))``, or with ``additive``
    ``sigmoid(r_{t-1} + sigmoid(W pos))``, where ``r_{t-1}`` are the previous frame's *initial* reference
    points (``r_0 = sigmoid(W pos)``). The chain never sees the image, so it is the same for every video.
    """

    additive: bool

    def initial_reference(
        self, state: TrackingState, position: torch.Tensor, reference_points: nn.Linear
    ) -> torch.Tensor:
        """See :class:`LocationPrior`."""
        learned = reference_points(position).sigmoid()  # [B, Q, 2]
        if state.frame_index == 0:
            return learned
        previous = state.reference_points
        combined = previous + learned if self.additive else previous * learned
        return combined.sigmoid()


@dataclass(frozen=True)
class PriorPropagation:
    """Which priors of the previous frame start the queries of the next one.

    Attributes:
        representation: the previous final decoder embeddings are the initial query content.
        location: where the first decoder layer's reference points come from.
    """

    representation: bool
    location: LocationPrior

    def initial_queries(
        self,
        state: TrackingState,
        position: torch.Tensor,
        learned_content: torch.Tensor,
        reference_points: nn.Linear,
        class_prior: ClassPrior | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's initial query content and reference points for the frame after ``state``.

        Args:
            state: the previous frame's priors (``frame_index`` 0: none yet).
            position: ``[batch_size, num_queries, d_model]`` learned query position embeddings.
            learned_content: ``[batch_size, num_queries, d_model]`` learned initial query content.
            reference_points: projects a query position to the logits of its learned reference point.
            class_prior: the class-distribution prior, or None when it is switched off.

        Returns:
            Content ``[batch_size, num_queries, d_model]`` and reference points
            ``[batch_size, num_queries, 2]`` (x, y) normalised to the unpadded image. The first decoder
            layer always starts from points, so its box head always predicts absolute sizes.
        """
        has_previous = state.frame_index > 0
        content = state.embeddings if self.representation and has_previous else learned_content
        if class_prior is not None and has_previous:
            content = content + class_prior(state.class_probabilities)
        return content, self.location.initial_reference(state, position, reference_points)
