"""Run configurations: the paper's defaults, presets, YAML + overrides, and errors that name the key."""

from __future__ import annotations

import pytest
import yaml

from stclr.config import (
    ConfigError,
    DataConfig,
    FinetuneConfig,
    LinearProbeConfig,
    PretrainConfig,
    RetrievalConfig,
    apply_overrides,
    config_diff,
    config_hash,
    from_dict,
    load_config,
    preset,
    save_yaml,
    to_dict,
)


def test_paper_defaults():
    p = PretrainConfig()  # Sec. 4.2.2 / 4.3.1
    assert (p.method, p.arch, p.clip_len, p.size, p.skips) == ("stclr", "r3d_18", 16, 112, "paper")
    assert (p.optimizer, p.lr, p.weight_decay, p.batch_size) == ("adam", 1e-3, 1e-9, 38)
    from stclr.methods import DEFAULT_TEMPERATURE

    assert p.temperature is None and DEFAULT_TEMPERATURE["stclr"] == 0.3 and DEFAULT_TEMPERATURE["tclr"] == 0.1
    assert (p.scheduler, p.plateau_patience, p.plateau_factor, p.epochs) == ("plateau", 12, 0.1, 400)
    assert (p.c1, p.c2) == (0.6, 0.75)
    s = preset("ssl")  # Sec. 4.2.1
    assert (s.method, s.optimizer, s.lr, s.weight_decay, s.batch_size, s.scheduler, s.size) == (
        "ssl", "sgd", 1e-2, 1e-4, 24, "onecycle", 128)
    f = FinetuneConfig()  # Sec. 4.2.2
    assert (f.optimizer, f.lr, f.weight_decay, f.momentum, f.batch_size, f.scheduler) == ("sgd", 3e-3, 6e-3, 0.9, 16, "onecycle")
    assert (f.resize, f.crop, f.skip, f.dropout, f.test_clips, f.test_crops) == ((128, 171), 112, 4, 0.9, 10, 10)
    r = RetrievalConfig().resolved()
    assert (r.n_clips, r.skip, r.crop, r.ks, r.protocol) == (10, 3, 1.0, (1, 5, 10, 20), "paper")
    t = RetrievalConfig(protocol="tclr").resolved()
    assert (t.n_clips, t.skip, t.crop) == (9, 2, 0.8)
    assert RetrievalConfig(protocol="tclr", n_clips=10).resolved().n_clips == 10  # explicit value wins


def test_course_preset_is_tiny_and_synthetic():
    for kind in ("pretrain", "finetune", "retrieval", "linear_probe"):
        c = preset("course", kind)
        assert c.arch == "r3d_tiny" and c.data.dataset == "synthetic" and c.data.num_workers == 0
    c = preset("course", epochs=2, **{"data.root": "somewhere"})
    assert (c.clip_len, c.size, c.epochs, c.data.root) == (8, 32, 2, "somewhere")
    assert c.data.cache_mb > 0 and preset("paper").data.cache_mb == 0  # the course keeps its decoded videos


def test_yaml_and_dotted_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: course\nlr: 1e-4\ndata:\n  root: /data/x\nweights: {ic: 0.5}\nskips: [1, 2, 3]\n")
    c = load_config("pretrain", path, ["data.split=2", "epochs=7", "grad_clip=1.5", "run_name=abc", "weights.sll=2"])
    assert c.arch == "r3d_tiny"  # from the preset
    assert c.lr == 1e-4  # YAML reads "1e-4" as a string; a float field accepts it
    assert (c.data.root, c.data.split, c.epochs, c.grad_clip, c.run_name) == ("/data/x", 2, 7, 1.5, "abc")
    assert c.weights == {"ic": 0.5, "sll": 2.0}
    assert c.skips == (1, 2, 3)
    assert apply_overrides(c, ["grad_clip=null"]).grad_clip is None
    assert c.grad_clip == 1.5  # apply_overrides returns a new object


@pytest.mark.parametrize(
    "override, must_name, hint",
    [
        (["data.rot=x"], "data.rot", "data.root"),
        (["optimiser=sgd"], "optimiser", "optimizer"),
        (["epocs=3"], "epocs", "epochs"),
        (["lr=fast"], "lr", None),
        (["epochs=2.5"], "epochs", None),
        (["data.split=one"], "data.split", None),
        (["show_progress=maybe"], "show_progress", None),
        (["optimizer=adamw"], "optimizer", "adam"),
        (["data.dataset=ucf"], "data.dataset", "ucf101"),
        (["skips=[1, x]"], "skips", None),
        (["batch_size=0"], "batch_size", None),
        (["cpu_threads=-1"], "cpu_threads", None),
        (["data.cache_mb=-5"], "data.cache_mb", None),
        (["data.num_workers=-2"], "data.num_workers", None),  # -1 is "from the cores"
    ],
)
def test_errors_name_the_key(override, must_name, hint):
    with pytest.raises(ConfigError) as e:
        load_config("pretrain", None, override)
    msg = str(e.value)
    assert must_name in msg
    if hint:
        assert f"did you mean '{hint}'" in msg or f"did you mean '{hint}" in msg or hint in msg


