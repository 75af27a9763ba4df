"""The typed configuration of the toolkit.

Every field has the published InstanceFormer R50 value for YouTube-VIS as its default (the paper and
the published code's configs), except the backbone's frozen stem, first stage and BatchNorm: those only
make sense with pretrained weights, which a user must provide (``model.backbone.weights``), so the R50
presets set them. Presets (``presets/*.yaml``) list only what differs. All dataclasses are
frozen: a configuration is resolved once (preset + overrides) and then passed around read-only.
``__post_init__`` checks the constraints that involve a single section;
:func:`instanceformer.core.config.load_config` adds the cross-section checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from instanceformer.core.errors import ConfigError

CONFIG_SCHEMA_VERSION = 1

BackboneName = Literal[
    "resnet10",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "swin_l",
]
DatasetName = Literal["ytvis19", "ytvis21", "ytvis22", "ovis", "coco", "synth"]
BASIC_BLOCK_RESNETS = ("resnet10", "resnet18", "resnet34")
Activation = Literal["relu", "gelu"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
ModelVariant = Literal["toolkit", "published"]
ReferenceUpdate = Literal["multiplicative", "additive"]
LearningRateSchedule = Literal["step", "cosine"]


def _require(condition: bool, key: str, expected: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` when ``condition`` is false."""
    if not condition:
        raise ConfigError(f"config key '{key}': expected {expected}")


@dataclass(frozen=True)
class BackboneConfig:
    """The image backbone.

    ``return_strides`` are the feature strides taken from the backbone; one extra level (stride 2x the
    last) is added by a 3x3 stride-2 convolution when ``model.transformer.num_feature_levels`` asks for it.
    ``weights`` is a local file of pretrained backbone weights in torchvision's layout (for ResNet-50,
    torchvision's ImageNet file ``resnet50-0676ba61.pth`` or ``resnet50-11ad3fa6.pth``).
    ``frozen_batchnorm`` true uses BatchNorm with fixed statistics and affine parameters, false trains
    ordinary BatchNorm; ``group_norm`` replaces it by GroupNorm (for training from scratch with small
    batches). ``frozen_stages`` freezes the stem and the first k stages. Frozen stages and frozen
    BatchNorm keep the values they start with, so both require ``weights`` (the published R50 recipe
    freezes the stem, the first stage and every BatchNorm of an ImageNet ResNet-50).
    ``stage_width`` is the channel count of the first stage of a basic-block ResNet (``resnet10/18/34``;
    torchvision's is 64, and each later stage doubles it): a narrower network for CPU training.
    ``resnet10`` is the basic-block ResNet with one block per stage.
    """

    name: BackboneName = "resnet50"
    weights: str | None = None
    stage_width: int = 64
    frozen_batchnorm: bool = False
    group_norm: bool = False
    frozen_stages: int = 0
    return_strides: tuple[int, ...] = (8, 16, 32)

    def __post_init__(self) -> None:
        _require(0 <= self.frozen_stages <= 4, "model.backbone.frozen_stages", "an integer in [0, 4]")
        _require(
            self.stage_width == 64 or (self.name in BASIC_BLOCK_RESNETS and 8 <= self.stage_width <= 256),
            "model.backbone.stage_width",
            f"64 for {self.name}; an integer in [8, 256] for {', '.join(BASIC_BLOCK_RESNETS)}",
        )
        _require(
            not (self.group_norm and self.frozen_batchnorm),
            "model.backbone.group_norm",
            "false while model.backbone.frozen_batchnorm is true (choose one normalisation)",
        )
        frozen = [f"model.backbone.frozen_stages is {self.frozen_stages}"] if self.frozen_stages > 0 else []
        frozen += ["model.backbone.frozen_batchnorm is true"] if self.frozen_batchnorm else []
        _require(
            self.weights is not None or not frozen,
            "model.backbone.weights",
            "a file of pretrained backbone weights (e.g. torchvision's resnet50-0676ba61.pth) while "
            f"{' and '.join(frozen)}, since frozen layers keep their initial values (or frozen_stages=0 "
            "and frozen_batchnorm=false to train the backbone from scratch)",
        )
        _require(
            len(self.return_strides) > 0 and all(s in (4, 8, 16, 32) for s in self.return_strides),
            "model.backbone.return_strides",
            "a non-empty list of strides from {4, 8, 16, 32}",
        )
        _require(
            list(self.return_strides) == sorted(set(self.return_strides)),
            "model.backbone.return_strides",
            "strictly increasing strides",
        )


