"""The HW3P1 autograder's checks (course contract: cat, slicing, unsqueeze, packed sequences, RNN, GRU).

``problems.PROBLEMS`` is the problem table (ids, names, points, checks; 100
points). Each check is three pure functions in the grader's split shape:
``inputs(rng)`` (NumPy data, made in the parent), ``probe(inp, student)``
(runs the student's code in the child, returns raw observations) and
``judge(inp, obs)`` (the parent: expected values from the NumPy formulas in
``formulas.py``, raising ``CheckFailure`` with the student-facing message).
Nothing here imports torch, nor mytorch except through ``student(...)`` in a probe.
"""
