"""Tests of --launcher=slurm against a real one-node Slurm on localhost.

A session-scoped fixture brings Slurm 22.05 up as shared/notes/slurm.md
describes (munge, MariaDB + slurmdbd for accounting, slurmctld, slurmd, no
systemd), installing the Debian packages first if `srun` is missing, and stops
the daemons it started at the end. It reuses a cluster that already answers.
The tests skip, saying why, only where the install itself is impossible.
"""

import csv
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import submitit

from cppn import launch

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ('munge', 'slurmctld', 'slurmd', 'slurm-client', 'slurmdbd',
            'mariadb-server')
# Daemons in start order, each with the pid file it writes.
PID_FILES = {'munged': '/run/munge/munged.pid',
             'mariadbd': '/run/mysqld/mysqld.pid',
             'slurmdbd': '/run/slurmdbd.pid',
             'slurmctld': '/run/slurmctld.pid',
             'slurmd': '/run/slurmd.pid'}

SLURM_CONF = """\
ClusterName=local
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

SLURMDBD_CONF = """\
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
"""


def sh(*command, check=True, **kwargs):
  """Runs a command; returns its CompletedProcess (text, output captured)."""
  return subprocess.run(command, check=check, capture_output=True, text=True,
                        **kwargs)


def succeeds(*command) -> bool:
  """Whether a command exits 0 (False if it is not even installed)."""
  try:
    return sh(*command, check=False, timeout=30).returncode == 0
  except FileNotFoundError:
    return False


def wait_until(condition, what, timeout=30):
  """Polls condition() every 0.2 s; fails the session setup after timeout."""
  deadline = time.time() + timeout
  while not condition():
    if time.time() > deadline:
      raise RuntimeError(f'timed out after {timeout} s waiting for {what}')
    time.sleep(0.2)


def node_is_up() -> bool:
  """Whether slurmctld answers and the node takes jobs."""
  try:
    states = sh('sinfo', '-h', '-o', '%t', check=False, timeout=10).stdout
  except FileNotFoundError:
    return False
  return any(s in ('idle', 'mix', 'alloc') for s in states.split())


def install_slurm():
  """apt-get installs the packages; skips the tests if that is impossible."""
  if os.geteuid() != 0:
    pytest.skip(f'Slurm is not installed and installing it needs root '
                f'(running as uid {os.geteuid()})')
  env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
  for command in (['apt-get', 'update', '-qq'],
                  ['apt-get', 'install', '-y', '-qq',
                   '--no-install-recommends', *PACKAGES]):
    result = sh(*command, check=False, env=env)
    if result.returncode:
      lines = (result.stderr or result.stdout).strip().splitlines()
      pytest.skip(f'cannot install Slurm: `{" ".join(command)}` exited '
                  f'{result.returncode}: {lines[-1] if lines else ""}')


def start_munge(started):
  key = pathlib.Path('/etc/munge/munge.key')
  if not key.exists() or not key.stat().st_size:
    sh('mungekey', '--create', f'--keyfile={key}')
    shutil.chown(key, 'munge', 'munge')
    key.chmod(0o400)
  sh('install', '-d', '-o', 'munge', '-g', 'munge', '-m', '755', '/run/munge')
  if not succeeds('bash', '-c', 'munge -n | unmunge'):
    sh('runuser', '-u', 'munge', '--', '/usr/sbin/munged')
    started.append('munged')


def start_mariadb(started):
  sh('install', '-d', '-o', 'mysql', '-g', 'mysql', '/run/mysqld')
  if not succeeds('mariadb-admin', 'ping'):
    with open('/var/log/mariadbd.out', 'ab') as log:
      subprocess.Popen(['/usr/sbin/mariadbd', '--user=mysql',
                        '--bind-address=127.0.0.1'], stdin=subprocess.DEVNULL,
                       stdout=log, stderr=log, start_new_session=True)
    started.append('mariadbd')
    wait_until(lambda: succeeds('mariadb-admin', 'ping'), 'MariaDB')
  sh('mariadb', '-e', "CREATE USER IF NOT EXISTS 'slurm'@'localhost' "
     "IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO "
     "'slurm'@'localhost';")


def write_slurm_configs():
  for folder in ('/etc/slurm', '/var/spool/slurmctld', '/var/spool/slurmd',
                 '/var/log/slurm'):
    os.makedirs(folder, exist_ok=True)
  with open('/proc/meminfo') as f:
    total_kb = int(f.readline().split()[1])
  pathlib.Path('/etc/slurm/slurm.conf').write_text(SLURM_CONF.format(
      host=socket.gethostname().split('.')[0], cpus=os.cpu_count(),
      memory_mb=total_kb // 1024 * 8 // 10))
  dbd = pathlib.Path('/etc/slurm/slurmdbd.conf')
  dbd.write_text(SLURMDBD_CONF)
  dbd.chmod(0o600)


def start_slurm(started):
  """munge, MariaDB, slurmdbd, slurmctld, slurmd; names what it started."""
  start_munge(started)
  start_mariadb(started)
  write_slurm_configs()
  sh('/usr/sbin/slurmdbd')
  started.append('slurmdbd')
  wait_until(lambda: succeeds('sacctmgr', '-n', 'list', 'cluster'),
             'slurmdbd')
  clusters = sh('sacctmgr', '-n', '-P', 'list', 'cluster',
                'format=cluster').stdout.split()
  if 'local' not in clusters:
    sh('sacctmgr', '-i', 'add', 'cluster', 'local')
  sh('/usr/sbin/slurmctld', '-i')
  started.append('slurmctld')
  sh('/usr/sbin/slurmd')
  started.append('slurmd')
  wait_until(node_is_up, 'the Slurm node to become idle')


def is_running(pid: int) -> bool:
  """Whether a process exists and is not a zombie awaiting its parent."""
  try:
    stat = pathlib.Path(f'/proc/{pid}/stat').read_text()
  except FileNotFoundError:
    return False
  return stat.rsplit(')', 1)[1].split()[0] != 'Z'


def stop(daemons):
  """Stops daemons by their pid files, last started first, waiting for each."""
  for name in reversed(daemons):
    pid_file = pathlib.Path(PID_FILES[name])
    if not pid_file.exists():
      continue
    pid = int(pid_file.read_text())
    try:
      os.kill(pid, 15)
    except ProcessLookupError:
      continue
    wait_until(lambda: not is_running(pid), f'{name} (pid {pid}) to exit')


@pytest.fixture(scope='session')
def slurm():
  """A running one-node Slurm cluster (reused if one already answers)."""
  if node_is_up():
    yield
    return
  if shutil.which('srun') is None:
    install_slurm()
  started = []
  try:
    start_slurm(started)
    yield
  finally:
    stop(started)


def write_sweep_config(directory, members):
  """A user's sweep config (configs/test.py base) with the given members."""
  path = pathlib.Path(directory) / 'slurm_sweep.py'
  path.write_text(textwrap.dedent(f'''\
      """A sweep written by a user, run on Slurm."""
      from configs import test

      def get_config():
        return test.get_config()

      def get_sweep():
        return {members!r}
      '''))
  return path