@dataclass(frozen=True)
class TransformerConfig:
    """The deformable encoder-decoder (Deformable DETR with iterative box refinement).

    ``num_query_groups`` > 1 trains with that many independent sets of ``num_queries`` queries (one-to-many
    supervision as in Group DETR): the groups share the backbone, encoder and heads, decode and track
    separately, and each is matched to the ground truth on its own. Evaluation and inference use the
    first group only, so the extra groups cost nothing after training.
    """

    d_model: int = 256
    num_heads: int = 8
    num_feature_levels: int = 4
    num_encoder_points: int = 4
    num_decoder_points: int = 4
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    dim_feedforward: int = 1024
    dropout: float = 0.1
    activation: Activation = "relu"
    num_queries: int = 300
    num_query_groups: int = 1

    def __post_init__(self) -> None:
        prefix = "model.transformer"
        _require(self.d_model > 0, f"{prefix}.d_model", "a positive integer")
        _require(self.num_heads > 0, f"{prefix}.num_heads", "a positive integer")
        _require(
            self.d_model % self.num_heads == 0,
            f"{prefix}.num_heads",
            f"a divisor of d_model ({self.d_model})",
        )
        _require(1 <= self.num_feature_levels <= 5, f"{prefix}.num_feature_levels", "an integer in [1, 5]")
        for key in ("num_encoder_points", "num_decoder_points", "num_decoder_layers", "dim_feedforward"):
            _require(getattr(self, key) > 0, f"{prefix}.{key}", "a positive integer")
        _require(self.num_encoder_layers >= 0, f"{prefix}.num_encoder_layers", "a non-negative integer")
        _require(self.num_queries > 0, f"{prefix}.num_queries", "a positive integer")
        _require(self.num_query_groups >= 1, f"{prefix}.num_query_groups", "an integer >= 1")
        _require(0.0 <= self.dropout < 1.0, f"{prefix}.dropout", "a probability in [0, 1)")


@dataclass(frozen=True)
class MaskHeadConfig:
    """The dynamic-convolution mask head (CondInst style).

    The controller emits the weights of ``num_dynamic_layers`` 1x1 convolutions over
    ``dynamic_channels`` mask-branch channels plus 2 relative-coordinate channels:
    (8+2)*8+8 + 8*8+8 + 8*1+1 = 169 parameters with the defaults. The 2 coordinate inputs are the offset
    from the instance's centre in units of the image size, times ``coordinate_scale`` (in input pixels,
    without the scale, with ``model.variant: published``).
    """

    dynamic_channels: int = 8
    num_dynamic_layers: int = 3
    mask_stride: int = 4
    branch_channels: int = 256
    coordinate_scale: float = 1.0

    def __post_init__(self) -> None:
        _require(self.dynamic_channels > 0, "model.mask_head.dynamic_channels", "a positive integer")
        _require(self.num_dynamic_layers >= 1, "model.mask_head.num_dynamic_layers", "an integer >= 1")
        _require(self.mask_stride in (4, 8), "model.mask_head.mask_stride", "4 or 8")
        _require(self.branch_channels > 0, "model.mask_head.branch_channels", "a positive integer")
        _require(self.coordinate_scale > 0, "model.mask_head.coordinate_scale", "a positive number")

    @property
    def num_dynamic_parameters(self) -> int:
        """The number of weights and biases the controller emits per instance: layers (C+2)->C, C->C, ...,
        C->1 (a single layer is (C+2)->1)."""
        channels = self.dynamic_channels
        inputs = [channels + 2] + [channels] * (self.num_dynamic_layers - 1)
        outputs = [channels] * (self.num_dynamic_layers - 1) + [1]
        return sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(inputs, outputs, strict=True))


