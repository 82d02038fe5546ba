"""The Protector protocol, its typed options, and the fail-closed pipeline every host drives."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from vpfilters.core.frame import ALL_FORMATS, Frame, color_values
from vpfilters.errors import FormatError, ParameterError, ProtectionError, VpfError

log = logging.getLogger("vpfilters")


# ------------------------------------------------------------------------------------ options


@dataclass(frozen=True)
class Option:
    """One protector option: its parser, default and help text (shown by ``vpf list``)."""

    name: str
    parse: Callable[[str], Any]
    default: Any = None
    help: str = ""
    choices: tuple = ()

    def convert(self, protector: str, raw):
        if not isinstance(raw, str):
            value = raw  # already typed (Python callers)
        else:
            try:
                value = self.parse(raw)
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"{protector}: bad value {raw!r} for option '{self.name}': {exc}",
                                     parameter=self.name) from None
        if self.choices:
            items = value if isinstance(value, (list, tuple)) and not isinstance(value, str) else [value]
            bad = [v for v in items if v not in self.choices]
            if bad:
                raise ParameterError(f"{protector}: option '{self.name}' must be one of "
                                     f"{', '.join(map(str, self.choices))}; got {bad[0]!r}",
                                     parameter=self.name)
        return value


def parse_bool(text: str) -> bool:
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false")


def parse_list(text: str) -> list[str]:
    """'face+plate' -> ['face', 'plate']."""
    return [t for t in str(text).split("+") if t]


def parse_boxes(text: str) -> list[tuple[float, float, float, float]]:
    """'x1/y1/x2/y2+x1/y1/x2/y2' (luma pixels) -> list of boxes."""
    out = []
    for item in parse_list(text):
        parts = item.split("/")
        if len(parts) != 4:
            raise ValueError(f"a box is x1/y1/x2/y2, got {item!r}")
        x1, y1, x2, y2 = (float(p) for p in parts)
        if not all(np.isfinite([x1, y1, x2, y2])) or x2 <= x1 or y2 <= y1:
            raise ValueError(f"box {item!r} must have x2 > x1 and y2 > y1")
        out.append((x1, y1, x2, y2))
    return out


def positive(kind):
    def conv(text):
        v = kind(text)
        if not v > 0:
            raise ValueError("must be > 0")
        return v
    conv.__name__ = f"positive {kind.__name__}"
    return conv


def non_negative(kind):
    def conv(text):
        v = kind(text)
        if not v >= 0:
            raise ValueError("must be >= 0")
        return v
    conv.__name__ = f"non-negative {kind.__name__}"
    return conv


# ------------------------------------------------------------------------------------ protocol


@dataclass
class StreamInfo:
    """What a protector is told when a stream opens."""

    width: int
    height: int
    format: str
    fps: float | None = None
    num_frames: int | None = None
    source: str | None = None
    still: bool = False  # a still image or an image folder (detectors default to thorough mode)


class FrameContext:
    """Access to the bounded window of neighbouring frames a protector declared (``window``)."""

    def __init__(self, index: int, fetch: Callable[[int], Frame] | None = None, window: int = 0,
                 num_frames: int | None = None):
        self.index = index
        self._fetch = fetch
        self.window = window
        self.num_frames = num_frames

    def frame(self, n: int) -> Frame:
        """Frame ``n`` as decoded (read-only use), for ``|n - index| <= window``."""
        if abs(n - self.index) > self.window:
            raise ParameterError(f"frame {n} is outside the declared window of {self.window} "
                                 f"around frame {self.index}", frame=self.index, parameter="window")
        if n < 0 or (self.num_frames is not None and n >= self.num_frames):
            raise IndexError(n)
        if self._fetch is None:
            raise ProtectionError("this host gives no access to neighbouring frames",
                                  frame=self.index)
        return self._fetch(n)


class Protector:
    """Base of every protector. Subclasses set ``name``, ``options`` and override ``process``.

    The output for frame *n* must depend only on frame *n* and the frames of its declared
    ``window`` (VapourSynth asks for frames out of order and in parallel), never on which frame
    was processed before.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    formats: ClassVar[frozenset[str]] = ALL_FORMATS
    window: ClassVar[int] = 0
    changes_size: ClassVar[bool] = False

    def __init__(self, **opts):
        known = {o.name: o for o in self.options}
        unknown = [k for k in opts if k not in known]
        if unknown:
            raise ParameterError(f"{self.name}: unknown option '{unknown[0]}'; valid options: "
                                 f"{', '.join(known) or '(none)'}", parameter=unknown[0])
        self.opts = {name: (o.convert(self.name, opts[name]) if name in opts else o.default)
                     for name, o in known.items()}
        self.info: StreamInfo | None = None

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.opts.items())})"

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, info: StreamInfo) -> None:
        if info.format not in self.formats:
            raise FormatError(f"{self.name}: format {info.format} is not supported; accepted: "
                              f"{', '.join(sorted(self.formats))}", file=info.source)
        self.info = info

    def process(self, frame: Frame, ctx: FrameContext) -> Frame:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    # -- failing closed ----------------------------------------------------------------------
    def protect_all(self, frame: Frame) -> Frame:
        """The fail-closed fallback: hide the whole picture (mid-grey fill)."""
        vals = color_values((128, 128, 128), frame)
        for p, v in zip(frame.planes, vals):
            p[...] = v
        frame.props["VPFFailClosed"] = 1
        return frame


