"""Orbax checkpoints of a TrainState under `workdir/checkpoints/STEP`.

Orbax writes each checkpoint to a temporary directory and renames it when
complete, so a crash mid-save leaves the previous checkpoint intact.
"""

import pathlib

from flax.training.train_state import TrainState
import jax
import orbax.checkpoint as ocp


def checkpoint_manager(workdir) -> ocp.CheckpointManager:
  """A manager keeping the two newest checkpoints of a run."""
  options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True)
  return ocp.CheckpointManager(
      pathlib.Path(workdir).absolute() / 'checkpoints', options=options)


def save(manager: ocp.CheckpointManager, state: TrainState):
  """Saves params, optimiser state and step at step `state.step`, blocking.

  A step already saved is left as it is (the state at a step is unique).
  """
  if manager.latest_step() == int(state.step):
    return
  item = {'params': state.params, 'opt_state': state.opt_state,
          'step': state.step}
  manager.save(int(state.step), args=ocp.args.StandardSave(item), force=True)
  manager.wait_until_finished()


def restore_latest(manager: ocp.CheckpointManager,
                   state: TrainState) -> TrainState:
  """`state` with the newest checkpoint's values, or `state` if there is none."""
  step = manager.latest_step()
  if step is None:
    return state
  target = {'params': state.params, 'opt_state': state.opt_state,
            'step': state.step}
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
  item = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  return state.replace(**item)
