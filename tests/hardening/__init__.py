"""Cross-cutting guarantees (conservation, limits, faults, fuzzing, paths and plugins): they
hold for the package as a whole, so this folder does not mirror one module."""