def run_cli(config_path, workdir, *flags):
  """python -m cppn.main with --launcher=slurm; returns the CompletedProcess."""
  return subprocess.run(
      [sys.executable, '-m', 'cppn.main', f'--config={config_path}',
       f'--workdir={workdir}', '--noprogress', '--launcher=slurm',
       '--slurm_time_min=10', *flags],
      cwd=REPO, capture_output=True, text=True, timeout=600)


def submitted_job_ids(workdir):
  """Slurm job ids submitit submitted for the sweep ('7' or array task '7_0')."""
  suffix = '_submitted.pkl'
  return sorted(p.name[:-len(suffix)] for p in
                (pathlib.Path(workdir) / 'slurm').glob(f'*{suffix}'))


# Two groups: two members of 8 features (one diverges), one of 16 features.
MEMBERS = [{'encoding.num_features': 8, 'encoding.sigma': 1.0},
           {'encoding.num_features': 8, 'train.learning_rate': 1e38},
           {'encoding.num_features': 16}]


@pytest.fixture(scope='module')
def slurm_sweep(slurm, tmp_path_factory):  # pylint: disable=redefined-outer-name,unused-argument
  """A 3-member sweep run once through Slurm: (config path, workdir, result)."""
  directory = tmp_path_factory.mktemp('slurm_sweep')
  config_path = write_sweep_config(directory, MEMBERS)
  result = run_cli(config_path, directory / 'run')
  return config_path, directory / 'run', result


