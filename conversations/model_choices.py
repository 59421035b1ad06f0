"""The models people may choose (the chat's picker, `GET /api/models/`, `model` on a
turn): the provider's list (`llm.catalog`), restricted, ordered and named by the admin's
enabled `ModelOption` rows, with the default they mark."""

from .errors import InvalidModel
from .llm import model_name
from .llm.catalog import available_models, requested_model
from .models import ModelOption


def _options() -> list[ModelOption]:
    return list(ModelOption.objects.filter(enabled=True))


def default_model(options: list[ModelOption] | None = None) -> str:
    """The model a turn uses when its conversation chose none: the one the admin marked
    default, else the configured one (`LLM_MODEL`)."""
    options = _options() if options is None else options
    marked = next((option.model for option in options if option.is_default), "")
    return requested_model(marked) or model_name()


def _offered(options: list[ModelOption]) -> list[tuple[dict, str]]:
    """(the provider's entry, display name) of each model offered, in order: the admin's
    enabled rows that the provider lists, or, when none is, every model it lists."""
    listed = {model["id"]: model for model in available_models()}
    offered = [
        (listed[option.model], option.display_name or option.model)
        for option in options
        if option.model in listed
    ]
    return offered or [(model, model["id"]) for model in listed.values()]


def offered_models() -> list[dict]:
    """The provider's entries (`id`, `created`, `owned_by`) of the models offered, in order
    (`GET /v1/models`)."""
    return [model for model, _name in _offered(_options())]


def model_choices() -> dict:
    """`{"models": [{"id", "name"}], "default": id}`: the models offered, in order."""
    options = _options()
    models = [{"id": model["id"], "name": name} for model, name in _offered(options)]
    ids = [model["id"] for model in models]
    default = default_model(options)
    return {"models": models, "default": default if default in ids else ids[0]}


def model_check(model: str) -> str:
    """The model to store for a turn that chose `model` ("": none chosen); InvalidModel
    when it is not offered. The local and demo providers run their one model whatever is
    chosen: ""."""
    if not model:
        return ""
    ids = [choice["id"] for choice in model_choices()["models"]]
    if model not in ids:
        raise InvalidModel(
            f"The model {model!r} is not offered here; choose one of: {', '.join(ids)}.",
            param="model",
        )
    return requested_model(model)
