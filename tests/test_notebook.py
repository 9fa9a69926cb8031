"""docs/tour.ipynb: stored without outputs, and runs top to bottom."""

import pathlib

import pytest

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / 'docs' / 'tour.ipynb'


def test_the_notebook_is_stored_without_outputs():
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  code = [cell for cell in notebook.cells if cell.cell_type == 'code']
  assert code
  assert all(not cell.outputs and cell.execution_count is None
             for cell in code)


def test_the_notebook_runs_top_to_bottom():
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  # The kernel starts in the repository root, so it imports this checkout's
  # cppn and configs.
  nbclient.NotebookClient(notebook, timeout=300, kernel_name='python3',
                          resources={'metadata': {'path': str(REPO)}}
                          ).execute()
  printed = ''.join(output.get('text', '') for cell in notebook.cells
                    if cell.cell_type == 'code' for output in cell.outputs)
  for name in ('none', 'basic', 'positional', 'gaussian', 'sigma=20.0'):
    assert name in printed
  assert '(128, 128, 3)' in printed
