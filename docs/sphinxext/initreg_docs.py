"""Sphinx helpers of initreg's documentation site.

- :func:`figure_scraper`, sphinx-gallery's image scraper for the gallery:
  initreg makes its figures without pyplot (``result.plot()`` returns a dict
  of name -> matplotlib Figure), so sphinx-gallery's own scraper, which asks
  pyplot for open figures, would find none.  This one takes the figures an
  example holds in its variables after each code block.
- The ``initreg-commands`` directive: the ``--help`` text of ``initreg`` and
  of each of its commands, produced by the installed command line.
- A check, when the site is built, that every public name has a page: each
  name in ``__all__`` of ``initreg`` and of each public module (a missing one
  is a warning, so ``sphinx-build -W`` fails on it).
- Links of the Markdown pages to repository files that the site includes as
  pages (``repository_pages`` in conf.py: ``../CHANGELOG.md`` from
  docs/api.md) go to those pages, so one link works on both.
- scikit-learn's generated ``set_*_request`` methods of the estimators (its
  metadata routing) are left out of their pages.
- A module constant without a ``#:`` comment shows its value, not the
  docstring of its type.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: Public modules whose names the API reference does not list, and why.
NOT_IN_REFERENCE = {
    "initreg.cli": "the command line: its --help texts are on the command-line page",
    "initreg.bench": "initreg bench: its --help text is on the command-line page",
}

_SCRAPED = "_initreg_docs_scraped"


# ---- the gallery's figures --------------------------------------------------------------

def _figures(value, seen):
    from matplotlib.figure import Figure

    if isinstance(value, Figure):
        if id(value) not in seen:
            seen.add(id(value))
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _figures(item, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _figures(item, seen)


def figure_scraper(block, block_vars, gallery_conf):
    """Save the figures the example's variables hold that no earlier code
    block of it showed, in the order the variables were first assigned."""
    from sphinx_gallery.scrapers import figure_rst

    paths = []
    seen = set()
    for value in list(block_vars["example_globals"].values()):
        for fig in _figures(value, seen):
            if getattr(fig, _SCRAPED, False):
                continue
            path = next(block_vars["image_path_iterator"])
            fig.savefig(path, dpi=96)
            setattr(fig, _SCRAPED, True)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


# ---- the command line's help texts -----------------------------------------------------

def _subcommands(parser):
    return next(a for a in parser._subparsers._group_actions if a.dest == "command").choices


def _help_text(command):
    """``initreg [COMMAND] --help``, 80 columns wide."""
    from initreg.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        if command == "bench":  # its options are parsed by initreg.bench
            from initreg.bench import main as bench_main

            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                bench_main(["--help"])
            return out.getvalue()
        parser = build_parser()
        return (_subcommands(parser)[command] if command else parser).format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class InitregCommands(SphinxDirective):
    """``.. initreg-commands::``: the help text of ``initreg``, then a section
    per command with its own, in the order ``initreg --help`` lists them."""

    def run(self):
        from initreg.cli import build_parser

        def block(command):
            text = _help_text(command).rstrip()
            return nodes.literal_block(text, text, language="text")

        out = [block("")]
        for command in _subcommands(build_parser()):
            title = f"initreg {command}"
            section = nodes.section(ids=[nodes.make_id(title)],
                                    names=[nodes.fully_normalize_name(title)])
            section += nodes.title(title, title)
            section += block(command)
            out.append(section)
        return out


# ---- every public name has a page ------------------------------------------------------

def public_modules():
    """``initreg`` and its modules without a leading underscore, importable."""
    import initreg

    found = ["initreg"]
    for info in pkgutil.walk_packages(initreg.__path__, "initreg.",
                                      onerror=lambda name: None):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if any(info.name == m or info.name.startswith(m + ".") for m in NOT_IN_REFERENCE):
            continue
        found.append(info.name)
    return found


def _check_reference(app, env):
    if app.builder.format != "html":
        return
    domain = env.get_domain("py")
    documented = set(domain.objects) | set(getattr(domain, "modules", {}))
    documented_ids = set()
    for name in documented:
        module, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr) if module else \
                importlib.import_module(name)
        except (ImportError, AttributeError):
            try:
                obj = importlib.import_module(name)
            except ImportError:
                continue
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            documented_ids.add(id(obj))
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if f"{module_name}.{name}" in documented:
                continue
            if (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)) \
                    and id(obj) in documented_ids:
                continue
            logger.warning("%s.%s is public (in __all__) but has no page in the API "
                           "reference (docs/reference/index.rst)", module_name, name)


# ---- links to repository files that are pages of the site -------------------------------

def _link_repository_pages(app, doctree):
    """Point the Markdown links to a repository file that the site includes
    as a page (``repository_pages``) at that page."""
    from sphinx import addnodes

    root = Path(app.srcdir).resolve().parent
    pages = {(root / path).with_suffix("").as_posix(): doc
             for path, doc in app.config.repository_pages.items()}
    for node in doctree.findall(addnodes.pending_xref):
        if node.get("reftype") == "myst" and node.get("refdomain") == "doc":
            target = pages.get(Path(node["reftarget"]).as_posix())
            if target is not None:
                node["reftarget"] = target


# ---- constants: their value, not their type's docstring ----------------------------------

def _constant_docstring(app, what, name, obj, options, lines):
    """A module constant without a ``#:`` comment would show the docstring of
    its type (``str(object='') -> str ...``, as numpydoc passes it on): show
    its value instead, when short."""
    if what not in ("data", "attribute") or not lines:
        return
    own = getattr(type(obj), "__doc__", None)
    if not isinstance(own, str) or not own.strip():
        return
    first = next((line.strip() for line in lines if line.strip()), None)
    if first != inspect.cleandoc(own).splitlines()[0].strip():
        return  # its own documentation
    text = repr(obj)
    lines[:] = [f"``{text}``"] if len(text) <= 70 and "\n" not in text else []


_SKLEARN_GENERATED = re.compile(r"set_\w+_request")


def _skip_member(app, what, name, obj, skip, options):
    if what == "class" and _SKLEARN_GENERATED.fullmatch(name):
        return True
    return None


def setup(app):
    app.add_config_value("repository_pages", {}, "env")
    app.add_directive("initreg-commands", InitregCommands)
    app.connect("doctree-read", _link_repository_pages)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _constant_docstring)
    app.connect("env-check-consistency", _check_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
