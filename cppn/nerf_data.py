"""Multi-view data for the simple NeRF: a generated scene, or a user's files.

A data set (`Views`) is images (n, H, W, 3) in [0, 1] on a black background,
camera-to-world poses (n, 4, 4), one focal length in pixels, and the indices
of the train / val / test views. Sources:

  synthetic_views  the project's own scene, rendered with the paper's camera
                   model: focal 555.5555 px at 400 px (scaled with the size),
                   cameras on the upper hemisphere of radius 4 looking at the
                   origin, 100 / 7 / 13 views
  load_blender     a Blender-format folder: transforms_{train,val,test}.json
                   (camera_angle_x; frames of file_path and transform_matrix)
                   and their PNGs; RGBA composited over black
  load_npz         the tiny-NeRF npz: images (n, H, W, 3 or 4), poses
                   (n, 4, 4) or (n, 3, 4), focal; split 100 / 7 / 13 in that
                   order when n = 120, else in those proportions

The scene is ray-cast exactly (no volume, no sampling): each pixel's colour
is that of the first surface its ray (rays.pixel_rays) meets, black where
it meets none. Its surfaces are a pedestal box with a fine checkerboard, a
striped sphere, a sphere with a checkered latitude/longitude pattern and a
pillar whose colour ramps with height; colours are diffuse (Lambert shading
under a fixed light, no view dependence), as the paper's model can express.
The ground-truth depth (ray parameter t of the hit, 0 where none) comes with
every view.
"""

import dataclasses
import json
import math
import pathlib

import imageio.v3 as iio
import numpy as np

from cppn import rays
from cppn.errors import CppnError

SPLITS = ('train', 'val', 'test')
PAPER_VIEWS = (100, 7, 13)  # train / val / test views
LIGHT = np.array([1.0, 0.5, 2.0]) / np.linalg.norm([1.0, 0.5, 2.0])
AMBIENT = 0.35  # the share of the colour lit from every side


