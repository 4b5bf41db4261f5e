"""Sphinx configuration of initreg's documentation site.

Build it with the package installed (the gallery runs its examples, and the
API reference is read from the installed package's docstrings)::

    pip install ".[docs]" && sphinx-build -W docs docs/_build/html

Open docs/_build/html/index.html.  Generated sources go to docs/generated
(API pages) and docs/auto_examples (the gallery).
"""
import inspect
import sys
from pathlib import Path

import initreg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))

project = "initreg"
author = "initreg developers"
copyright = "initreg developers"
release = initreg.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "initreg_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "sphinxext"]
templates_path = ["_templates"]

# ---- the API reference --------------------------------------------------------------------
autosummary_generate = True
autosummary_ignore_module_all = False  # a module page lists exactly its __all__
# the classes and functions of the initreg namespace: module pages link to them
autosummary_context = {"toplevel": [name for name in initreg.__all__
                                    if not inspect.ismodule(getattr(initreg, name))]}
autodoc_typehints = "none"            # the numpydoc sections give the types
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "member-order": "bysource"}
numpydoc_show_class_members = False  # autodoc lists the members of each class page
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# ---- the user guide and other pages in Markdown -------------------------------------------
myst_heading_anchors = 3
# repository files the site includes as pages: links to them go to the page
repository_pages = {"CHANGELOG.md": "changelog", "csrc/README.md": "kernels"}

# ---- the gallery ------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",       # every example runs when the site is built
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "image_scrapers": ("initreg_docs.figure_scraper",),
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("initreg",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"initreg": None},
    "remove_config_comments": True,
    "capture_repr": (),                  # the examples print what they show
    "download_all_examples": False,
    "show_signature": False,
    "min_reported_time": 1,
}

# ---- HTML -------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"initreg {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = True
html_copy_source = True
