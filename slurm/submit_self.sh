#!/bin/bash
# Sourced by slurm/train_multinode.sh and slurm/predict.sh when they run under bash outside a
# job: submits the calling script with sbatch, its resources read from the environment (NODES
# GPUS_PER_NODE TASKS_PER_NODE CPUS_PER_TASK PARTITION ACCOUNT TIME JOB_NAME LOG_ROOT) one way
# for both scripts. Only this submitter mode sources it: inside a job Slurm runs a copy of the
# script from its spool folder, where this file is not beside it.

# submit_self SCRIPT DEFAULT_JOB_NAME DEFAULT_NODES DEFAULT_TIME
submit_self() {
    local script=$1 name=$2 nodes=$3 time=$4
    local gpus=${GPUS_PER_NODE:-4}
    local default_tasks=1 # GPUS_PER_NODE=0: CPU nodes, one task per node with all its cores
    [ "$gpus" -gt 0 ] && default_tasks=$gpus
    local log_root=${LOG_ROOT:-logs}
    mkdir -p "$log_root"
    local args=(
        --job-name="${JOB_NAME:-$name}"
        --nodes="${NODES:-$nodes}"
        --ntasks-per-node="${TASKS_PER_NODE:-$default_tasks}"
        --gpus-per-node="$gpus"
        --cpus-per-task="${CPUS_PER_TASK:-8}"
        --time="${TIME:-$time}"
        --output="$log_root/%x-%j.out"
    )
    [ -n "${PARTITION:-}" ] && args+=(--partition="$PARTITION")
    [ -n "${ACCOUNT:-}" ] && args+=(--account="$ACCOUNT")
    exec sbatch "${args[@]}" "$script"
}
