"""Protector registry, fed by the entry-point group ``vpfilters.protectors`` (built-ins included)."""

from __future__ import annotations

import functools
from importlib import metadata

from vpfilters.core.protector import Pipeline, Protector
from vpfilters.core.spec import FilterSpec, parse_spec
from vpfilters.errors import SpecError, VpfError

GROUP = "vpfilters.protectors"
_extra: dict[str, type[Protector]] = {}


@functools.cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


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
    return sorted(set(_entry_points()) | set(_extra))


@functools.cache
def get(name: str) -> type[Protector]:
    if name in _extra:
        return _extra[name]
    ep = _entry_points().get(name)
    if ep is None:
        raise SpecError(f"unknown protector {name!r}; available: {', '.join(names()) or '(none)'}",
                        parameter="spec")
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plug-in: a clear error, not a traceback
        raise VpfError(f"protector {name!r} ({ep.value}) failed to load: "
                       f"{type(exc).__name__}: {exc}", parameter="spec") from exc
    if not (isinstance(cls, type) and issubclass(cls, Protector)):
        raise VpfError(f"entry point {name!r} ({ep.value}) is not a vpfilters Protector")
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