def fail_closed(exc: Exception, on_error: str, name: str, index: int) -> None:
    """The fail-closed rule for protector ``name`` that raised ``exc`` on frame ``index``.

    ``on_error="stop"``: raise; a :class:`VpfError` that names its frame as it is, anything else
    as a :class:`ProtectionError` naming the frame. Otherwise log a warning and return: the caller
    then hides the whole frame (:meth:`Protector.protect_all`). Call it from an ``except`` block
    that has let ``KeyboardInterrupt`` through.
    """
    if on_error == "stop":
        if isinstance(exc, VpfError) and exc.frame is not None:
            try:
                raise exc
            finally:
                del exc  # no cycle: its traceback holds this frame
        raise ProtectionError(f"{name} failed: {exc}", frame=index) from exc
    # the text, not the exception: a log record that holds the exception holds its traceback,
    # and with it the frames and whatever the host's callers hold (a VapourSynth stage and its
    # protectors, kept open by a handler that keeps records)
    log.warning("frame %d: %s failed (%s); the whole frame is hidden (fail closed)",
                index, name, str(exc))


class Pipeline:
    """A chain of protectors, run frame by frame with the fail-closed rule.

    ``on_error="protect"`` (default): a frame on which any protector fails is wholly hidden by
    that protector's :meth:`Protector.protect_all` and marked ``VPFFailClosed``; the run goes on.
    ``on_error="stop"``: the failure is raised as :class:`ProtectionError` naming the frame.
    """

    def __init__(self, protectors: list[Protector], on_error: str = "protect", spec: str = ""):
        if on_error not in ("protect", "stop"):
            raise ParameterError(f"on_error must be 'protect' or 'stop', got {on_error!r}",
                                 parameter="on_error")
        self.protectors = list(protectors)
        self.on_error = on_error
        self.spec = spec
        self.failed_frames: list[int] = []
        self._closed = False  # close() already ran since the last open()

    @property
    def window(self) -> int:
        return max((p.window for p in self.protectors), default=0)

    @property
    def formats(self) -> frozenset[str]:
        out = ALL_FORMATS
        for p in self.protectors:
            out = out & p.formats
        return out

    def output_size(self, width: int, height: int, fmt: str) -> tuple[int, int] | None:
        """The size of the frames the chain returns for ``width`` x ``height`` frames of ``fmt``,
        known before any frame: each size-changing protector (``changes_size``) says its own with
        ``output_size(width, height, fmt)`` (e.g. ``rescale=...:size=small``). None when one of
        them does not say (a host must then learn it from the first protected frame)."""
        for p in self.protectors:
            hook = getattr(p, "output_size", None)
            if callable(hook):
                width, height = (int(v) for v in hook(width, height, fmt))
            elif p.changes_size:
                return None
        return width, height

    def open(self, info: StreamInfo) -> None:
        """Open every protector for the stream ``info``. When one refuses (a format it does not
        declare, a bad setting), every protector is closed at once (those already opened hold
        resources, the refusing one may hold part of them) and the error is raised; the host's
        later :meth:`close` is then a no-op."""
        self._closed = False
        for p in self.protectors:
            try:
                p.open(info)
            except BaseException:
                try:
                    self.close()
                except Exception as exc:  # the open error is the one to report
                    log.warning("closing after a failed open: %s", exc)
                raise

    def close(self) -> None:
        """Close every protector, once per :meth:`open`: a second call (a host's ``finally`` and
        a ``with`` block, a weak-reference finaliser) does nothing. A protector whose ``close``
        raises does not keep the others open; the first error is raised after all are closed."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        first = None
        for p in self.protectors:
            try:
                p.close()
            except Exception as exc:
                if first is None:
                    first = exc
                else:
                    log.warning("%s: close failed too: %s", p.name, exc)
        if first is not None:
            raise first

    def process(self, frame: Frame, ctx: FrameContext | None = None) -> Frame:
        ctx = ctx or FrameContext(frame.index)
        for p in self.protectors:
            try:
                out = p.process(frame, ctx)
                if out is None:
                    raise ProtectionError(f"{p.name}: process() returned no frame", frame=frame.index)
                frame = out
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                fail_closed(exc, self.on_error, p.name, frame.index)
                self.failed_frames.append(frame.index)
                frame = p.protect_all(frame)
        return frame

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
