"""Binary shape masks evaluated on local coordinate grids.

Every shape lives in a local frame where the object's nominal radius is 1: ``u`` points right and ``v``
points down (image convention), the object's centre is the origin and all of the shape lies within
:data:`SHAPE_EXTENT` of it. A pixel belongs to the shape when its centre does.
"""

from __future__ import annotations

import numpy as np

SHAPE_KINDS: tuple[str, ...] = (
    "disc",
    "square",
    "triangle",
    "star",
    "ring",
    "cross",
    "ellipse",
    "hexagon",
    "crescent",
    "heart",
)

SHAPE_EXTENT = 1.2
"""Every shape lies inside the square ``|u|, |v| <= SHAPE_EXTENT`` of its local frame."""

_SQUARE_HALF_SIDE = 0.82
_RING_INNER_RADIUS = 0.52
_CROSS_HALF_WIDTH = 0.3
_CROSS_HALF_LENGTH = 0.95
_ELLIPSE_MINOR_RATIO = 0.55
_CRESCENT_BITE_CENTRE = (0.45, -0.1)
_CRESCENT_BITE_RADIUS = 0.8
_STAR_INNER_RADIUS = 0.45
_HEART_SCALE = 1.25
_HEART_SHIFT = 0.1


def regular_polygon(num_vertices: int, radius: float = 1.0, start_angle: float = -np.pi / 2) -> np.ndarray:
    """Vertices ``(num_vertices, 2)`` (u, v) of a regular polygon around the origin, first vertex up."""
    angles = start_angle + 2.0 * np.pi * np.arange(num_vertices) / num_vertices
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def star_polygon(num_points: int, outer_radius: float, inner_radius: float) -> np.ndarray:
    """Vertices ``(2 * num_points, 2)`` of a star alternating outer and inner radii, first point up."""
    angles = -np.pi / 2 + np.pi * np.arange(2 * num_points) / num_points
    radii = np.where(np.arange(2 * num_points) % 2 == 0, outer_radius, inner_radius)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def inside_polygon(u: np.ndarray, v: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test.

    Args:
        u, v: point coordinates, any equal shapes.
        vertices: ``(num_vertices, 2)`` polygon corners (u, v) in order, the last joined to the first.

    Returns:
        A bool array of the shape of ``u``: whether each point is inside the polygon.
    """
    inside = np.zeros(np.broadcast(u, v).shape, dtype=bool)
    num_vertices = len(vertices)
    for index in range(num_vertices):
        u0, v0 = vertices[index]
        u1, v1 = vertices[(index + 1) % num_vertices]
        if v0 == v1:
            continue
        straddles = (v0 > v) != (v1 > v)
        # Nearly horizontal edges can overflow to +-inf; the comparison below still orders correctly.
        with np.errstate(over="ignore"):
            crossing_u = u0 + (v - v0) * (u1 - u0) / (v1 - v0)
        inside ^= straddles & (u < crossing_u)
    return inside


_TRIANGLE = regular_polygon(3)
_HEXAGON = regular_polygon(6)
_STAR = star_polygon(5, 1.0, _STAR_INNER_RADIUS)


def shape_mask(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether local points ``(u, v)`` (radius units, any equal shapes) lie inside shape ``kind``.

    Returns a bool array of the shape of ``u``. ``kind`` is one of :data:`SHAPE_KINDS`.
    """
    if kind == "disc":
        return u * u + v * v <= 1.0
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE
    if kind == "triangle":
        return inside_polygon(u, v, _TRIANGLE)
    if kind == "star":
        return inside_polygon(u, v, _STAR)
    if kind == "ring":
        squared_radius = u * u + v * v
        return (squared_radius <= 1.0) & (squared_radius >= _RING_INNER_RADIUS**2)
    if kind == "cross":
        abs_u, abs_v = np.abs(u), np.abs(v)
        vertical_bar = (abs_u <= _CROSS_HALF_WIDTH) & (abs_v <= _CROSS_HALF_LENGTH)
        horizontal_bar = (abs_v <= _CROSS_HALF_WIDTH) & (abs_u <= _CROSS_HALF_LENGTH)
        return vertical_bar | horizontal_bar
    if kind == "ellipse":
        return u * u + (v / _ELLIPSE_MINOR_RATIO) ** 2 <= 1.0
    if kind == "hexagon":
        return inside_polygon(u, v, _HEXAGON)
    if kind == "crescent":
        bite_u, bite_v = _CRESCENT_BITE_CENTRE
        in_bite = (u - bite_u) ** 2 + (v - bite_v) ** 2 <= _CRESCENT_BITE_RADIUS**2
        return (u * u + v * v <= 1.0) & ~in_bite
    if kind == "heart":
        # The classic implicit heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 with y pointing up, scaled to radius 1.
        x = _HEART_SCALE * u
        y = _HEART_SHIFT - _HEART_SCALE * v
        return (x * x + y * y - 1.0) ** 3 - x * x * y**3 <= 0.0
    raise ValueError(f"unknown shape kind {kind!r}; expected one of {', '.join(SHAPE_KINDS)}")
