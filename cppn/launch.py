"""Launchers: where a sweep's groups of members train.

Each launcher takes groups [(configs, workdirs), ...] and returns, per group,
what train.train_group returns (per member its summary or {'error': reason}).

  local   one group after another in this process (the default)
  slurm   one Slurm job per group, as one job array through submitit; the
          jobs run train.train_group with this same Python (sys.executable),
          their logs and pickles go to a folder of the sweep (NAME/slurm)
"""

import dataclasses
import shutil
from typing import Any

from absl import logging
import submitit

from cppn import train
from cppn.errors import CppnError

LAUNCHERS = ('local', 'slurm')


def run_local(groups, progress: bool = True) -> list[list[dict[str, Any]]]:
  """Trains the groups one after another here."""
  return [train.train_group(configs, workdirs, progress)
          for configs, workdirs in groups]


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
  """What each array job asks Slurm for."""
  partition: str | None = None  # None: the cluster's default partition
  time_min: int = 60  # wall-clock limit per job
  cpus_per_task: int = 1
  gpus_per_node: int = 0


def last_line(error: Exception) -> str:
  """The last non-blank line of an error's message (submitit's are tracebacks)."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  return lines[-1] if lines else type(error).__name__


def job_results(job: submitit.Job, num_members: int) -> list[dict[str, Any]]:
  """The job's train_group results, or one failure per member saying why."""
  try:
    return job.result()
  except (submitit.core.utils.FailedJobError,
          submitit.core.utils.UncompletedJobError) as e:
    reason = f'slurm job {job.job_id} failed: {last_line(e)}'
    logging.error('%s (log: %s)', reason, job.paths.stdout)
    return [{'error': reason}] * num_members


def run_slurm(groups, folder, options: SlurmOptions
              ) -> list[list[dict[str, Any]]]:
  """Submits one job per group as a Slurm job array, waits, gathers results.

  Raises:
    CppnError: no sbatch on PATH, or Slurm refused the submission.
  """
  if not groups:
    return []
  if shutil.which('sbatch') is None:
    raise CppnError('--launcher=slurm needs Slurm: no sbatch on PATH')
  executor = submitit.AutoExecutor(folder=folder, cluster='slurm')
  executor.update_parameters(
      name='cppn-sweep', timeout_min=options.time_min,
      cpus_per_task=options.cpus_per_task,
      gpus_per_node=options.gpus_per_node or None,
      slurm_partition=options.partition)
  configs, workdirs = zip(*groups)
  try:
    jobs = executor.map_array(train.train_group, configs, workdirs,
                              [False] * len(groups))
  except submitit.core.utils.FailedJobError as e:
    raise CppnError(f'sbatch refused the sweep: {last_line(e)}') from e
  logging.info('submitted %d Slurm job(s): %s; logs in %s', len(jobs),
               ', '.join(job.job_id for job in jobs), folder)
  return [job_results(job, len(group[0])) for job, group in zip(jobs, groups)]
