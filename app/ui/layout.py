"""Auto-layout: layered, left to right. Graphviz dot through app.export.diagram when it is
there; otherwise a longest-path layering of our own. And where new nodes go:
never on top of others (inserts make room, pastes and adds move down until free)."""
from __future__ import annotations

from app.graph.digraph import ancestors

from .node_item import BASE_HEIGHT, WIDTH

X_STEP = WIDTH + 90.0
Y_GAP = BASE_HEIGHT + 45.0
CLEARANCE = 20.0  # the least space kept between a new node and the others


def clash(a, b) -> bool:
    """Would nodes at top-left positions a and b overlap (or nearly touch)?"""
    return abs(a[0] - b[0]) < WIDTH + CLEARANCE and abs(a[1] - b[1]) < BASE_HEIGHT + CLEARANCE


def free_spot(taken, x: float, y: float) -> tuple[float, float]:
    """(x, y), or the first place below it where a node overlaps none of `taken`."""
    taken = list(taken)
    while any(clash((x, y), t) for t in taken):
        y += Y_GAP
    return (x, y)


def free_offset(taken, piece, dx: float, dy: float) -> tuple[float, float]:
    """An offset at or below (dx, dy) that puts no node of `piece` (positions) on `taken`."""
    taken = list(taken)
    while any(clash((x + dx, y + dy), t) for x, y in piece for t in taken):
        dy += Y_GAP
    return (dx, dy)


def room_for_insert(graph, new: str, src: str, dst: str) -> dict[str, tuple[float, float]]:
    """Where `new`, just put on the edge src → dst, and the nodes that make room for it go:
    one column right of src; when dst is nearer than that, dst's column and everything
    right of it (but src and what feeds it) moves right; then down until nothing overlaps."""
    g = graph.g
    pos = {n: tuple(g.nodes[n]["pos"]) for n in g.nodes if n != new}
    (ax, ay), (bx, by) = pos[src], pos[dst]
    x = ax + X_STEP
    moves: dict[str, tuple[float, float]] = {}
    if bx > ax and bx - x < X_STEP:
        shift = x + X_STEP - bx
        keep = ancestors(g, src) | {src}
        for n, (px, py) in pos.items():
            if n not in keep and px >= bx - CLEARANCE:
                moves[n] = (px + shift, py)
        y = ay
    elif bx > ax:
        y = ay + (by - ay) * (x - ax) / (bx - ax)
    else:  # an edge that runs backwards: the midpoint, moved clear
        x, y = (ax + bx) / 2, (ay + by) / 2
    pos.update(moves)
    moves[new] = free_spot(pos.values(), round(x), round(y))
    return moves


def auto_positions(graph) -> dict[str, tuple[float, float]]:
    try:
        from app.export.diagram import layout_positions  # type: ignore
    except ImportError:
        return layered_positions(graph)
    try:
        pos = layout_positions(graph)
    except Exception:  # noqa: BLE001 - dot missing or failing: our own layout still works
        return layered_positions(graph)
    return _checked(graph, pos) or layered_positions(graph)


def _checked(graph, pos) -> dict[str, tuple[float, float]] | None:
    """Graphviz's positions, if they cover every node and keep the nodes apart; None
    otherwise."""
    try:
        pos = {n: (float(pos[n][0]), float(pos[n][1])) for n in graph.g.nodes}
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if not pos:
        return {}
    pos = {n: (round(x), round(y)) for n, (x, y) in pos.items()}
    cells = sorted(pos.values())
    for i, (x, y) in enumerate(cells):  # overlapping boxes: dot's units are not ours
        for x2, y2 in cells[i + 1:]:
            if x2 - x >= WIDTH:
                break
            if abs(y2 - y) < BASE_HEIGHT:
                return None
    return pos


def layered_positions(graph) -> dict[str, tuple[float, float]]:
    g = graph.g
    order = graph.topological_order()
    layer: dict[str, int] = {}
    for n in order:
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    # keep each output's longest chain straight: pull nodes right, next to their consumers
    for n in reversed(order):
        succ = [layer[s] for s in g.successors(n)]
        if succ:
            layer[n] = max(layer[n], min(succ) - 1)
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(layer[n], []).append(n)
    y: dict[str, float] = {}
    for k in sorted(layers):
        nodes = layers[k]

        desired = sorted((_wanted_y(g, y, n, i, len(nodes)), i, n) for i, n in enumerate(nodes))
        placed: list[tuple[float, str]] = []
        for d, _, n in desired:
            v = d if not placed else max(d, placed[-1][0] + Y_GAP)
            placed.append((v, n))
        shift = sum(d for d, _, _ in desired) / len(desired) - sum(v for v, _ in placed) / len(placed)
        for v, n in placed:
            y[n] = v + shift
    x0 = min(layer.values(), default=0)
    return {n: (round((layer[n] - x0) * X_STEP), round(y[n])) for n in g.nodes}



def _wanted_y(g, y: dict[str, float], n: str, i: int, count: int) -> float:
    """Where a node would like to be: level with the mean of its inputs; a source node,
    spread around 0 in graph order."""
    ps = [y[p] for p in g.predecessors(n) if p in y]
    if ps:
        return sum(ps) / len(ps)
    return (i - (count - 1) / 2) * Y_GAP
