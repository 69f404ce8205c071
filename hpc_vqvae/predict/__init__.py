"""Night-time inference: synthetic visible imagery from the IR bands of ABI scans.

``checkpoint`` finds the generator (``hpc_vqvae.model.translator`` runs it), ``sources``
reads one archive scan or a store's time range, ``cf`` builds the CF datasets, ``writers``
writes them atomically, ``quicklook`` draws one scan, ``cli`` is ``python -m
hpc_vqvae.predict``.
"""

from ..model.translator import Translator
from .cli import main

__all__ = ["Translator", "main"]
