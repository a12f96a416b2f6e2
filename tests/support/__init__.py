"""Test support code that does not depend on pytest (usable from scripts and notebooks too)."""
