"""Conformance: the C implementations of the protocol held against independent references."""
