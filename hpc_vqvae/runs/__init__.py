"""Training runs as folders on disk: what the trainer writes and inference reads (``layout``)."""
