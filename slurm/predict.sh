#!/bin/bash
# Synthetic night imagery for a time range of a preprocessed store, on Slurm: every task takes
# its shards of the range and writes them into one Zarr store (or netCDF, for OUTPUT=*.nc).
#
#   CHECKPOINT=runs/paper STORE=/scratch/$USER/abi.zarr START=2019-01-01 END=2023-12-31 \
#       OUTPUT=/scratch/$USER/night.zarr sbatch --nodes=4 --partition=gpu slurm/predict.sh
#   NODES=4 GPUS_PER_NODE=4 PARTITION=gpu CHECKPOINT=... bash slurm/predict.sh   # submits itself
#
# Environment:
#   CHECKPOINT STORE START END OUTPUT   required: predict's --checkpoint --store --start --end
#                    --output (START and END inclusive, UTC)
#   BATCH_SIZE       scans per forward pass (8)
#   EXTRA            more predict arguments, e.g. "--latlon --tracking-uri http://host:5000"
#   LOG_ROOT PYTHON  as in train_multinode.sh
#   NODES GPUS_PER_NODE TASKS_PER_NODE CPUS_PER_TASK PARTITION ACCOUNT TIME JOB_NAME
#                    resources, when submitted by `bash slurm/predict.sh`; GPUS_PER_NODE=0
#                    runs on CPU nodes, one task per node with all its cores by default
#
# A job that is preempted, requeued or runs out of time leaves .OUTPUT.partial beside OUTPUT;
# resubmitting the same command (or the requeue) resumes it, skipping the shards it finished.
#
#SBATCH --job-name=hpc-vqvae-predict
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

for name in CHECKPOINT STORE START END OUTPUT; do
    if [ -z "${!name:-}" ]; then
        echo "error: slurm/predict.sh needs $name (see the head of the script)" >&2
        exit 2
    fi
done

if [ -z "${SLURM_JOB_ID:-}" ]; then # not in a job: submit this script with resources from env
    # shellcheck source=slurm/submit_self.sh
    source "$(dirname "$0")/submit_self.sh"
    submit_self "$0" hpc-vqvae-predict 1 12:00:00
fi

PYTHON=${PYTHON:-python}
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_ADDR
export MASTER_PORT=${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 20000))}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1} # srun no longer inherits it (Slurm >= 22.11)

echo "job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST:" \
    "$SLURM_NTASKS tasks, $START .. $END -> $OUTPUT"

# shellcheck disable=SC2086  # EXTRA is a list of arguments
srun --kill-on-bad-exit=1 "$PYTHON" -m hpc_vqvae.predict --checkpoint "$CHECKPOINT" \
    --store "$STORE" --start "$START" --end "$END" --output "$OUTPUT" \
    --batch-size "${BATCH_SIZE:-8}" ${EXTRA:-}
