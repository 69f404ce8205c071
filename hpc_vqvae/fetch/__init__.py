"""Fetching ABI L1b archives from NOAA's public buckets (``noaa-goes16`` .. ``noaa-goes19``)
into the layout the preprocessing stage walks: ``plan`` decides what is wanted, ``transfer``
copies files whole or not at all, ``job`` runs it, ``python -m hpc_vqvae.fetch`` is the CLI."""
