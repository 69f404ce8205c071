"""Test helpers, one module per area; fixtures live in the conftest files and use these.

- ``real``: real components required or skipped, repository paths, the ABI samples, reference
  tools (the IOOS checker), free ports and host names;
- ``stores``: synthetic archives and stores built by the real stages;
- ``training``: the trainer as a user runs it;
- ``tracking``: a real MLflow server and MLflow's client;
- ``slurm``: jobs on the Slurm test cluster;
- ``readme``: the README's and docs/ commands.
"""