def test_groups_run_as_a_job_array_and_results_are_gathered(slurm_sweep):
  _, workdir, result = slurm_sweep
  assert result.returncode == 0, result.stderr
  assert '1 of 3 sweep members failed' in result.stdout
  with open(workdir / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert [row['status'] for row in rows] == ['finished', 'failed', 'finished']
  assert 'training diverged at step' in rows[1]['error']
  for row in (rows[0], rows[2]):
    summary = json.loads((workdir / row['name'] / 'summary.json').read_text())
    assert float(row['test_psnr']) == pytest.approx(summary['test_psnr'])
  # One array job, one task per group, both completed in Slurm's accounting.
  ids = submitted_job_ids(workdir)
  assert len(ids) == 2 and {i.split('_')[0] for i in ids} == {
      ids[0].split('_')[0]}
  states = sh('sacct', '-n', '-X', '-P', '-o', 'JobID,State', '-j',
              ids[0].split('_')[0]).stdout.split()
  assert sorted(states) == sorted(f'{i}|COMPLETED' for i in ids)
  # The jobs ran this same interpreter.
  submission = next((workdir / 'slurm').glob('*_submission.sh')).read_text()
  assert sys.executable in submission
  for name in ('comparison.png', 'curves.png'):
    assert (workdir / name).exists()


def test_rerun_submits_only_groups_with_unfinished_members(slurm_sweep):
  config_path, workdir, first = slurm_sweep
  assert first.returncode == 0, first.stderr
  before = submitted_job_ids(workdir)
  summaries = [workdir / name / 'summary.json'
               for name in ('num_features=8,sigma=1.0', 'num_features=16')]
  mtimes = [path.stat().st_mtime_ns for path in summaries]
  result = run_cli(config_path, workdir)
  assert result.returncode == 0, result.stderr
  assert '1 of 3 sweep members failed' in result.stdout
  # Only the group holding the diverged member (no summary) went back, and
  # in it only that member trained again.
  assert len(set(submitted_job_ids(workdir)) - set(before)) == 1
  assert [path.stat().st_mtime_ns for path in summaries] == mtimes


def test_slurm_launcher_needs_a_sweep_config(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'cppn.main', '--config=configs/test.py',
       f'--workdir={tmp_path}', '--launcher=slurm'],
      cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      'error: --launcher=slurm runs sweeps only; the config defines no '
      'get_sweep()')


class KilledJob:
  """A submitit job whose result() raises as for a job Slurm cancelled."""
  job_id = '42_1'
  paths = type('Paths', (), {'stdout': pathlib.Path('/nowhere/42_1_0_log.out')})

  def result(self):
    raise submitit.core.utils.UncompletedJobError(
        'Job 42_1 (task: 0) with path /x/42_1_0_result.pkl\n'
        'has not produced any output (state: CANCELLED by 0)')


def test_a_killed_job_marks_each_of_its_members_failed_with_the_reason():
  assert launch.job_results(KilledJob(), 2) == [
      {'error': 'slurm job 42_1 failed: has not produced any output (state: '
                'CANCELLED by 0)'}] * 2