@dataclass(frozen=True)
class TemporalConfig:
    """The temporal parts: prior propagation, instance memory and the contrastive embedding."""

    propagate_embeddings: bool = True
    propagate_boxes: bool = True
    propagate_classes: bool = True
    memory: bool = True
    memory_top_k: int = 10
    memory_frames: int = 3
    memory_heads: int = 8
    embedding_dim: int = 256
    contrastive: bool = True

    def __post_init__(self) -> None:
        _require(self.memory_top_k > 0, "model.temporal.memory_top_k", "a positive integer")
        _require(self.memory_frames > 0, "model.temporal.memory_frames", "a positive integer")
        _require(self.memory_heads > 0, "model.temporal.memory_heads", "a positive integer")
        _require(self.embedding_dim > 0, "model.temporal.embedding_dim", "a positive integer")


@dataclass(frozen=True)
class PublishedConfig:
    """Settings that only ``model.variant: published`` reads (docs/deviations.md lists the differences).

    ``reference_update`` is how the first decoder layer's reference points of frame ``t`` follow from
    those of frame ``t - 1`` when ``model.temporal.propagate_boxes`` is on: ``multiplicative``
    ``sigmoid(r_{t-1} * sigmoid(W pos))`` (the published default) or ``additive``
    ``sigmoid(r_{t-1} + sigmoid(W pos))`` (the published ``--propagate_ref_additive``, which the
    official OVIS evaluation script passes). ``class_logits`` is the number of class-head outputs in the
    published raw-id layout, where logit ``i`` scores dataset category id ``i`` (42 for YouTube-VIS, 27
    for OVIS); class ``k`` of the ``num_classes`` contiguous classes is logit ``k + 1``.
    """

    reference_update: ReferenceUpdate = "multiplicative"
    class_logits: int = 42