def test_yaml_unknown_nested_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  num_worker: 3\n")
    with pytest.raises(ConfigError, match=r"data\.num_worker.*did you mean 'data\.num_workers'"):
        load_config(FinetuneConfig, path)
    with pytest.raises(ConfigError, match="key=value"):
        load_config("pretrain", None, ["epochs"])
    with pytest.raises(ConfigError, match="preset"):
        preset("corse")


def test_round_trip(tmp_path):
    for cfg in (PretrainConfig(), preset("course"), preset("ssl"), FinetuneConfig(checkpoint="x.pt"),
                RetrievalConfig(protocol="tclr"), LinearProbeConfig(), preset("course", "finetune")):
        d = to_dict(cfg)
        assert from_dict(type(cfg), d) == cfg
        yaml.safe_dump(d)  # plain data only
        save_yaml(cfg, tmp_path / "c.yaml")
        assert load_config(type(cfg), tmp_path / "c.yaml") == cfg
    assert isinstance(from_dict(PretrainConfig, {"data": {"root": "r"}}).data, DataConfig)


def test_hash_ignores_resume_mutable_keys():
    a = preset("course")
    h = config_hash(a)
    assert h == config_hash(preset("course")) and len(h) == 12
    for same in (["epochs=99"], ["show_progress=false"], ["data.num_workers=3"], ["resume=true"]):
        assert config_hash(apply_overrides(a, same)) == h, same
    for other in (["lr=0.5"], ["seed=1"], ["data.split=2"], ["weights.ic=2"], ["arch=r3d_18"]):
        assert config_hash(apply_overrides(a, other)) != h, other
    diff = config_diff(to_dict(a), to_dict(apply_overrides(a, ["lr=0.5", "epochs=3", "data.split=2"])))
    assert diff == {"data.split": (1, 2), "lr": (a.lr, 0.5)}  # epochs may change on resume: not a difference


def test_presets_are_not_mutated_by_overrides():
    preset("course", **{"data.root": "elsewhere", "data.split": 2})
    assert preset("course").data.root == "data/synthetic" and preset("course").data.split == 1


def test_engine_cli_resolves_and_reports(capsys):
    from stclr.cli import main

    assert main(["pretrain", "--preset", "course", "--print-config", "--resume", "epochs=2", "data.root=d"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["arch"], printed["epochs"], printed["resume"], printed["data"]["root"]) == ("r3d_tiny", 2, True, "d")
    assert main(["retrieve", "--random-init", "--print-config", "protocol=tclr"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["random_init"] is True
    assert main(["finetune", "--print-config", "dropuot=0.5"]) == 2
    assert "dropuot" in capsys.readouterr().err


def test_augmentation_settings_per_preset():
    paper, course = preset("paper"), preset("course")
    assert (paper.augment, paper.ssl_augment, paper.ssl_input) == ("tclr", "ssl", "frames")  # the paper's
    assert course.augment == "light"  # TCLR's crop loses the sprite at 32 px (DESIGN.md §5)
    with pytest.raises(ConfigError, match="augment"):
        preset("course", augment="strong")
    with pytest.raises(ConfigError, match="ssl_input"):
        preset("course", ssl_input="residual")


def test_worker_count_from_the_cores(monkeypatch):
    from stclr.config import DataConfig

    assert DataConfig(num_workers=3).workers() == 3 and DataConfig(num_workers=0).workers() == 0
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert DataConfig().workers() == 15  # the default (-1): all cores but the training loop's
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert DataConfig().workers() == 3  # 4 training processes share the 16 cores
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert DataConfig().workers() == 1  # never 0 by accident: 0 means "in the main process"
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert DataConfig().workers() == 16


def test_coerce_is_the_one_type_checker_for_configs_and_recipes():
    import typing

    from stclr.config import ConfigError, coerce

    assert coerce(2.0, int, "k") == 2 and coerce("1e-3", float, "k") == 0.001 and coerce(3, int | float, "k") == 3
    assert coerce("b", typing.Literal["a", "b"], "k") == "b" and coerce([1, 2], typing.Sequence[int], "k") == [1, 2]
    assert coerce({"a": 1}, typing.Mapping[str, int], "k") == {"a": 1} and coerce(None, type(None), "k") is None
    for value, tp in (("c", typing.Literal["a", "b"]), (True, int), ("x", list), (1, dict), (2.5, int)):
        with pytest.raises(ConfigError, match="k"):
            coerce(value, tp, "k")


@pytest.mark.parametrize("kind, key, value", [
    ("pretrain", "lr", -1.0), ("pretrain", "epochs", 0), ("pretrain", "max_steps", -3), ("pretrain", "c1", 1.5),
    ("pretrain", "c2", -0.1), ("pretrain", "temperature", 0.0), ("pretrain", "skips", [4, 0]),
    ("pretrain", "ssl_speeds", [1, 0]), ("pretrain", "weight_decay", -1e-3), ("pretrain", "time_budget_s", -5.0),
    ("finetune", "epochs", -1), ("finetune", "lr", 0.0), ("finetune", "dropout", 1.2), ("finetune", "momentum", 1.0),
    ("finetune", "test_clips", 0),
])  # fmt: skip
def test_impossible_values_are_refused_naming_the_field(kind, key, value):
    # issue 23: a clear error before any training starts, naming the parameter
    with pytest.raises(ConfigError, match=key):
        preset("course", kind, **{key: value})
