"""The GUI-free graph model: nodes, edges, live validation."""
from .analysis import fmt_shape, node_stats
from .model import GraphError, NetGraph, NodeInfo, Problem

__all__ = ["GraphError", "NetGraph", "NodeInfo", "Problem", "fmt_shape", "node_stats"]