@dataclasses.dataclass
class Views:
  """A multi-view data set; see the module docstring."""
  images: np.ndarray  # (n, H, W, 3) float32 in [0, 1]
  poses: np.ndarray  # (n, 4, 4) camera-to-world
  focal: float  # pixels
  splits: dict[str, np.ndarray]  # 'train', 'val', 'test' -> view indices
  depths: np.ndarray | None = None  # (n, H, W) true depth t, 0: no surface

  def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The images and poses of one split."""
    index = self.splits[name]
    return self.images[index], self.poses[index]


# --- The generated scene: hits of rays with boxes and spheres. --------------

def _sphere_hits(origins, directions, centre, radius):
  """Ray parameter t of the first hit (inf if none) and its normals."""
  offset = origins - centre
  a = np.sum(directions ** 2, -1)
  b = np.sum(offset * directions, -1)
  c = np.sum(offset ** 2, -1) - radius ** 2
  disc = b ** 2 - a * c
  with np.errstate(invalid='ignore'):
    t = (-b - np.sqrt(disc)) / a
  t = np.where((disc >= 0) & (t > 0), t, np.inf)
  points = origins + np.where(np.isfinite(t), t, 0)[..., None] * directions
  return t, (points - centre) / radius


def _box_hits(origins, directions, low, high):
  """Ray parameter t of the first hit of an axis-aligned box, and normals."""
  with np.errstate(divide='ignore', invalid='ignore'):
    t0 = (low - origins) / directions
    t1 = (high - origins) / directions
  near, far = np.minimum(t0, t1), np.maximum(t0, t1)
  near = np.where(np.isnan(near), -np.inf, near)
  far = np.where(np.isnan(far), np.inf, far)
  t_in, t_out = near.max(-1), far.min(-1)
  t = np.where((t_in <= t_out) & (t_in > 0), t_in, np.inf)
  axis = near.argmax(-1)
  normals = np.zeros_like(origins)
  sign = -np.sign(np.take_along_axis(directions, axis[..., None], -1))[..., 0]
  np.put_along_axis(normals, axis[..., None], sign[..., None], -1)
  return t, normals


def _checker(coords, cells_per_unit):
  """1 on the white cells of a 3-D checkerboard, else 0: (..., 3) -> (...)."""
  return np.floor(coords * cells_per_unit).astype(np.int64).sum(-1) % 2


def _pedestal(points, normals):
  del normals
  white = _checker(points, 4.0)[..., None]
  return white * np.array([0.95, 0.9, 0.8]) + (1 - white) * np.array(
      [0.15, 0.3, 0.6])


def _striped(points, normals):
  stripes = 0.5 + 0.5 * np.sin(normals[..., 2:3] * 14.0)
  return stripes * np.array([0.95, 0.55, 0.1]) + (1 - stripes) * np.array(
      [0.5, 0.05, 0.2])


def _lat_long(points, normals):
  del points
  latitude = np.arcsin(np.clip(normals[..., 2], -1, 1))
  longitude = np.arctan2(normals[..., 1], normals[..., 0])
  white = ((np.floor(latitude * 6 / math.pi) + np.floor(
      longitude * 8 / math.pi)) % 2)[..., None]
  return white * np.array([0.2, 0.8, 0.3]) + (1 - white) * np.array(
      [0.9, 0.9, 0.95])


def _pillar(points, normals):
  del normals
  ramp = np.clip((points[..., 2:3] + 0.6) / 1.2, 0, 1)
  return ramp * np.array([0.9, 0.2, 0.2]) + (1 - ramp) * np.array(
      [0.2, 0.2, 0.9])


# (kind, geometry, albedo as a function of hit points and unit normals)
SCENE = (
    ('box', (np.array([-1.0, -1.0, -0.9]), np.array([1.0, 1.0, -0.6])),
     _pedestal),
    ('sphere', (np.array([0.35, 0.3, 0.0]), 0.5), _striped),
    ('sphere', (np.array([-0.45, -0.35, -0.25]), 0.35), _lat_long),
    ('box', (np.array([0.3, -0.75, -0.6]), np.array([0.6, -0.45, 0.55])),
     _pillar),
)


def cast_scene(origins, directions) -> tuple[np.ndarray, np.ndarray]:
  """Colour (..., 3) and depth t (...) of the scene's first hit along rays.

  Rays that hit nothing are black with depth 0.
  """
  origins = np.asarray(origins, np.float64)
  directions = np.asarray(directions, np.float64)
  nearest = np.full(origins.shape[:-1], np.inf)
  colours = np.zeros(origins.shape)
  for kind, geometry, albedo in SCENE:
    hit = _sphere_hits if kind == 'sphere' else _box_hits
    t, normals = hit(origins, directions, *geometry)
    closer = t < nearest
    points = origins + np.where(closer, t, 0)[..., None] * directions
    shade = AMBIENT + (1 - AMBIENT) * np.clip(normals @ LIGHT, 0, None)
    colours = np.where(closer[..., None],
                       albedo(points, normals) * shade[..., None], colours)
    nearest = np.minimum(nearest, t)
  return colours.astype(np.float32), np.where(np.isfinite(nearest), nearest,
                                              0).astype(np.float32)


def render_scene(size: int, focal: float, pose) -> tuple[np.ndarray,
                                                         np.ndarray]:
  """The scene seen by a size x size camera: image (H, W, 3), depth (H, W)."""
  origins, directions = rays.pixel_rays(size, size, focal, pose)
  return cast_scene(np.asarray(origins), np.asarray(directions))


def paper_focal(size: int) -> float:
  """The paper's focal length (555.5555 px at 400 px) at another size."""
  return rays.PAPER_FOCAL * size / rays.PAPER_SIZE


def synthetic_views(size: int, num_views=PAPER_VIEWS, seed: int = 0,
                    radius: float = rays.PAPER_RADIUS) -> Views:
  """The generated scene from num_views (train, val, test) hemisphere poses.

  Args:
    size: image side in pixels (400: the paper's; the focal scales with it).
    num_views: (train, val, test) view counts.
    seed: the poses' random seed.
    radius: the cameras' distance from the origin.
  """
  if size < 1 or min(num_views) < 1:
    raise CppnError(f'synthetic views need size >= 1 and >= 1 view per '
                    f'split, got size={size}, views={tuple(num_views)}')
  poses = rays.hemisphere_poses(sum(num_views), radius, seed)
  focal = paper_focal(size)
  rendered = [render_scene(size, focal, pose) for pose in poses]
  return Views(np.stack([r[0] for r in rendered]), poses, focal,
               _consecutive_splits(num_views),
               np.stack([r[1] for r in rendered]))


def _consecutive_splits(counts) -> dict[str, np.ndarray]:
  """Index ranges of consecutive (train, val, test) counts."""
  bounds = np.cumsum([0, *counts])
  return {name: np.arange(bounds[i], bounds[i + 1])
          for i, name in enumerate(SPLITS)}


def paper_split_counts(num_views: int) -> tuple[int, int, int]:
  """(train, val, test) in the paper's 100 / 7 / 13 proportions, each >= 1."""
  if num_views < 3:
    raise CppnError(f'a NeRF data set needs >= 3 views (train, val, test), '
                    f'got {num_views}')
  test = max(1, round(num_views * PAPER_VIEWS[2] / sum(PAPER_VIEWS)))
  val = max(1, round(num_views * PAPER_VIEWS[1] / sum(PAPER_VIEWS)))
  return num_views - val - test, val, test


# --- Users' files. -----------------------------------------------------------