@dataclass(frozen=True)
class ModelConfig:
    """The whole model: backbone, transformer, heads and temporal parts.

    ``variant`` ``toolkit`` is the model of the paper as this toolkit implements it; ``published``
    reproduces the forward pass of the published code (for converted published checkpoints: query
    position left out of the decoder's deformable attention, the published reference-point and memory
    position rules, pixel coordinates and aligned upsampling in the mask head, the raw-id class layout of
    ``published``).
    """

    num_classes: int = 40
    variant: ModelVariant = "toolkit"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    mask_head: MaskHeadConfig = field(default_factory=MaskHeadConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    published: PublishedConfig = field(default_factory=PublishedConfig)

    def __post_init__(self) -> None:
        _require(self.num_classes > 0, "model.num_classes", "a positive integer")
        _require(
            self.variant == "toolkit" or self.published.class_logits > self.num_classes,
            "model.published.class_logits",
            f"more than model.num_classes ({self.num_classes}): class k is logit k + 1",
        )
        _require(
            self.temporal.memory_top_k <= self.transformer.num_queries,
            "model.temporal.memory_top_k",
            f"at most model.transformer.num_queries ({self.transformer.num_queries})",
        )
        _require(
            self.transformer.d_model % self.temporal.memory_heads == 0,
            "model.temporal.memory_heads",
            f"a divisor of model.transformer.d_model ({self.transformer.d_model})",
        )
        _require(
            self.transformer.num_feature_levels <= len(self.backbone.return_strides) + 1,
            "model.transformer.num_feature_levels",
            f"at most len(model.backbone.return_strides) + 1 ({len(self.backbone.return_strides) + 1})",
        )
        _require(
            self.transformer.num_feature_levels >= len(self.backbone.return_strides),
            "model.transformer.num_feature_levels",
            f"at least len(model.backbone.return_strides) ({len(self.backbone.return_strides)}): the mask "
            "branch fuses every backbone level of the encoder memory",
        )
        finest_stride = min(self.backbone.return_strides)
        _require(
            finest_stride % self.mask_head.mask_stride == 0,
            "model.mask_head.mask_stride",
            f"a divisor of the finest backbone stride ({finest_stride})",
        )


@dataclass(frozen=True)
class LossConfig:
    """Loss weights, matcher costs and focal-loss parameters."""

    class_weight: float = 2.0
    box_l1_weight: float = 5.0
    box_giou_weight: float = 2.0
    mask_focal_weight: float = 2.0
    mask_dice_weight: float = 5.0
    contrastive_weight: float = 2.0
    contrastive_temperature: float = 0.07
    match_class_cost: float = 2.0
    match_box_l1_cost: float = 5.0
    match_box_giou_cost: float = 2.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    auxiliary: bool = True

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if isinstance(value, float):
                _require(value >= 0.0, f"loss.{key}", "a non-negative number")
        _require(self.contrastive_temperature > 0.0, "loss.contrastive_temperature", "a positive number")
        _require(0.0 <= self.focal_alpha <= 1.0, "loss.focal_alpha", "a number in [0, 1]")


@dataclass(frozen=True)
class DataConfig:
    """The training data: which dataset, clip sampling and augmentation.

    Paths left empty resolve against ``root`` with the layout documented in the README.
    """

    dataset: DatasetName = "ytvis21"
    root: str | None = None
    train_annotations: str | None = None
    train_frames: str | None = None
    val_annotations: str | None = None
    val_frames: str | None = None
    num_frames: int = 4
    frame_range: int = 3
    train_min_sizes: tuple[int, ...] = (288, 320, 352, 392, 416, 448, 480, 512)
    train_max_size: int = 768
    crop_probability: float = 0.5
    crop_resize_sizes: tuple[int, ...] = (400, 500, 600)
    crop_min_max: tuple[int, int] = (384, 600)
    flip_probability: float = 0.5
    photometric: bool = True
    size_divisibility: int = 32
    coco_joint: bool = False
    coco_annotations: str | None = None
    coco_frames: str | None = None
    coco_ratio: float = 0.5
    coco_max_instances: int = 25
    num_workers: int = 4

    def __post_init__(self) -> None:
        _require(self.num_frames >= 1, "data.num_frames", "an integer >= 1")
        _require(self.frame_range >= 1, "data.frame_range", "an integer >= 1")
        _require(
            len(self.train_min_sizes) > 0 and all(s > 0 for s in self.train_min_sizes),
            "data.train_min_sizes",
            "a non-empty list of positive sizes",
        )
        _require(
            self.train_max_size >= max(self.train_min_sizes),
            "data.train_max_size",
            f"at least max(data.train_min_sizes) ({max(self.train_min_sizes)})",
        )
        _require(
            self.crop_min_max[0] <= self.crop_min_max[1], "data.crop_min_max", "[min, max] with min <= max"
        )
        for key in ("crop_probability", "flip_probability", "coco_ratio"):
            _require(0.0 <= getattr(self, key) <= 1.0, f"data.{key}", "a probability in [0, 1]")
        _require(self.size_divisibility >= 1, "data.size_divisibility", "a positive integer")
        _require(self.coco_max_instances >= 1, "data.coco_max_instances", "a positive integer")
        _require(self.num_workers >= 0, "data.num_workers", "a non-negative integer")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule, checkpointing and logging.

    ``batch_size`` is per process; ``total_batch_size`` = batch_size x processes x accumulation steps.
    ``lr_schedule`` "step" drops the learning rate by ``lr_drop_factor`` at the optimiser steps
    ``lr_drop_steps`` when set, else at ``lr_drop_epochs`` x (optimiser steps per epoch); "cosine" decays
    it along half a cosine to 0 at the last step. ``warmup_steps`` ramps it up linearly first.
    ``max_steps`` (optimiser steps) overrides ``epochs`` when set. ``precision`` "auto" is bf16 autocast
    on CUDA and fp32 on CPU. ``device`` "auto" picks CUDA when available. ``compile`` runs the training
    forward through ``torch.compile`` (falling back to eager, with a note, when compiling fails).
    """

    lr: float = 1e-4
    lr_backbone: float = 1e-5
    lr_linear_projection_scale: float = 0.1
    weight_decay: float = 1e-4
    clip_max_norm: float = 0.1
    epochs: int = 16
    lr_drop_epochs: tuple[int, ...] = (4, 10)
    lr_drop_factor: float = 0.1
    lr_drop_steps: tuple[int, ...] | None = None
    lr_schedule: LearningRateSchedule = "step"
    warmup_steps: int = 0
    max_steps: int | None = None
    batch_size: int = 4
    total_batch_size: int = 16
    seed: int = 42
    precision: Precision = "auto"
    device: str = "auto"
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 20
    validate_every: int | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        for key in ("lr", "lr_backbone", "lr_linear_projection_scale", "weight_decay", "lr_drop_factor"):
            _require(getattr(self, key) >= 0.0, f"train.{key}", "a non-negative number")
        _require(self.clip_max_norm >= 0.0, "train.clip_max_norm", "a non-negative number (0 disables)")
        _require(self.epochs >= 1, "train.epochs", "an integer >= 1")
        _require(self.warmup_steps >= 0, "train.warmup_steps", "a non-negative integer")
        _require(self.max_steps is None or self.max_steps >= 1, "train.max_steps", "null or an integer >= 1")
        _require(self.batch_size >= 1, "train.batch_size", "an integer >= 1")
        _require(
            self.total_batch_size >= self.batch_size,
            "train.total_batch_size",
            f"at least train.batch_size ({self.batch_size})",
        )
        _require(self.checkpoint_every >= 1, "train.checkpoint_every", "an integer >= 1")
        _require(self.keep_checkpoints >= 1, "train.keep_checkpoints", "an integer >= 1")
        _require(self.log_every >= 1, "train.log_every", "an integer >= 1")
        _require(
            self.validate_every is None or self.validate_every >= 1,
            "train.validate_every",
            "null or an integer >= 1",
        )
        _require(
            list(self.lr_drop_epochs) == sorted(self.lr_drop_epochs),
            "train.lr_drop_epochs",
            "increasing epochs",
        )
        _require(
            self.lr_drop_steps is None
            or (
                list(self.lr_drop_steps) == sorted(self.lr_drop_steps)
                and min(self.lr_drop_steps, default=1) >= 1
            ),
            "train.lr_drop_steps",
            "null or increasing optimiser steps >= 1",
        )
        _require(
            self.device in ("auto", "cpu") or self.device.startswith("cuda"),
            "train.device",
            "'auto', 'cpu' or 'cuda'",
        )


@dataclass(frozen=True)
class InferConfig:
    """Online inference: input resizing, track selection and mask output."""

    min_size: int = 360
    max_size: int = 1333
    mask_threshold: float = 0.5
    max_tracks: int = 10
    score_threshold: float = 0.0
    memory_frames: int = 3
    device: str = "auto"

    def __post_init__(self) -> None:
        _require(self.min_size > 0, "infer.min_size", "a positive integer")
        _require(
            self.max_size >= self.min_size, "infer.max_size", f"at least infer.min_size ({self.min_size})"
        )
        _require(0.0 < self.mask_threshold < 1.0, "infer.mask_threshold", "a number in (0, 1)")
        _require(self.max_tracks >= 1, "infer.max_tracks", "an integer >= 1")
        _require(0.0 <= self.score_threshold <= 1.0, "infer.score_threshold", "a number in [0, 1]")
        _require(self.memory_frames >= 1, "infer.memory_frames", "an integer >= 1")
        _require(
            self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
            "infer.device",
            "'auto', 'cpu' or 'cuda[:index]'",
        )


@dataclass(frozen=True)
class Config:
    """A complete, resolved configuration: what a run folder's ``config.yaml`` holds."""

    schema_version: int = CONFIG_SCHEMA_VERSION
    preset: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    infer: InferConfig = field(default_factory=InferConfig)

    def __post_init__(self) -> None:
        _require(
            self.schema_version == CONFIG_SCHEMA_VERSION,
            "schema_version",
            f"{CONFIG_SCHEMA_VERSION} (this toolkit's configuration schema)",
        )
        _require(
            self.train.total_batch_size % self.train.batch_size == 0,
            "train.total_batch_size",
            f"a multiple of train.batch_size ({self.train.batch_size})",
        )
