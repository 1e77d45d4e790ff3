"""app/graph/digraph.py answers like networkx, which it stands in for."""
import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from app.graph import digraph
from app.graph.model import _natural_key


@st.composite
def dags(draw):
    n = draw(st.integers(1, 25))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    ids = [f"n{i}" for i in draw(st.permutations(range(n)))]
    return ids, [(ids[a], ids[b]) for a, b in edges if a < b]  # forward edges only: acyclic


@settings(max_examples=200, deadline=None, database=None)
@given(dags(), st.data())
def test_order_and_paths_equal_networkx(dag, data):
    ids, edges = dag
    ours, theirs = digraph.DiGraph(), nx.DiGraph()
    for g in (ours, theirs):
        for n in ids:
            g.add_node(n, type="x")
        for s, t in edges:
            g.add_edge(s, t, port=0)
    assert list(digraph.lexicographical_topological_sort(ours, key=_natural_key)) == list(
        nx.lexicographical_topological_sort(theirs, key=_natural_key))
    for _ in range(5):
        a, b = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
        assert digraph.has_path(ours, a, b) == nx.has_path(theirs, a, b)
    n = data.draw(st.sampled_from(ids))
    assert sorted(ours.in_edges(n, data=True)) == sorted(theirs.in_edges(n, data=True))
    assert sorted(ours.out_edges(n)) == sorted(theirs.out_edges(n))
    assert sorted(ours.edges(data=True)) == sorted(theirs.edges(data=True))
    ours.remove_node(n)
    theirs.remove_node(n)
    assert sorted(ours.edges()) == sorted(theirs.edges()) and list(ours.nodes) == list(theirs.nodes)
