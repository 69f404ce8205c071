"""hpc-vqvae: synthetic nighttime visible GOES ABI imagery from infrared, trained on HPC."""

__version__ = "0.1.0"
