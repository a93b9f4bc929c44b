"""Zoo configs: the shipped ones validate; order, fields and memory shares are checked."""

from __future__ import annotations

import copy
from importlib import resources

import pytest

from messenv.live.zoo import ZooError, load_zoo, zoo_from_config
from tests.live.conftest import shipped_zoo_config


@pytest.mark.parametrize(
    ("name", "labels"),
    [("llama3-messplus", ("small", "medium", "large")), ("qwen2-messplus", ("xsmall", "small", "medium", "large"))],
)
def test_shipped_vllm_zoos_validate(name: str, labels: tuple[str, ...]) -> None:
    zoo = zoo_from_config(shipped_zoo_config(name))
    assert zoo.labels == labels
    assert zoo.gpu_indices == (0,)
    assert all(spec.engine == "vllm" and spec.gpu_memory_utilization for spec in zoo.models)


def test_tiny_zoo_resolves_its_root() -> None:
    zoo = zoo_from_config(shipped_zoo_config("tiny-random", root="/models"))
    assert [spec.model for spec in zoo.models] == ["/models/tiny-a", "/models/tiny-b", "/models/tiny-c"]
    assert zoo.gpu_indices == ()
    assert zoo.to_dict()["models"]["tiny-b"]["model"] == "/models/tiny-b"


@pytest.fixture
def llama() -> dict:
    return shipped_zoo_config("llama3-messplus")


def edited(config: dict, label: str, **fields: object) -> dict:
    config = copy.deepcopy(config)
    config["models"][label].update(fields)
    return config


@pytest.mark.parametrize(
    ("label", "fields", "message"),
    [
        ("large", {"params_b": 2.0}, r"cheapest first .* 'large' \(2\.0 B\) follows 'medium' \(8\.03 B\)"),
        ("small", {"engine": "llama.cpp"}, r"model 'small': engine must be one of"),
        ("small", {"gpu_memory": 0.1}, r"model 'small': unknown field\(s\) \['gpu_memory'\]"),
        ("small", {"gpu_memory_utilization": None}, r"needs gpu_memory_utilization"),
        ("small", {"gpu_memory_utilization": 1.5}, r"must be in \(0, 1\]"),
        ("small", {"gpu_indices": []}, r"needs gpu_indices"),
        ("small", {"max_seq_len": 0}, r"max_seq_len must be a positive integer"),
        ("large", {"gpu_memory_utilization": 0.9}, r"GPU 0 reserve 1\.17 of its memory"),
        (
            "medium",
            {"engine": "transformers", "gpu_memory_utilization": None},
            r"quantization 'bitsandbytes' needs the vllm engine",
        ),
        ("small", {"params_b": -1}, r"params_b must be a positive number"),
        ("small", {"model": None}, r"field 'model' is required"),
    ],
)
def test_invalid_zoos_name_model_and_field(llama: dict, label: str, fields: dict, message: str) -> None:
    with pytest.raises(ZooError, match=message):
        zoo_from_config(edited(llama, label, **fields))


def test_zoo_level_errors(llama: dict) -> None:
    with pytest.raises(ZooError, match="at least 2 model labels"):
        zoo_from_config({**llama, "models": {"small": llama["models"]["small"]}})
    with pytest.raises(ZooError, match=r"unknown field\(s\) \['model'\]"):
        zoo_from_config({**llama, "model": "x"})
    with pytest.raises(ZooError, match="'name' must be a non-empty string"):
        zoo_from_config({**llama, "name": ""})


@pytest.mark.parametrize("name", ["llama3-messplus", "qwen2-messplus", "tiny-random"])
def test_every_shipped_zoo_loads_on_its_own(name: str) -> None:
    """Read as a file on its own (not nested under ``zoo`` by the record command), each zoo resolves."""
    zoo = load_zoo(name, root="/models")
    assert zoo == zoo_from_config(shipped_zoo_config(name, root="/models"))


def test_load_zoo_from_a_path_and_its_errors(tmp_path) -> None:
    text = (resources.files("messenv_conf") / "zoo" / "tiny-random.yaml").read_text()
    own = tmp_path / "mine.yaml"
    own.write_text(text.replace("name: tiny-random", "name: mine"))
    assert load_zoo(own, root="/m").name == "mine"
    assert load_zoo(str(own), root="/m").models[0].model == "/m/tiny-a"
    with pytest.raises(ZooError, match=r"tiny-random\.yaml: .*Missing mandatory value: root \(give it as a keyword"):
        load_zoo("tiny-random")
    with pytest.raises(ZooError, match=r"no zoo named 'tiny'; shipped: llama3-messplus, qwen2-messplus, tiny-random"):
        load_zoo("tiny")
    with pytest.raises(ZooError, match=r"absent\.yaml: no such zoo file"):
        load_zoo(tmp_path / "absent.yaml")
