"""The filter-spec language, in ffmpeg's style, parsed once and used by every host.

Grammar::

    spec    := filter ("," filter)*
    filter  := name ["=" option (":" option)*]
    option  := key "=" value

Values may contain ``,``, ``:`` or ``=`` when escaped with a backslash or wrapped in single quotes,
e.g. ``hide=text='a:b'``. A value starting with ``@`` names a file (read by the option's parser).
Example: ``blur=targets=face+plate:strength=31,hide=payload=@id.bin``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vpfilters.errors import SpecError


@dataclass
class FilterSpec:
    name: str
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self):
        if not self.options:
            return self.name
        return self.name + "=" + ":".join(f"{k}={_quote(v)}" for k, v in self.options.items())


def _quote(v: str) -> str:
    return f"'{v}'" if any(c in v for c in ",:='\\") and "'" not in v else v


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes/escapes, keeping quotes/escapes for the next level."""
    parts, cur, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if c == "'":
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if quoted:
        raise SpecError(f"unterminated quote in {text!r}", parameter="spec")
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    out, quoted, i = [], False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == "'":
            quoted = not quoted
        else:
            out.append(c)
        i += 1
    return "".join(out)


def parse_spec(spec: str) -> list[FilterSpec]:
    """Parse a spec string into filters with raw (string) option values."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError("the filter spec is empty; e.g. 'blur=targets=face'", parameter="spec")
    out = []
    for chunk in _split(spec.strip(), ","):
        chunk = chunk.strip()
        if not chunk:
            raise SpecError(f"empty filter in spec {spec!r} (stray ',')", parameter="spec")
        head, _, rest = chunk.partition("=")
        name = head.strip()
        if not name or not all(c.isalnum() or c in "_-." for c in name):
            raise SpecError(f"bad filter name {name!r} in spec {spec!r}", parameter="spec")
        opts: dict[str, str] = {}
        if rest:
            for item in _split(rest, ":"):
                key, eq, value = item.partition("=")
                key = key.strip()
                if not eq or not key:
                    raise SpecError(f"{name}: option {item!r} must be key=value", parameter="spec")
                if key in opts:
                    raise SpecError(f"{name}: option '{key}' given twice", parameter=key)
                opts[key] = _unescape(value)
        out.append(FilterSpec(name, opts))
    return out
