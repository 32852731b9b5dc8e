"""Helpers for testing labor_econ and code built on it: the catalogue of rejected inputs.

The tiny language models for tests live with the LMs, in :mod:`labor_econ.lm.testing`.
"""
