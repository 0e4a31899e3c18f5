"""Bli-atlas: integration statistics, knowledge and settlement planning for rural Norway."""

__version__ = "0.1.0"
