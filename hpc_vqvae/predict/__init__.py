"""Night-time inference: synthetic visible imagery from the IR bands of ABI scans.

``translator`` loads a run's exported generator, ``sources`` reads one archive scan or a
store's time range, ``cf`` builds the CF datasets, ``writers`` writes them atomically,
``quicklook`` draws one scan, and ``cli`` is ``python -m hpc_vqvae.predict``.
"""

from .cli import main
from .translator import Translator

__all__ = ["Translator", "main"]
