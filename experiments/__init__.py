"""The papers' figures and the benchmarks, run from a source checkout.

Each package here is one experiment (``mobahi2020``, ``nagarajan2023``, ...):
compute functions that return numbers and plot functions that draw them,
registered with the runner in :mod:`experiments._runner`. ``benchmarks`` holds
the timing suites. Run them with ``kernel-sd reproduce NAME|all`` and
``kernel-sd bench SUITE``, or ``python -m experiments NAME|all`` and
``python -m experiments.benchmarks SUITE`` from the checkout's root.
"""
