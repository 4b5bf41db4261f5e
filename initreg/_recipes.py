"""Objects that a saved model or optimizer describes as plain values -- an
initializer, a learning-rate schedule -- and the stand-in for a user function
that cannot be saved.

A known object is described as ``{kind: name, "params": {...}}`` and rebuilt
from that; anything else as ``{"unsaved": repr(obj)}``, which comes back as
an :class:`Unsaved` that says what is missing when it is called.
"""
from __future__ import annotations


class Unsaved:
    """Stands for a user function that was not saved: calling it raises
    ValueError saying so, and what to do instead."""

    def __init__(self, text, what, hint):
        self.text, self.what, self.hint = text, what, hint

    def __call__(self, *args, **kwargs):
        raise ValueError(f"the {self.what} {self.text} was not saved; {self.hint}")

    def __repr__(self):
        return f"<unsaved {self.what} {self.text}>"


def describe(kind, name, params, obj):
    """``{kind: name, "params": params}`` for a known object (``name`` not
    None), else ``{"unsaved": repr(obj)}``; an :class:`Unsaved` keeps its
    text."""
    if name is not None:
        return {kind: name, "params": dict(params)}
    return {"unsaved": obj.text if isinstance(obj, Unsaved) else repr(obj)}


def restore(desc, kind, build, what, hint):
    """The object ``desc`` describes: ``build(name, params)`` for a known
    one, an :class:`Unsaved` otherwise."""
    if isinstance(desc, dict) and isinstance(desc.get(kind), str):
        params = desc.get("params", {})
        if not isinstance(params, dict):
            raise ValueError(f"{what} parameters must be a table, got {params!r}")
        return build(desc[kind], params)
    text = desc.get("unsaved", desc) if isinstance(desc, dict) else desc
    return Unsaved(str(text), what, hint)