def _rgb_over_black(pixels: np.ndarray, name: str) -> np.ndarray:
  """uint8 or float (H, W, 3|4) -> float32 RGB in [0, 1], alpha over black."""
  if pixels.ndim != 3 or pixels.shape[-1] not in (3, 4):
    raise CppnError(f'{name}: expected (H, W, 3) or (H, W, 4) pixels, got '
                    f'shape {pixels.shape}')
  values = (pixels.astype(np.float32) / 255 if pixels.dtype == np.uint8
            else pixels.astype(np.float32))
  if values.shape[-1] == 4:
    values = values[..., :3] * values[..., 3:]
  return np.clip(values, 0, 1)


def _poses(poses, num_images: int, name: str) -> np.ndarray:
  """(n, 4, 4) poses from (n, 4, 4) or (n, 3, 4), one per image."""
  try:
    poses = np.asarray(poses, np.float64)
  except ValueError as e:  # ragged nested lists
    raise CppnError(f'{name}: poses must be (n, 4, 4) or (n, 3, 4) numbers')\
        from e
  if poses.ndim != 3 or poses.shape[1:] not in ((4, 4), (3, 4)):
    raise CppnError(f'{name}: poses must be (n, 4, 4) or (n, 3, 4), got '
                    f'shape {poses.shape}')
  if poses.shape[0] != num_images:
    raise CppnError(f'{name}: {poses.shape[0]} poses for {num_images} images;'
                    ' need one pose per image')
  if poses.shape[1] == 3:
    poses = np.concatenate([poses, np.broadcast_to(
        [[[0.0, 0.0, 0.0, 1.0]]], (num_images, 1, 4))], axis=1)
  return poses


def load_npz(path) -> Views:
  """The tiny-NeRF npz (keys images, poses, focal); see the module docstring."""
  path = pathlib.Path(path)
  try:
    with np.load(path) as archive:
      arrays = {key: archive[key] for key in ('images', 'poses', 'focal')}
  except (OSError, ValueError) as e:
    raise CppnError(f'cannot read NeRF npz {path}: {e}') from e
  except KeyError as e:
    raise CppnError(f'NeRF npz {path} lacks key {e}; it needs images, poses '
                    'and focal') from e
  images = arrays['images']
  if images.ndim != 4:
    raise CppnError(f'{path}: images must be (n, H, W, 3|4), got shape '
                    f'{images.shape}')
  images = np.stack([_rgb_over_black(image, str(path)) for image in images])
  poses = _poses(arrays['poses'], images.shape[0], str(path))
  return Views(images, poses, float(arrays['focal']),
               _consecutive_splits(paper_split_counts(images.shape[0])))


def load_blender(folder) -> Views:
  """A Blender-format folder; see the module docstring."""
  folder = pathlib.Path(folder)
  images, poses, counts, focal = [], [], [], None
  for split in SPLITS:
    transforms = folder / f'transforms_{split}.json'
    if not transforms.exists():
      raise CppnError(f'NeRF folder {folder} has no {transforms.name} (a '
                      'Blender-format folder has transforms_train.json, '
                      'transforms_val.json and transforms_test.json)')
    try:
      meta = json.loads(transforms.read_text())
      frames = meta['frames']
      split_images = [iio.imread(_frame_path(folder, f['file_path']))
                      for f in frames]
      split_poses = [f['transform_matrix'] for f in frames]
      angle = float(meta['camera_angle_x'])
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise CppnError(f'cannot read {transforms}: {e!r}') from e
    if not frames:
      raise CppnError(f'{transforms} lists no frames')
    split_images = [_rgb_over_black(i, str(transforms)) for i in split_images]
    if len({i.shape for i in split_images + images}) != 1:
      raise CppnError(f'{folder}: the images differ in size')
    width = split_images[0].shape[1]
    focal = 0.5 * width / math.tan(0.5 * angle)
    images += split_images
    poses.append(_poses(split_poses, len(split_images), str(transforms)))
    counts.append(len(split_images))
  return Views(np.stack(images), np.concatenate(poses), focal,
               _consecutive_splits(counts))


def _frame_path(folder: pathlib.Path, file_path: str) -> pathlib.Path:
  """A frame's image file: its file_path, '.png' added when it has none."""
  path = folder / file_path
  return path if path.suffix else path.with_suffix('.png')


def load_views(source: str, size: int, seed: int = 0) -> Views:
  """Views from a source: 'synthetic', a Blender folder or a tiny-NeRF npz.

  size: the side of the synthetic views (a user's files keep theirs).
  """
  if source == 'synthetic':
    return synthetic_views(size, seed=seed)
  path = pathlib.Path(source)
  if path.is_dir():
    return load_blender(path)
  if path.suffix == '.npz':
    return load_npz(path)
  raise CppnError(f'NeRF data {source!r} is neither synthetic, a folder nor '
                  'an .npz file')
