#!/bin/bash
# Multi-node DeepSpeed training of hpc-vqvae on Slurm: one task per GPU, resumable.
#
#   mkdir -p logs && sbatch slurm/train_multinode.sh                  # the defaults below
#   sbatch --nodes=8 --partition=gpu slurm/train_multinode.sh         # sbatch flags override
#   NODES=8 GPUS_PER_NODE=4 PARTITION=gpu bash slurm/train_multinode.sh   # or the environment:
#       run with bash (outside a job), the script submits itself with these resources
#
# Environment (all optional):
#   CONFIG           training config (configs/paper.yaml)
#   EXTRA            extra trainer arguments, e.g. "train.max_steps=1000 train.zero_stage=3"
#   RUN_DIR          checkpoints and metrics (runs/<job name>-<job id>: a requeued job keeps it)
#   LOG_ROOT         batch logs; one folder per job below it holds the per-rank logs (logs)
#   PYTHON           the interpreter of the environment (python)
#   NODES GPUS_PER_NODE TASKS_PER_NODE CPUS_PER_TASK PARTITION ACCOUNT TIME JOB_NAME
#                    resources, when submitted by `bash slurm/train_multinode.sh`;
#                    GPUS_PER_NODE=0 runs on CPU nodes (gloo), one task per node by default
#   MASTER_PORT      rendezvous port (derived from the job id, so two jobs on a node differ)
#
# Preemption and time limits: Slurm sends SIGUSR2 120 s before the end; every rank stops at
# the next step, all save one checkpoint together, the trainer exits with 75, and this script
# requeues the job, which resumes from that checkpoint (--resume auto) in the same MLflow run.
#
# NCCL: the defaults below suit most InfiniBand clusters. Set NCCL_SOCKET_IFNAME to the
# cluster's high-speed interface (e.g. ib0, hsn0) if NCCL picks a slow one, NCCL_IB_HCA to
# choose HCAs, and NCCL_DEBUG=INFO to see what NCCL chose.
#
#SBATCH --job-name=hpc-vqvae
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=USR2@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

if [ -z "${SLURM_JOB_ID:-}" ]; then # not in a job: submit this script with resources from env
    # shellcheck source=slurm/submit_self.sh
    source "$(dirname "$0")/submit_self.sh"
    submit_self "$0" hpc-vqvae 2 24:00:00
fi

CONFIG=${CONFIG:-configs/paper.yaml}
RUN_DIR=${RUN_DIR:-runs/${SLURM_JOB_NAME}-${SLURM_JOB_ID}}
LOG_DIR=${LOG_ROOT:-logs}/${SLURM_JOB_NAME}-${SLURM_JOB_ID}
PYTHON=${PYTHON:-python}
mkdir -p "$LOG_DIR"

MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_ADDR
export MASTER_PORT=${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 20000))}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1} # srun no longer inherits it (Slurm >= 22.11)
export TORCH_NCCL_ASYNC_ERROR_HANDLING=${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
export NCCL_IB_TIMEOUT=${NCCL_IB_TIMEOUT:-22}

echo "job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST:" \
    "$SLURM_NTASKS tasks, master $MASTER_ADDR:$MASTER_PORT, run $RUN_DIR, rank logs $LOG_DIR"

rc=0
# shellcheck disable=SC2086  # EXTRA is a list of overrides
# --wait: when one rank ends (a crash), the others get 120 s, not forever in a collective;
# not --kill-on-bad-exit, which would kill rank 0 mid-exit when the others leave with 75 first.
srun --wait=120 --open-mode=append --output="$LOG_DIR/rank-%t.log" \
    "$PYTHON" -m hpc_vqvae.train --config "$CONFIG" --run-dir "$RUN_DIR" --resume auto \
    ${EXTRA:-} || rc=$?

if [ "$rc" -eq 75 ]; then
    echo "job $SLURM_JOB_ID: checkpoint saved after SIGUSR2; requeueing"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
fi
echo "job $SLURM_JOB_ID: trainer exited with $rc"
exit "$rc"
