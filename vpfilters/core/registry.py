"""Protector registry, fed by the entry-point group ``vpfilters.protectors`` (built-ins included).

The built-in protectors (declared as entry points in pyproject.toml too) are found by name without
scanning the installed distributions: ``importlib.metadata`` (tens of milliseconds at start-up) is
read only for a name that is not built in, and for :func:`names` / :func:`describe`.
"""

from __future__ import annotations

import functools
import importlib

from vpfilters.core.protector import Pipeline, Protector
from vpfilters.core.spec import FilterSpec, parse_spec
from vpfilters.errors import SpecError, VpfError

GROUP = "vpfilters.protectors"
#: The package's own entry points (the same as pyproject.toml's; a test checks they agree).
BUILTINS = {
    "blur": "vpfilters.protect.mask:Blur",
    "pixelate": "vpfilters.protect.mask:Pixelate",
    "fill": "vpfilters.protect.mask:Fill",
    "hide": "vpfilters.protect.hide:Hide",
    "events": "vpfilters.protect.events:Events",
    "rescale": "vpfilters.protect.rescale:Rescale",
}
_extra: dict[str, type[Protector]] = {}


@functools.cache
def _entry_points() -> dict:
    from importlib import metadata

    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def _load_builtin(name: str):
    module, _, attr = BUILTINS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def register(cls: type[Protector]) -> type[Protector]:
    """Register a protector class at run time (entry points are the normal way)."""
    if not cls.name:
        raise VpfError(f"{cls.__name__} has no name")
    _extra[cls.name] = cls
    return cls


def refresh() -> None:
    """Forget cached entry points (after installing a plug-in package in the same process)."""
    _entry_points.cache_clear()
    get.cache_clear()


def names() -> list[str]:
    return sorted(set(BUILTINS) | set(_entry_points()) | set(_extra))


@functools.cache
def get(name: str) -> type[Protector]:
    if name in _extra:
        return _extra[name]
    if name in BUILTINS:  # no distribution scan for the package's own protectors
        load, value = functools.partial(_load_builtin, name), BUILTINS[name]
    else:
        ep = _entry_points().get(name)
        if ep is None:
            raise SpecError(f"unknown protector {name!r}; available: "
                            f"{', '.join(names()) or '(none)'}", parameter="spec")
        load, value = ep.load, ep.value
    try:
        cls = load()
    except Exception as exc:  # a broken plug-in: a clear error, not a traceback
        raise VpfError(f"protector {name!r} ({value}) failed to load: "
                       f"{type(exc).__name__}: {exc}", parameter="spec") from exc
    if not (isinstance(cls, type) and issubclass(cls, Protector)):
        raise VpfError(f"entry point {name!r} ({value}) is not a vpfilters Protector")
    return cls


def build(spec, on_error: str = "protect") -> Pipeline:
    """A :class:`Pipeline` from a spec string (or parsed :class:`FilterSpec` list)."""
    filters = parse_spec(spec) if isinstance(spec, str) else list(spec)
    protectors = []
    for f in filters:
        if not isinstance(f, FilterSpec):
            raise SpecError(f"not a filter spec: {f!r}", parameter="spec")
        protectors.append(get(f.name)(**f.options))
    return Pipeline(protectors, on_error=on_error, spec=spec if isinstance(spec, str) else
                    ",".join(map(str, filters)))


def describe() -> list[dict]:
    """Every protector with its options and defaults (what ``vpf list`` prints)."""
    out = []
    for n in names():
        cls = get(n)
        out.append({"name": n, "summary": cls.summary,
                    "options": [{"name": o.name, "default": o.default, "help": o.help,
                                 "choices": list(o.choices)} for o in cls.options]})
    return out
