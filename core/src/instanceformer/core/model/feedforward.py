"""Small building blocks shared by the encoder, the decoder and the heads."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class FeedForward(nn.Module):
    """Linear -> activation -> dropout -> linear, the transformer's position-wise feed-forward block."""

    def __init__(self, d_model: int, dim_feedforward: int, dropout: float, activation: str):
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[..., d_model]`` -> ``[..., d_model]``."""
        return self.linear2(self.dropout(self.activation(self.linear1(tokens))))


class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU between them (none after the last)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        sizes = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[..., input_dim]`` -> ``[..., output_dim]``."""
        for index, layer in enumerate(self.layers):
            tokens = layer(tokens)
            if index < len(self.layers) - 1:
                tokens = F.relu(tokens)
        return tokens


def inverse_sigmoid(probabilities: torch.Tensor, epsilon: float = 1e-5) -> torch.Tensor:
    """The logit of values in [0, 1], clamped away from 0 and 1 by ``epsilon``; same shape."""
    probabilities = probabilities.clamp(0.0, 1.0)
    return torch.log(probabilities.clamp(min=epsilon) / (1.0 - probabilities).clamp(min=epsilon))
