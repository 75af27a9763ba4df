"""Tests of the typed configuration: presets, overrides, validation and the YAML round trip."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.config import (
    Config,
    config_from_dict,
    config_hash,
    config_to_dict,
    dump_config,
    list_presets,
    load_config,
)
from instanceformer.core.errors import ConfigError

REQUIRED_PRESETS = {"r50-coco-pretrain", "r50-ytvis19", "r50-ytvis21", "r50-ovis", "tiny-cpu"}
R50_PRESETS = sorted(preset for preset in REQUIRED_PRESETS if preset.startswith("r50-"))
# the R50 presets freeze a pretrained backbone and name no weights file: the user passes one
R50_WEIGHTS = "model.backbone.weights=/weights/resnet50-0676ba61.pth"


def _preset_overrides(preset: str) -> list[str]:
    return [R50_WEIGHTS] if preset in R50_PRESETS else []


def test_required_presets_are_shipped() -> None:
    assert set(list_presets()) >= REQUIRED_PRESETS


@pytest.mark.parametrize("preset", sorted(REQUIRED_PRESETS))
def test_every_preset_round_trips_through_yaml(preset: str, tmp_path) -> None:
    config = load_config(preset, _preset_overrides(preset))
    assert config.preset == preset
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    reloaded = load_config(path)
    assert reloaded == config
    assert config_hash(reloaded) == config_hash(config)
    assert dump_config(reloaded) == path.read_text()


def test_published_values_are_the_defaults() -> None:
    config = load_config("r50-ytvis21", [R50_WEIGHTS])
    transformer = config.model.transformer
    assert (transformer.d_model, transformer.num_heads, transformer.num_feature_levels) == (256, 8, 4)
    assert (transformer.num_encoder_layers, transformer.num_decoder_layers) == (6, 6)
    assert (transformer.dim_feedforward, transformer.num_queries) == (1024, 300)
    assert config.model.mask_head.num_dynamic_parameters == 169
    assert (config.loss.class_weight, config.loss.box_l1_weight, config.loss.box_giou_weight) == (2, 5, 2)
    assert (config.loss.mask_focal_weight, config.loss.mask_dice_weight) == (2, 5)
    assert config.loss.contrastive_temperature == pytest.approx(0.07)
    assert (config.train.lr, config.train.lr_backbone, config.train.weight_decay) == (1e-4, 1e-5, 1e-4)
    assert config.train.lr_drop_epochs == (4, 10)
    assert config.train.epochs == 16
    assert config.data.num_frames == 4
    assert config.infer.min_size == 360
    backbone = config.model.backbone
    assert (backbone.name, backbone.frozen_batchnorm, backbone.frozen_stages) == ("resnet50", True, 1)


def test_ovis_preset_differs_where_the_recipe_does() -> None:
    config = load_config("r50-ovis", [R50_WEIGHTS])
    assert config.model.num_classes == 25
    assert config.data.dataset == "ovis"
    assert config.data.num_frames == 3
    assert config.train.lr == pytest.approx(2e-4)


def test_overrides_are_typed() -> None:
    config = load_config(
        "tiny-cpu",
        [
            "train.lr=1e-3",
            "train.max_steps=7",
            "data.root=/data/vis",
            "data.train_min_sizes=[160, 192]",
            "model.temporal.memory=false",
            "train.validate_every=null",
        ],
    )
    assert config.train.lr == pytest.approx(1e-3)
    assert isinstance(config.train.lr, float)
    assert config.train.max_steps == 7
    assert config.data.root == "/data/vis"
    assert config.data.train_min_sizes == (160, 192)
    assert config.model.temporal.memory is False
    assert config.train.validate_every is None


def test_string_override_keeps_text_verbatim() -> None:
    config = load_config(None, ["data.root=123", "model.backbone.weights=weights/r50.pth"])
    assert config.data.root == "123"
    assert config.model.backbone.weights == "weights/r50.pth"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("train.lrr=1", "unknown key 'train.lrr'"),
        ("trian.lr=1", "unknown key 'trian'"),
        ("train.lr=abc", "config key 'train.lr': expected a number"),
        ("train.max_steps=1.5", "expected an integer"),
        ("model.temporal.memory=maybe", "expected true or false"),
        ("model.backbone.name=resnet5", "expected one of"),
        ("data.crop_min_max=[1, 2, 3]", "expected a list of 2 values"),
        ("train.lr", "expected the form section.key=value"),
        ("model=1", "is a section"),
        ("train.lr.x=1", "is a value, not a section"),
        ("model.transformer.num_heads=7", "expected a divisor of d_model"),
        ("train.batch_size=3", "train.total_batch_size"),
        ("infer.mask_threshold=1.0", "infer.mask_threshold"),
    ],
)
def test_bad_overrides_fail_with_the_key(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as failure:
        load_config("r50-ytvis21", [R50_WEIGHTS, override])
    message = str(failure.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("preset", R50_PRESETS)
def test_r50_presets_ask_for_the_backbone_weights(preset: str) -> None:
    with pytest.raises(ConfigError) as failure:
        load_config(preset)
    message = str(failure.value)
    assert "config key 'model.backbone.weights': expected a file of pretrained backbone weights" in message
    assert "model.backbone.frozen_stages is 1 and model.backbone.frozen_batchnorm is true" in message
    assert "\n" not in message
    assert load_config(preset, [R50_WEIGHTS]).model.backbone.weights == "/weights/resnet50-0676ba61.pth"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["model.backbone.frozen_stages=2"], "model.backbone.frozen_stages is 2,"),
        (["model.backbone.frozen_batchnorm=true"], "while model.backbone.frozen_batchnorm is true,"),
    ],
)
def test_frozen_backbone_layers_need_weights(overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match="config key 'model.backbone.weights'") as failure:
        load_config(None, overrides)
    assert named in str(failure.value)
    assert load_config(None, [*overrides, R50_WEIGHTS]).model.backbone.weights is not None


def test_a_backbone_trained_from_scratch_needs_no_weights() -> None:
    backbone = load_config(None).model.backbone
    assert (backbone.weights, backbone.frozen_stages, backbone.frozen_batchnorm) == (None, 0, False)
    assert load_config("tiny-cpu").model.backbone.weights is None
    unfrozen = ["model.backbone.frozen_stages=0", "model.backbone.frozen_batchnorm=false"]
    assert load_config("r50-ytvis21", unfrozen).model.backbone.weights is None


def test_unknown_key_lists_the_valid_keys() -> None:
    with pytest.raises(ConfigError) as failure:
        load_config(None, ["train.learning_rate=1"])
    for valid in ("lr", "lr_backbone", "max_steps", "batch_size", "seed", "checkpoint_every"):
        assert valid in str(failure.value)


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(ConfigError) as failure:
        load_config("r50-ytvis20")
    assert "tiny-cpu" in str(failure.value)


def test_yaml_file_errors_name_the_file(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_config(broken)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model:\n  transformer:\n    d_modle: 3\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml: unknown key 'model.transformer.d_modle'"):
        load_config(unknown)
    wrong_type = tmp_path / "wrong.yaml"
    wrong_type.write_text("train:\n  epochs: ten\n")
    with pytest.raises(ConfigError, match=r"config key 'train.epochs': expected an integer"):
        load_config(wrong_type)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.yaml")


def test_partial_yaml_file_layers_over_defaults(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("train:\n  seed: 3\n")
    config = load_config(path, ["train.seed=4"])
    assert config.train.seed == 4
    assert config.model == Config().model
    assert config.preset is None


def test_configs_are_frozen() -> None:
    config = load_config("tiny-cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.lr = 1.0  # type: ignore[misc]


def test_schema_version_is_checked() -> None:
    data = config_to_dict(Config())
    data["schema_version"] = 99
    with pytest.raises(ConfigError, match="schema_version"):
        config_from_dict(data)


def test_config_hash_changes_with_any_value() -> None:
    base = load_config("tiny-cpu")
    changed = load_config("tiny-cpu", ["train.seed=43"])
    assert config_hash(base) != config_hash(changed)
    assert config_hash(base) == config_hash(load_config("tiny-cpu"))


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(min_value=1e-8, max_value=1.0, allow_nan=False),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    sizes=st.lists(st.integers(min_value=32, max_value=320), min_size=1, max_size=5),
    root=st.one_of(st.none(), st.text(min_size=1, max_size=20).filter(lambda text: text.strip() == text)),
)
def test_dump_load_round_trip_property(lr: float, seed: int, sizes: list[int], root: str | None) -> None:
    data = config_to_dict(load_config("tiny-cpu"))
    data["train"]["lr"] = lr
    data["train"]["seed"] = seed
    data["data"]["train_min_sizes"] = sizes
    data["data"]["train_max_size"] = max(max(sizes), 320)
    data["data"]["root"] = root
    config = config_from_dict(data)
    assert config_from_dict(yaml.safe_load(dump_config(config))) == config


PUBLISHED_PRESETS = ("published-r50-ovis", "published-r50-ytvis19", "published-r50-ytvis21")


@pytest.mark.parametrize("preset", PUBLISHED_PRESETS)
def test_published_presets_take_the_official_evaluation_settings(preset: str, tmp_path) -> None:
    assert preset in list_presets()
    config = load_config(preset, [R50_WEIGHTS])
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config
    model, temporal = config.model, config.model.temporal
    assert model.variant == "published"
    assert temporal.memory_frames == config.infer.memory_frames == 3  # --memory_support 4, minus one
    assert config.data.size_divisibility == 1  # no padding at inference
    assert not temporal.propagate_classes and not temporal.contrastive
    assert temporal.propagate_embeddings and temporal.propagate_boxes
    if preset == "published-r50-ovis":
        assert (model.num_classes, model.published.class_logits) == (25, 27)
        assert (model.published.reference_update, temporal.memory, temporal.memory_top_k) == (
            "additive",
            True,
            10,
        )
    else:
        assert (model.num_classes, model.published.class_logits) == (40, 42)
        assert (model.published.reference_update, temporal.memory) == ("multiplicative", False)


def test_published_class_logits_leave_room_for_every_class() -> None:
    with pytest.raises(ConfigError, match="model.published.class_logits"):
        load_config("published-r50-ovis", [R50_WEIGHTS, "model.published.class_logits=25"])
    assert (
        load_config("r50-ovis", [R50_WEIGHTS, "model.published.class_logits=25"]).model.variant == "toolkit"
    )


@pytest.mark.parametrize(("layers", "count"), [(1, 11), (2, 97), (3, 169), (4, 241)])
def test_dynamic_parameter_count_for_any_number_of_layers(layers: int, count: int) -> None:
    """(C+2)->C, C->C, ..., C->1 weights and biases with C = 8; one layer is (C+2)->1."""
    config = load_config(None, [f"model.mask_head.num_dynamic_layers={layers}"])
    assert config.model.mask_head.num_dynamic_parameters == count


def test_box_refinement_is_not_a_key() -> None:
    with pytest.raises(ConfigError, match="unknown key 'model.transformer.box_refine'"):
        load_config(None, ["model.transformer.box_refine=true"])
