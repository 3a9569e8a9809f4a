"""A jar assembled from its manifest: the model client, the tool sources, the loop.

This is where manifest entries become adapters, registry sources and model
clients, each built from plain parameters.

May import: everything below it (``tools``, ``runtime``, ``process``, ``http``,
``manifest``, ``models``, ``brainjar.adapters``, ``brainjar.registry``); not
``serve``, ``cli`` or ``testing``.
"""

from ._jar import Jar
from ._model import start_model
from ._sources import build_source, build_sources

__all__ = ["Jar", "build_source", "build_sources", "start_model"]
